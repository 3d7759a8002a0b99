package peer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// IPMISimSensor is one analog threshold sensor of the simulated BMC. The
// reading is Raw converted through the SDR's factors: value = M × Raw × 10^RExp.
type IPMISimSensor struct {
	Number   uint8
	Name     string // SDR ID string, as ipmitool prints it
	Type     string // sdrcomp sensor_type: Temperature, Fan, Voltage, Current
	TypeCode uint8  // IPMI sensor type code for sensor_add
	Entity   string // sdrcomp entity_id
	Unit     string // sdrcomp base_unit
	M        int
	RExp     int
	Raw      uint8
}

// DefaultIPMISimSensors are the sensors StartIPMISim gives the simulator: one
// of each type Ceilometer's IPMI pollsters read.
func DefaultIPMISimSensors() []IPMISimSensor {
	return []IPMISimSensor{
		{Number: 1, Name: "Inlet Temp", Type: "Temperature", TypeCode: 0x01, Entity: "system_board", Unit: "degrees_C", M: 1, Raw: 42},
		{Number: 2, Name: "Fan 1", Type: "Fan", TypeCode: 0x04, Entity: "system_board", Unit: "RPM", M: 50, Raw: 48},
		{Number: 3, Name: "12V", Type: "Voltage", TypeCode: 0x02, Entity: "system_board", Unit: "Volts", M: 1, RExp: -1, Raw: 120},
		{Number: 4, Name: "PS1 Input Power", Type: "Current", TypeCode: 0x03, Entity: "power_supply", Unit: "Watts", M: 2, Raw: 55},
	}
}

// IPMISim is a running OpenIPMI ipmi_sim: a BMC answering IPMI 2.0 lanplus
// on 127.0.0.1:Port (user User, password Password, cipher suite 3), with a
// console on ConsoleAddr that accepts ipmi_sim emulator commands.
type IPMISim struct {
	*Process
	Host        string
	Port        int
	User        string
	Password    string
	ConsoleAddr string
	Sensors     []IPMISimSensor
}

const ipmiSimBMC = "altsim"

// StartIPMISim writes lan.conf, sim.emu and a compiled SDR repository into
// dir, starts ipmi_sim on 127.0.0.1:port (a free UDP port when port is 0) and
// waits until ipmitool can read its SDR. Stop it with Stop (by PID); start
// another on the same port and dir to simulate a BMC restart.
func StartIPMISim(ctx context.Context, dir string, port int) (*IPMISim, error) {
	for _, bin := range []string{"ipmi_sim", "sdrcomp", "ipmitool"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("start ipmi_sim: %s: %w", bin, ErrNotInstalled)
		}
	}
	var err error
	if port == 0 {
		if port, err = FreePort("udp"); err != nil {
			return nil, fmt.Errorf("start ipmi_sim: %w", err)
		}
	}
	cport, err := FreePort("tcp")
	if err != nil {
		return nil, fmt.Errorf("start ipmi_sim: %w", err)
	}
	s := &IPMISim{
		Host: "127.0.0.1", Port: port, User: "admin", Password: "s3cret-pw",
		ConsoleAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(cport)),
		Sensors:     DefaultIPMISimSensors(),
	}
	if err := s.writeFiles(ctx, dir, cport); err != nil {
		return nil, fmt.Errorf("start ipmi_sim: %w", err)
	}
	p, err := Start("ipmi_sim", dir, nil, "ipmi_sim", "-c", filepath.Join(dir, "lan.conf"),
		"-f", filepath.Join(dir, "sim.emu"), "-s", filepath.Join(dir, "state"), "-n")
	if err != nil {
		return nil, err
	}
	s.Process = p
	err = p.WaitFor(ctx, 10*time.Second, func(ctx context.Context) error {
		_, err := s.Ipmitool(ctx, "sdr", "elist")
		return err
	})
	if err != nil {
		p.Stop()
		return nil, err
	}
	return s, nil
}

