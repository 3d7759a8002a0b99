package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/altimeter/altimeter/internal/backoff"
)

// sensorDef is what the SDR says about one sensor we report.
type sensorDef struct {
	number   uint8
	owner    uint8
	lun      uint8
	name     string
	meter    string
	unit     string
	format   types.SensorAnalogUnitFormat
	factors  types.ReadingFactors
	lin      types.LinearizationFunc
	decimals int
}

// meterOfSensorType maps the IPMI sensor type to Ceilometer's meter, as
// Ceilometer's `ipmitool sdr -v type <Type>` does.
var meterOfSensorType = map[types.SensorType]string{
	types.SensorTypeTemperature: meterTemperature,
	types.SensorTypeFan:         meterFan,
	types.SensorTypeVoltage:     meterVoltage,
	types.SensorTypeCurrent:     meterCurrent,
}

// ceilometerUnit is Ceilometer's parse_reading: the last word of ipmitool's
// unit ("degrees C" → "C"), with Watts → W and Volts → V.
func ceilometerUnit(u types.SensorUnit) string {
	s := u.BaseUnit.String()
	if i := strings.LastIndexByte(s, ' '); i >= 0 {
		s = s[i+1:]
	}
	switch s {
	case "Watts":
		return "W"
	case "Volts":
		return "V"
	}
	return s
}

// capState is what a probe of an optional command set (DCMI, Node Manager)
// found.
type capState uint8

const (
	capUnknown capState = iota
	capSupported
	capUnsupported
)

// capability tracks one probe: asked at most once while it answers, never
// again once the BMC says it lacks the commands, and after a growing delay
// when the probe failed for another reason (timeout, busy).
type capability struct {
	state    capState
	failures int
	next     time.Time
}

// due reports whether the probe should be (re)tried now.
func (c *capability) due(now time.Time) bool {
	return c.state == capUnknown && !now.Before(c.next)
}

// failed records a transient probe failure and schedules the next try.
func (c *capability) failed(now time.Time, lo, hi time.Duration) {
	c.failures++
	c.next = now.Add(backoff.Delay(lo, hi, c.failures))
}

// unsupportedCC are the completion codes that mean the BMC lacks a command
// (set): it is never asked again.
var unsupportedCC = map[types.CompletionCode]bool{
	types.CodeInvalidCommand:          true, // 0xC1
	types.CodeInvalidCommandForLUN:    true, // 0xC2
	types.CodeRequestDataFieldInvalid: true, // 0xCC: e.g. an unknown DCMI group extension
	types.CodeIllegalCommand:          true, // 0xCD
}

// completionCode returns the IPMI completion code of a BMC's answer, or
// false if err is not one (timeout, session or transport failure).
func completionCode(err error) (types.CompletionCode, bool) {
	var re *types.ResponseError
	if errors.As(err, &re) {
		return re.CompletionCode(), true
	}
	return 0, false
}

func isUnsupported(err error) bool {
	cc, ok := completionCode(err)
	return ok && unsupportedCC[cc]
}

// bmc is the state kept for one BMC between polls.
type bmc struct {
	t      target
	seen   time.Time // last round that polled it
	c      *client.Client
	sdrs   []sensorDef
	sdrAt  [2]time.Time // repository's last addition and erase
	loaded bool

	down    bool // last poll could not reach it
	checked bool // reachability known at least once

	nm        capability
	nmVersion uint8
	dcmi      capability
}

// connect opens a session (lanplus) or the device (local).
func (b *bmc) connect(ctx context.Context, s settings) error {
	var (
		c   *client.Client
		err error
	)
	if b.t.local {
		if c, err = client.NewOpenClient(); err != nil {
			return fmt.Errorf("open %s: %w", b.t.display, err)
		}
		c.WithTimeout(s.timeout)
		if err := c.ConnectOpen(ctx, int32(b.t.device)); err != nil {
			return fmt.Errorf("open %s: %w", b.t.display, err)
		}
	} else {
		if c, err = client.NewClient(b.t.host, b.t.port, b.t.user, b.t.password); err != nil {
			return fmt.Errorf("session with %s: %w", b.t.display, err)
		}
		c.WithTimeout(s.timeout).WithRetry(s.retries).WithCipherSuiteID(types.CipherSuiteID(s.cipherSuite))
		if err := c.Connect(ctx); err != nil {
			return fmt.Errorf("session with %s: %w", b.t.display, scrub(err, b.t.password))
		}
	}
	b.c = c
	return nil
}

