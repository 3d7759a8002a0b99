package peer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// SnmpdUser is an SNMPv3 USM user of a private snmpd (security level
// authPriv). Protocols are spelled as net-snmp's tools take them ("SHA",
// "MD5"; "AES", "DES").
type SnmpdUser struct {
	Name         string
	AuthProtocol string
	AuthPassword string
	PrivProtocol string
	PrivPassword string
}

// Snmpd is a private net-snmp agent on 127.0.0.1, started by StartSnmpd.
// It answers a v2c community and two v3 users, SHA/AES and MD5/DES, all with
// random secrets. Stop it with Stop (by PID, safe twice).
type Snmpd struct {
	*Process
	Host      string
	Port      int
	Community string
	// Hosts are every address the agent listens on, Host first.
	Hosts   []string
	SHAAES  SnmpdUser
	MD5DES  SnmpdUser
	conf    string
	persist string
}

// SnmpdOptions tunes StartSnmpd. The zero value is fine.
type SnmpdOptions struct {
	// Port is the UDP port to listen on; 0 picks a free one.
	Port int
	// ExtraHosts are further loopback addresses ("127.0.0.2") the agent
	// also listens on, on the same port: several targets with distinct
	// hosts (and so resource IDs) served by one agent.
	ExtraHosts []string
}

// snmpdBin is the agent binary; Debian installs it outside a normal user's PATH.
const snmpdBin = "/usr/sbin/snmpd"

// StartSnmpd writes a config into dir and starts snmpd in the foreground on
// a free UDP port of 127.0.0.1, ignoring /etc/snmp (-C) and the MIB files
// Debian lacks (MIBS= empty), then waits until it answers a v2c get of
// sysUpTime. hrProcessorLoad has no value for the first ~60 s of its life.
func StartSnmpd(ctx context.Context, dir string, opt SnmpdOptions) (*Snmpd, error) {
	if _, err := os.Stat(snmpdBin); err != nil {
		return nil, fmt.Errorf("start snmpd: %w (%s)", err, InstallHint)
	}
	if _, err := exec.LookPath("snmpget"); err != nil {
		return nil, fmt.Errorf("start snmpd: %w (%s)", err, InstallHint)
	}
	port := opt.Port
	if port == 0 {
		p, err := FreePort("udp")
		if err != nil {
			return nil, fmt.Errorf("start snmpd: %w", err)
		}
		port = p
	}
	s := &Snmpd{
		Host:      "127.0.0.1",
		Port:      port,
		Community: "c-" + randomHex(8),
		SHAAES:    SnmpdUser{Name: "altsha", AuthProtocol: "SHA", AuthPassword: "a-" + randomHex(8), PrivProtocol: "AES", PrivPassword: "p-" + randomHex(8)},
		MD5DES:    SnmpdUser{Name: "altmd5", AuthProtocol: "MD5", AuthPassword: "a-" + randomHex(8), PrivProtocol: "DES", PrivPassword: "p-" + randomHex(8)},
		conf:      filepath.Join(dir, "snmpd.conf"),
		persist:   filepath.Join(dir, "persist"),
	}
	if err := os.MkdirAll(s.persist, 0o700); err != nil {
		return nil, fmt.Errorf("start snmpd: %w", err)
	}
	var b strings.Builder
	s.Hosts = append([]string{s.Host}, opt.ExtraHosts...)
	addrs := make([]string, len(s.Hosts))
	for i, h := range s.Hosts {
		if !strings.HasPrefix(h, "127.") {
			return nil, fmt.Errorf("start snmpd: %q is not a loopback address", h)
		}
		addrs[i] = fmt.Sprintf("udp:%s:%d", h, s.Port)
	}
	fmt.Fprintf(&b, "agentAddress %s\n", strings.Join(addrs, ","))
	fmt.Fprintf(&b, "rocommunity %s 127.0.0.0/8\n", s.Community)
	for _, u := range []SnmpdUser{s.SHAAES, s.MD5DES} {
		fmt.Fprintf(&b, "createUser %s %s %q %s %q\nrouser %s priv\n", u.Name, u.AuthProtocol, u.AuthPassword, u.PrivProtocol, u.PrivPassword, u.Name)
	}
	b.WriteString("includeAllDisks 10%\nsysLocation altimeter-test\nsysContact test@localhost\ndontLogTCPWrappersConnects yes\n")
	if err := os.WriteFile(s.conf, []byte(b.String()), 0o600); err != nil {
		return nil, fmt.Errorf("start snmpd: %w", err)
	}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// start runs snmpd with the config already in place and waits for it.
func (s *Snmpd) start(ctx context.Context) error {
	dir := filepath.Dir(s.conf)
	p, err := Start("snmpd", dir, []string{"MIBS=", "SNMP_PERSISTENT_DIR=" + s.persist},
		snmpdBin, "-f", "-C", "-c", s.conf, "-Lf", filepath.Join(dir, "snmpd.agent.log"),
		"-p", filepath.Join(dir, "snmpd.pid"))
	if err != nil {
		return err
	}
	s.Process = p
	if err := p.WaitFor(ctx, 15*time.Second, func(ctx context.Context) error {
		_, err := s.Get(ctx, s.V2cArgs(), "1.3.6.1.2.1.1.3.0")
		return err
	}); err != nil {
		p.Stop()
		return fmt.Errorf("start snmpd: %w", err)
	}
	return nil
}

// Restart stops the agent (by PID) and starts it again on the same port with
// the same config and persistent state.
func (s *Snmpd) Restart(ctx context.Context) error {
	s.Stop()
	return s.start(ctx)
}

// Addr is host:port of the agent.
func (s *Snmpd) Addr() string { return s.Host + ":" + strconv.Itoa(s.Port) }

// PortString is the port as text, for URLs.
func (s *Snmpd) PortString() string { return strconv.Itoa(s.Port) }

// V2cArgs are the net-snmp tool arguments for the v2c community.
func (s *Snmpd) V2cArgs() []string { return []string{"-v2c", "-c", s.Community} }

// V3Args are the net-snmp tool arguments for user u at authPriv.
func (s *Snmpd) V3Args(u SnmpdUser) []string {
	return []string{"-v3", "-l", "authPriv", "-u", u.Name, "-a", u.AuthProtocol, "-A", u.AuthPassword, "-x", u.PrivProtocol, "-X", u.PrivPassword}
}

// Get runs snmpget with auth (V2cArgs or V3Args) for oids and returns its
// numeric output lines ("OID = TYPE: value").
func (s *Snmpd) Get(ctx context.Context, auth []string, oids ...string) ([]string, error) {
	return s.tool(ctx, "snmpget", auth, oids...)
}

// Walk runs snmpwalk with auth (V2cArgs or V3Args) under root.
func (s *Snmpd) Walk(ctx context.Context, auth []string, root string) ([]string, error) {
	return s.tool(ctx, "snmpwalk", auth, root)
}

func (s *Snmpd) tool(ctx context.Context, name string, auth []string, oids ...string) ([]string, error) {
	args := append([]string{"-On", "-Oe", "-t", "1", "-r", "1"}, auth...)
	args = append(args, s.Addr())
	args = append(args, oids...)
	cmd := exec.CommandContext(ctx, name, args...)
	// MIBS= : Debian lacks the standard MIBs; the persistent dir keeps the
	// tools out of /var/lib/snmp.
	cmd.Env = append(os.Environ(), "MIBS=", "SNMP_PERSISTENT_DIR="+filepath.Join(filepath.Dir(s.conf), "tools"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(oids, " "), err, strings.TrimSpace(stderr.String()))
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
