package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

var allMeters = func() []string {
	var out []string
	for _, m := range meters {
		out = append(out, m.Name)
	}
	return out
}()

var meterOfSimType = map[string]string{"Temperature": meterTemperature, "Fan": meterFan, "Voltage": meterVoltage, "Current": meterCurrent}

func startSim(t testing.TB, port int) *peer.IPMISim {
	t.Helper()
	peer.Need(t)
	sim, err := peer.StartIPMISim(context.Background(), t.TempDir(), port)
	require.NoError(t, err)
	t.Cleanup(sim.Stop)
	return sim
}

type elistRow struct {
	value float64
	unit  string
}

// elist runs `ipmitool sdr elist` against the simulator and returns each
// sensor's reading and unit as ipmitool prints them.
func elist(t *testing.T, sim *peer.IPMISim) map[string]elistRow {
	t.Helper()
	out, err := sim.Ipmitool(context.Background(), "sdr", "elist")
	require.NoError(t, err)
	rows := map[string]elistRow{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) != 5 {
			continue
		}
		val, unit, ok := strings.Cut(strings.TrimSpace(f[4]), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		require.NoError(t, err, "ipmitool line %q", sc.Text())
		rows[strings.TrimSpace(f[0])] = elistRow{value: v, unit: unit}
	}
	require.NotEmpty(t, rows, "ipmitool sdr elist printed no readings:\n%s", out)
	return rows
}

// requireMatchesIpmitool checks that the samples carry one reading per
// sensor, equal to what ipmitool prints (it rounds to 2 decimals), with
// Ceilometer's meter, unit and resource ID.
func requireMatchesIpmitool(t *testing.T, sim *peer.IPMISim, node string, samples []sample.Sample) {
	t.Helper()
	rows := elist(t, sim)
	byRes := map[string]sample.Sample{}
	for _, s := range samples {
		if strings.HasPrefix(s.Name, "hardware.ipmi.node.") {
			continue
		}
		byRes[s.ResourceID] = s
	}
	require.Len(t, byRes, len(sim.Sensors), "one sample per sensor: %v", byRes)
	for _, x := range sim.Sensors {
		row, ok := rows[x.Name]
		require.True(t, ok, "ipmitool has no %q", x.Name)
		id := node + "-" + strings.ReplaceAll(strings.ToLower(x.Name), " ", "_")
		s, ok := byRes[id]
		require.True(t, ok, "no sample for resource %q in %v", id, byRes)
		require.Equal(t, meterOfSimType[x.Type], s.Name, id)
		require.InDelta(t, row.value, s.Volume, 0.005, "%s: ipmitool says %v %s", id, row.value, row.unit)
		// Ceilometer's parse_reading: the last word, Watts → W, Volts → V.
		wantUnit := row.unit[strings.LastIndex(row.unit, " ")+1:]
		if u, ok := map[string]string{"Volts": "V", "Watts": "W"}[wantUnit]; ok {
			wantUnit = u
		}
		require.Equal(t, wantUnit, s.Unit, id)
		require.Equal(t, sample.Gauge, s.Type)
		require.Equal(t, node, s.Metadata["node"])
		require.NotEmpty(t, s.MessageID)
	}
}

func TestIntegrationSensorsMatchIpmitool(t *testing.T) {
	sim := startSim(t, 0)
	c := sdktest.Pollster(t, spec(), "mode = \"remote\"\ntimeout = \"1s\"\nusername = \"nobody\"")
	ctx := context.Background()
	// The password is in the URL; the user there overrides username.
	res := []sample.Resource{{ID: sim.URL(), Endpoint: sim.URL()}}
	node := sim.Addr()

	r, err := c.Poll(ctx, pollster.Request{Meters: allMeters, Resources: res})
	require.NoError(t, err)
	require.Empty(t, r.Errors, "ipmi_sim has no DCMI/NM: that is no error, just no node samples")
	requireMatchesIpmitool(t, sim, node, r.Samples)
	for _, s := range r.Samples {
		require.NotContains(t, s.ResourceID, sim.Password)
		require.NotContains(t, fmt.Sprint(s.Metadata), sim.Password)
		require.False(t, strings.HasPrefix(s.Name, "hardware.ipmi.node."), "ipmi_sim has no node meters: %v", s)
	}

	// Change two readings while the simulator runs: the next poll and
	// ipmitool both show the new values.
	require.NoError(t, sim.SetSensor(ctx, 3, 123)) // 12V → 12.3 V
	require.NoError(t, sim.SetSensor(ctx, 2, 61))  // Fan 1 → 3050 RPM
	r, err = c.Poll(ctx, pollster.Request{Meters: allMeters, Resources: res})
	require.NoError(t, err)
	requireMatchesIpmitool(t, sim, node, r.Samples)
	got := map[string]float64{}
	for _, s := range r.Samples {
		got[s.ResourceID] = s.Volume
	}
	require.Equal(t, 12.3, got[node+"-12v"])
	require.Equal(t, 3050.0, got[node+"-fan_1"])

	// Only the meters asked for.
	r, err = c.Poll(ctx, pollster.Request{Meters: []string{meterFan}, Resources: res})
	require.NoError(t, err)
	require.Len(t, r.Samples, 1)
	require.Equal(t, meterFan, r.Samples[0].Name)
}