// scrub removes a password from an error's text, in case a library echoes it.
func scrub(err error, pw string) error {
	if err == nil || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "REDACTED"))
}

// closeTimeout bounds the Close Session sent when a session is dropped: the
// BMC is often the reason it is dropped, and a dead one must not stall a poll.
const closeTimeout = 200 * time.Millisecond

func (b *bmc) close() {
	if b.c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		_ = b.c.Close(ctx)
		cancel()
		b.c = nil
	}
}

// do runs fn on a session, opening one if needed. A failure that is not an
// answer from the BMC (timeout, expired session) closes the session and
// retries fn once on a fresh one, so a BMC restart costs one reconnect, not a
// failed poll.
func (b *bmc) do(ctx context.Context, s settings, fn func(*client.Client) error) error {
	fresh := false
	if b.c == nil {
		if err := b.connect(ctx, s); err != nil {
			return err
		}
		fresh = true
	}
	err := fn(b.c)
	if err == nil || fresh || ctx.Err() != nil {
		if _, answered := completionCode(err); err != nil && !answered {
			b.close()
		}
		return err
	}
	if _, answered := completionCode(err); answered {
		return err
	}
	b.close()
	if err := b.connect(ctx, s); err != nil {
		return err
	}
	err = fn(b.c)
	if _, answered := completionCode(err); err != nil && !answered {
		b.close()
	}
	return err
}

// loadSDRs (re)reads the sensor records when the repository changed since
// the last read: one Get SDR Repository Info per poll, the full walk only
// on the first poll and after a change.
func (b *bmc) loadSDRs(ctx context.Context, c *client.Client) error {
	info, err := c.GetSDRRepoInfo(ctx)
	if err != nil {
		return fmt.Errorf("get sdr repository info: %w", err)
	}
	at := [2]time.Time{info.MostRecentAdditionTime, info.MostRecentEraseTime}
	if b.loaded && at == b.sdrAt {
		return nil
	}
	sdrs, err := c.GetSDRs(ctx, types.SDRRecordTypeFullSensor, types.SDRRecordTypeCompactSensor)
	if err != nil {
		return fmt.Errorf("read sdr repository: %w", err)
	}
	defs := make([]sensorDef, 0, len(sdrs))
	for _, r := range sdrs {
		var d sensorDef
		switch {
		case r.Full != nil:
			f := r.Full
			if !f.SensorEventReadingType.IsThreshold() || !f.SensorUnit.IsAnalog() {
				continue
			}
			d = sensorDef{number: uint8(f.SensorNumber), owner: uint8(f.GeneratorID.OwnerID()), lun: uint8(f.GeneratorID.LUN()),
				name: strings.TrimSpace(string(f.IDStringBytes)), format: f.SensorUnit.AnalogDataFormat,
				factors: f.ReadingFactors, lin: f.LinearizationFunc, unit: ceilometerUnit(f.SensorUnit)}
			d.meter = meterOfSensorType[f.SensorType]
			d.decimals = decimals(f.ReadingFactors)
		default:
			// Compact records carry no conversion factors: discrete sensors,
			// which Ceilometer skips too.
			continue
		}
		if d.meter == "" || d.name == "" {
			continue
		}
		defs = append(defs, d)
	}
	b.sdrs, b.sdrAt, b.loaded = defs, at, true
	return nil
}

// decimals is the number of decimal places the conversion can produce,
// used to round away binary noise (12.100000000000001 → 12.1).
func decimals(f types.ReadingFactors) int {
	return max(0, -int(f.R_Exp), -int(f.R_Exp)-int(f.B_Exp))
}

// reading is one converted sensor value.
type reading struct {
	def   sensorDef
	value float64
}