func (s *IPMISim) writeFiles(ctx context.Context, dir string, consolePort int) error {
	lan := fmt.Sprintf(`name %q
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 %d
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  console 127.0.0.1 %d
  user 2 true %q %q admin 10 none md2 md5 straight
`, ipmiSimBMC, s.Port, consolePort, s.User, s.Password)
	var emu strings.Builder
	emu.WriteString("mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nsel_enable 0x20 1000 0x0a\n")
	var sdrs strings.Builder
	sdrs.WriteString(`sdr type 18
	device_slave_address 0x20
	device_channel_number 0
	chassis true
	sel true
	sdr true
	sensor true
	entity_id system_board
	entity_instance 1
	id_string "` + ipmiSimBMC + `"
endsdr
`)
	for _, x := range s.Sensors {
		fmt.Fprintf(&emu, "sensor_add 0x20 0 %d 0x%02x 0x01\nsensor_set_value 0x20 0 %d 0x%02x 0\n", x.Number, x.TypeCode, x.Number, x.Raw)
		fmt.Fprintf(&sdrs, `sdr type 1
	sensor_owner_id 0x20
	sensor_owner_lun 0
	channel_number 0
	sensor_number %d
	entity_id %s
	entity_instance 1
	sensor_type %s
	init_scanning true
	init_sensor_type true
	default_sensor_scan_on true
	event_reading_type_code 1
	analog_data_format unsigned
	rate_unit none
	modifier_unit none
	percentage false
	base_unit %s
	modifier_unit_code unspecified
	linearization linear
	m %d
	tolerance 0
	b 0
	accuracy 1
	accuracy_exp 0
	sensor_direction input
	r_exp %d
	b_exp 0
	sensor_maximum 255
	sensor_minimum 0
	id_string %q
endsdr
`, x.Number, x.Entity, x.Type, x.Unit, x.M, x.RExp, x.Name)
	}
	emu.WriteString("mc_enable 0x20\n")
	files := map[string]string{"lan.conf": lan, "sim.emu": emu.String(), "sensors.sdrs": sdrs.String()}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	// ipmi_sim reads the persisted repository from <state>/ipmi_sim/<name>/sdr.<mc>.main;
	// -8 keeps ID strings such as "12V" in 8-bit ASCII.
	repo := filepath.Join(dir, "state", "ipmi_sim", ipmiSimBMC)
	if err := os.MkdirAll(repo, 0o755); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "sdrcomp", "-8", "-o", filepath.Join(repo, "sdr.20.main"), filepath.Join(dir, "sensors.sdrs")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("sdrcomp: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// Addr is the BMC's LAN address, host:port.
func (s *IPMISim) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// URL is the BMC as an ipmi:// resource with credentials.
func (s *IPMISim) URL() string {
	return fmt.Sprintf("ipmi://%s:%s@%s", s.User, s.Password, s.Addr())
}

// Ipmitool runs ipmitool against the simulator over lanplus (cipher suite 3,
// which ipmi_sim needs) with the password passed in the environment, and
// returns its standard output.
func (s *IPMISim) Ipmitool(ctx context.Context, args ...string) (string, error) {
	argv := append([]string{"-I", "lanplus", "-C", "3", "-N", "1", "-R", "1", "-H", s.Host, "-p", strconv.Itoa(s.Port), "-U", s.User, "-E"}, args...)
	cmd := exec.CommandContext(ctx, "ipmitool", argv...)
	cmd.Env = append(os.Environ(), "IPMI_PASSWORD="+s.Password)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("ipmitool %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), nil
}

// SetSensor changes a sensor's raw reading while the simulator runs, through
// its console (the emulator command sensor_set_value). The next Get Sensor
// Reading returns the new value.
func (s *IPMISim) SetSensor(ctx context.Context, number, raw uint8) error {
	if err := s.Console(ctx, fmt.Sprintf("sensor_set_value 0x20 0 %d 0x%02x 0", number, raw)); err != nil {
		return err
	}
	for i := range s.Sensors {
		if s.Sensors[i].Number == number {
			s.Sensors[i].Raw = raw
		}
	}
	return nil
}

// Console runs one emulator command (see ipmi_sim_cmd(5)) on the simulator's
// console and fails if the simulator answers with an error ("**...").
func (s *IPMISim) Console(ctx context.Context, command string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", s.ConsoleAddr)
	if err != nil {
		return fmt.Errorf("ipmi_sim console: %w", err)
	}
	defer func() { _ = c.Close() }()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	r := bufio.NewReader(c)
	// The console greets with telnet negotiation and a "> " prompt; after a
	// command it echoes it, prints any error, then prompts again.
	if err := readPrompt(r, nil); err != nil {
		return fmt.Errorf("ipmi_sim console: %w", err)
	}
	if _, err := c.Write([]byte(command + "\n")); err != nil {
		return fmt.Errorf("ipmi_sim console: %w", err)
	}
	var out bytes.Buffer
	if err := readPrompt(r, &out); err != nil {
		return fmt.Errorf("ipmi_sim console %q: %w", command, err)
	}
	if i := bytes.Index(out.Bytes(), []byte("**")); i >= 0 {
		return fmt.Errorf("ipmi_sim console %q: %s", command, strings.TrimSpace(out.String()[i+2:]))
	}
	return nil
}

func readPrompt(r *bufio.Reader, out *bytes.Buffer) error {
	var prev byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			return err
		}
		if prev == '>' && b == ' ' {
			return nil
		}
		if out != nil {
			out.WriteByte(b)
		}
		prev = b
	}
}

// ErrIPMISimNoSensor is returned for a sensor number the simulator lacks.
var ErrIPMISimNoSensor = errors.New("no such sensor")

// Sensor returns the sensor with this number.
func (s *IPMISim) Sensor(number uint8) (IPMISimSensor, error) {
	for _, x := range s.Sensors {
		if x.Number == number {
			return x, nil
		}
	}
	return IPMISimSensor{}, fmt.Errorf("sensor %d: %w", number, ErrIPMISimNoSensor)
}