// The probes run once: DCMI answers "invalid command", and ipmi_sim's
// manufacturer is not Intel, so Node Manager is never asked.
func TestIntegrationProbeOnceAgainstIpmiSim(t *testing.T) {
	sim := startSim(t, 0)
	p := newTestIPMI(t, sdktest.Logger(t), "1s")
	res := []sample.Resource{{ID: sim.URL(), Endpoint: sim.URL()}}
	for range 4 {
		_, err := p.Poll(context.Background(), pollster.Request{Meters: allMeters, Resources: res})
		require.NoError(t, err)
	}
	c := p.Counters()
	require.Equal(t, uint64(2), c["capability_probes"], "one Node Manager and one DCMI probe in four polls: %v", c)
	require.Equal(t, uint64(2), c["capability_missing"], "%v", c)
}

func newTestIPMI(t testing.TB, log hclog.Logger, timeout string) *ipmi {
	t.Helper()
	c := defaults()
	c.Mode, c.Timeout, c.Retries, c.PasswordEnv = modeRemote, timeout, 0, ""
	p, err := newIPMI(c, log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// lockedBuffer collects log output from the polling goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func TestIntegrationUnreachableBMC(t *testing.T) {
	sim := startSim(t, 0)
	var logs lockedBuffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug})
	p := newTestIPMI(t, log, "300ms")
	ctx := context.Background()
	res := []sample.Resource{{ID: sim.URL(), Endpoint: sim.URL()}}
	node := sim.Addr()
	req := pollster.Request{Meters: []string{meterTemperature, meterFan, meterVoltage, meterCurrent}, Resources: res}

	out, err := p.Poll(ctx, req)
	require.NoError(t, err)
	require.Len(t, out, 4)

	// The BMC goes away: each poll fails for it alone, counted, logged once.
	sim.Stop()
	for i := range 3 {
		out, err = p.Poll(ctx, req)
		require.Empty(t, out)
		var re *pollster.ResourceError
		require.ErrorAs(t, err, &re, "poll %d", i)
		require.Equal(t, node, re.ResourceID)
		require.NotContains(t, err.Error(), sim.Password)
	}
	require.Equal(t, uint64(3), p.Counters()["bmc_unreachable"])
	require.Equal(t, 1, logs.count("bmc unreachable"), logs.b.String())

	// It comes back (a restarted BMC on the same port): the next poll recovers.
	sim2 := startSim(t, sim.Port)
	out, err = p.Poll(ctx, req)
	require.NoError(t, err)
	require.Len(t, out, 4)
	requireMatchesIpmitool(t, sim2, node, out)
	require.Equal(t, uint64(1), p.Counters()["bmc_recovered"])
	require.Equal(t, 1, logs.count("bmc reachable again"), logs.b.String())
	_, err = p.Poll(ctx, req)
	require.NoError(t, err)
	require.Equal(t, 1, logs.count("bmc reachable again"))
	require.NotContains(t, logs.b.String(), sim.Password)

	// A wrong password is an unreachable BMC too, and the secret is not echoed.
	bad := strings.Replace(sim2.URL(), sim2.Password, "wrong-pw-123", 1)
	_, err = p.Poll(ctx, pollster.Request{Meters: req.Meters, Resources: []sample.Resource{{ID: bad, Endpoint: bad}, res[0]}})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "wrong-pw-123")
}

// BenchmarkIntegrationPoll measures one poll of one BMC (ipmi_sim, all four
// sensors and the node meters, which ipmi_sim lacks) on a warm session:
// wall time and this process's CPU time per poll, and the simulator's.
func BenchmarkIntegrationPoll(b *testing.B) {
	sim := startSim(b, 0)
	p := newTestIPMI(b, hclog.NewNullLogger(), "2s")
	req := pollster.Request{Meters: allMeters, Resources: []sample.Resource{{ID: sim.URL(), Endpoint: sim.URL()}}}
	ctx := context.Background()
	if _, err := p.Poll(ctx, req); err != nil {
		b.Fatal(err)
	}
	cpu0, sim0 := cpuTime(b), procCPU(b, sim.PID())
	start := time.Now()
	b.ResetTimer()
	for b.Loop() {
		out, err := p.Poll(ctx, req)
		if err != nil || len(out) != 4 {
			b.Fatalf("poll: %v (%d samples)", err, len(out))
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(time.Since(start).Microseconds())/n/1000, "wall-ms/poll")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/n/1000, "cpu-ms/poll")
	b.ReportMetric(float64((procCPU(b, sim.PID())-sim0).Microseconds())/n/1000, "bmc-cpu-ms/poll")
}

// BenchmarkIntegrationIpmitool is the alternative measured for the README:
// exec'ing `ipmitool sdr elist` (what Ceilometer runs, per sensor type) for
// the same BMC, wall and CPU time of the child per run.
func BenchmarkIntegrationIpmitool(b *testing.B) {
	sim := startSim(b, 0)
	ctx := context.Background()
	child0 := childCPU(b)
	start := time.Now()
	for b.Loop() {
		if _, err := sim.Ipmitool(ctx, "sdr", "elist"); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(time.Since(start).Microseconds())/n/1000, "wall-ms/run")
	b.ReportMetric(float64((childCPU(b)-child0).Microseconds())/n/1000, "cpu-ms/run")
}

func cpuTime(tb testing.TB) time.Duration { return rusage(tb, syscall.RUSAGE_SELF) }

func childCPU(tb testing.TB) time.Duration { return rusage(tb, syscall.RUSAGE_CHILDREN) }

func rusage(tb testing.TB, who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the user+system CPU time of another process, from /proc.
func procCPU(tb testing.TB, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) start at ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
}