// readSensors reads every reported sensor wanted by meters, one Get Sensor
// Reading each. Sensors that are absent, unavailable or not scanning are
// skipped, as Ceilometer skips readings ipmitool cannot print.
func (b *bmc) readSensors(ctx context.Context, c *client.Client, want map[string]bool) ([]reading, error) {
	out := make([]reading, 0, len(b.sdrs))
	for _, d := range b.sdrs {
		if !want[d.meter] {
			continue
		}
		cctx := client.WithCommandContext(ctx, (&client.CommandContext{}).WithResponderAddr(d.owner).WithResponderLUN(d.lun))
		res, err := c.GetSensorReading(cctx, d.number)
		if err != nil {
			if _, answered := completionCode(err); answered {
				continue // this sensor is not there now; the others stand
			}
			return nil, fmt.Errorf("get sensor reading %q: %w", d.name, err)
		}
		if res.ReadingUnavailable || res.SensorScanningDisabled {
			continue
		}
		factors := d.factors
		if d.lin.IsNonLinear() {
			f, err := c.GetSensorReadingFactors(cctx, d.number, res.Reading)
			if err != nil {
				continue
			}
			factors = f.ReadingFactors
		}
		v := types.ConvertReading(res.Reading, d.format, factors, d.lin)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if !d.lin.IsNonLinear() {
			p := math.Pow(10, float64(d.decimals))
			v = math.Round(v*p) / p
		}
		out = append(out, reading{def: d, value: v})
	}
	return out, nil
}

// Intel Node Manager (IPMI NetFn 0x2E, Intel IANA 0x000157), as Ceilometer's
// intel_node_manager.py asks it.
const (
	netFnNM          = types.NetFn(0x2e)
	nmGetStatistics  = 0xc8
	nmGetVersion     = 0xca
	nmGetCUPSData    = 0x65
	intelIANA        = 0x000157
	nmStatPower      = 0x01
	nmStatInletTemp  = 0x02
	nmStatAirflow    = 0x04
	nmStatOutletTemp = 0x05
	nmCUPSIndex      = 0x01
	nmCUPSUtil       = 0x05
)

var intelIANABytes = []byte{0x57, 0x01, 0x00}

// probeNM finds whether the BMC runs Intel Node Manager and which version:
// not at all if it is not an Intel BMC (no NM command is sent then, as in
// Ceilometer), else Get Node Manager Version.
func (b *bmc) probeNM(ctx context.Context, c *client.Client) error {
	dev, err := c.GetDeviceID(ctx)
	if err != nil {
		return fmt.Errorf("get device id: %w", err)
	}
	if dev.ManufacturerID != intelIANA {
		b.nm.state = capUnsupported
		return nil
	}
	res, err := c.RawCommand(ctx, netFnNM, nmGetVersion, intelIANABytes, "Get Node Manager Version")
	if err != nil {
		return fmt.Errorf("get node manager version: %w", err)
	}
	if len(res.Response) < 4 || res.Response[3] == 0 {
		b.nm.state = capUnsupported
		return nil
	}
	b.nmVersion = res.Response[3]
	b.nm.state = capSupported
	return nil
}

// nmStatistic returns the current value of a Get Statistics global mode.
func nmStatistic(ctx context.Context, c *client.Client, mode byte) (float64, error) {
	res, err := c.RawCommand(ctx, netFnNM, nmGetStatistics, append(append([]byte{}, intelIANABytes...), mode, 0x00, 0x00), "Get Node Manager Statistics")
	if err != nil {
		return 0, fmt.Errorf("node manager statistics mode %#02x: %w", mode, err)
	}
	if len(res.Response) < 5 {
		return 0, fmt.Errorf("node manager statistics mode %#02x: short response (%d bytes)", mode, len(res.Response))
	}
	return float64(binary.LittleEndian.Uint16(res.Response[3:5])), nil
}

// nmCUPS returns Get CUPS Data: the index (2 bytes) or the CPU, memory and
// I/O utilization (8 bytes each).
func nmCUPS(ctx context.Context, c *client.Client, param byte) ([]float64, error) {
	res, err := c.RawCommand(ctx, netFnNM, nmGetCUPSData, append(append([]byte{}, intelIANABytes...), param), "Get CUPS Data")
	if err != nil {
		return nil, fmt.Errorf("cups data parameter %#02x: %w", param, err)
	}
	r := res.Response
	switch param {
	case nmCUPSIndex:
		if len(r) < 5 {
			return nil, fmt.Errorf("cups index: short response (%d bytes)", len(r))
		}
		return []float64{float64(binary.LittleEndian.Uint16(r[3:5]))}, nil
	default:
		if len(r) < 27 {
			return nil, fmt.Errorf("cups utilization: short response (%d bytes)", len(r))
		}
		return []float64{
			float64(binary.LittleEndian.Uint64(r[3:11])),
			float64(binary.LittleEndian.Uint64(r[11:19])),
			float64(binary.LittleEndian.Uint64(r[19:27])),
		}, nil
	}
}
