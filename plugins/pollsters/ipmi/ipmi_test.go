package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

func TestExample(t *testing.T) {
	t.Parallel()
	s := spec()
	sdktest.CheckExample(t, "example.hcl", s.Info(), s.Register())
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		{"mode", `mode = "lan"`, "Invalid value for mode"},
		{"timeout", `timeout = "soon"`, "Invalid value for timeout"},
		{"zero timeout", `timeout = "0s"`, "Invalid value for timeout"},
		{"backoff order", `probe_backoff = "10m"
probe_backoff_max = "1m"`, "Invalid value for probe_backoff_max"},
		{"cipher suite", `cipher_suite = 42`, "Invalid value for cipher_suite"},
		{"password file", `password_file = "/nonexistent/pw"`, "Invalid value for password_file"},
		{"parallel", `parallel = 0`, "Invalid value for parallel"},
		{"retries", `retries = -1`, "Invalid value for retries"},
		{"device", `device = -1`, "Invalid value for device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := spec()
			p := sdktest.Start(t, s.Info(), s.Register())
			diags := p.Configure(t, tt.src)
			require.True(t, diags.HasErrors(), "config %q was accepted", tt.src)
			require.Contains(t, diags.Error(), tt.want)
		})
	}
}

func TestParseTarget(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("from-file\nignored\n"), 0o600))
	t.Setenv("ALT_TEST_IPMI_PW", "from-env")
	base := settings{username: "cfguser", passwordEnv: "ALT_TEST_IPMI_PW"}
	withFile := base
	withFile.passwordFile = pwFile

	tests := []struct {
		name     string
		res      sample.Resource
		s        settings
		wantNode string
		wantUser string
		wantPW   string
		wantAddr string
		wantErr  string
	}{
		{name: "full url", res: sample.Resource{ID: "ipmi://admin:pw@10.0.0.5:6230", Endpoint: "ipmi://admin:pw@10.0.0.5:6230"}, s: base,
			wantNode: "10.0.0.5:6230", wantUser: "admin", wantPW: "pw", wantAddr: "10.0.0.5:6230"},
		{name: "default port", res: sample.Resource{ID: "ipmi://admin:pw@bmc-7", Endpoint: "ipmi://admin:pw@bmc-7"}, s: base,
			wantNode: "bmc-7", wantUser: "admin", wantPW: "pw", wantAddr: "bmc-7:623"},
		{name: "node param", res: sample.Resource{ID: "x", Endpoint: "ipmi://bmc-7?node=compute-7"}, s: base,
			wantNode: "compute-7", wantUser: "cfguser", wantPW: "from-env", wantAddr: "bmc-7:623"},
		{name: "discovered id", res: sample.Resource{ID: "compute-9", Endpoint: "ipmi://root@10.1.1.9"}, s: withFile,
			wantNode: "compute-9", wantUser: "root", wantPW: "from-file", wantAddr: "10.1.1.9:623"},
		{name: "ipv6", res: sample.Resource{ID: "ipmi://u:p@[::1]:700", Endpoint: "ipmi://u:p@[::1]:700"}, s: base,
			wantNode: "[::1]:700", wantUser: "u", wantPW: "p", wantAddr: "[::1]:700"},
		{name: "wrong scheme", res: sample.Resource{ID: "snmp://u:secretpw@h", Endpoint: "snmp://u:secretpw@h"}, s: base, wantErr: "is not ipmi://"},
		{name: "bad port", res: sample.Resource{ID: "ipmi://u:secretpw@h:99999", Endpoint: "ipmi://u:secretpw@h:99999"}, s: base, wantErr: "port"},
		{name: "no host", res: sample.Resource{ID: "ipmi://u:secretpw@", Endpoint: "ipmi://u:secretpw@"}, s: base, wantErr: "is not ipmi://"},
		{name: "garbage", res: sample.Resource{ID: "ipmi://u:secretpw@h:x:y/%zz", Endpoint: "ipmi://u:secretpw@h:x:y/%zz"}, s: base, wantErr: "is not ipmi://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, err := parseTarget(tt.res, tt.s)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), "secretpw")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantNode, tg.node)
			require.Equal(t, tt.wantUser, tg.user)
			require.Equal(t, tt.wantPW, tg.password)
			require.Equal(t, tt.wantAddr, tg.display)
			require.NotContains(t, tg.key, tg.password)
			require.NotContains(t, tg.node, tg.password)
		})
	}
}

func TestCeilometerNames(t *testing.T) {
	t.Parallel()
	require.Equal(t, "ps1_input_power", sensorID("PS1 Input Power"))
	for unit, want := range map[types.SensorUnitType]string{
		types.SensorUnitType_DegreesC: "C",
		types.SensorUnitType_RPM:      "RPM",
		types.SensorUnitType_Volts:    "V",
		types.SensorUnitType_Watts:    "W",
		types.SensorUnitType_Amps:     "Amps",
	} {
		require.Equal(t, want, ceilometerUnit(types.SensorUnit{BaseUnit: unit}), "unit %s", unit)
	}
	require.Equal(t, 1, decimals(types.ReadingFactors{M: 1, R_Exp: -1}))
	require.Equal(t, 0, decimals(types.ReadingFactors{M: 50}))
	require.Equal(t, 3, decimals(types.ReadingFactors{M: 1, R_Exp: -1, B_Exp: -2}))
}

func TestCapabilityBackoff(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	var c capability
	require.True(t, c.due(t0))
	c.failed(t0, time.Minute, 5*time.Minute)
	require.False(t, c.due(t0.Add(59*time.Second)))
	require.True(t, c.due(t0.Add(time.Minute)))
	var waits []time.Duration
	for range 4 {
		c.failed(t0, time.Minute, 5*time.Minute)
		waits = append(waits, c.next.Sub(t0))
	}
	require.Equal(t, []time.Duration{2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}, waits)
	c.state = capUnsupported
	require.False(t, c.due(t0.Add(time.Hour)), "an unsupported capability is never probed again")
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		err         error
		answered    bool
		unsupported bool
	}{
		{"invalid command", types.NewResponseError(types.CodeInvalidCommand, "Invalid command"), true, true},
		{"wrapped invalid command", errors.Join(errors.New("x"), types.NewResponseError(types.CodeInvalidCommand, "")), true, true},
		{"node busy", types.NewResponseError(types.CodeNodeBusy, "busy"), true, false},
		{"timeout", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, false, false},
		{"deadline", context.DeadlineExceeded, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, answered := completionCode(tt.err)
			require.Equal(t, tt.answered, answered)
			require.Equal(t, tt.unsupported, isUnsupported(tt.err))
		})
	}
}

func TestLocalModeRejectsResources(t *testing.T) {
	t.Parallel()
	p, err := newIPMI(config{Mode: modeLocal, Node: "n1", Device: 99, PasswordEnv: "X", CipherSuite: 3, Timeout: "100ms",
		ProbeBackoff: "1s", ProbeBackoffMax: "1s", Parallel: 1}, sdktest.Logger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	_, err = p.Poll(context.Background(), pollster.Request{Meters: []string{meterFan},
		Resources: []sample.Resource{{ID: "ipmi://u:secretpw@h"}}})
	var re *pollster.ResourceError
	require.ErrorAs(t, err, &re)
	require.ErrorIs(t, err, ErrNotRemote)
	require.NotContains(t, err.Error(), "secretpw")
	// /dev/ipmi99 does not exist: the local BMC is reported unreachable.
	require.Contains(t, err.Error(), "/dev/ipmi99")
	require.True(t, strings.Contains(err.Error(), `resource "n1"`), err.Error())
}
