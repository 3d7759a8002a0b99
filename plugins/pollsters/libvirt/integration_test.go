package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
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

func time60() time.Time { return time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC) }

func allMeters() []string {
	out := make([]string, len(meters))
	for i, m := range meters {
		out[i] = m.Name
	}
	return out
}

// env is a private libvirtd with a node file of Nova-style test domains.
type env struct {
	d    *peer.Libvirtd
	node string
	doms []peer.NovaDomain
}

func startEnv(t testing.TB, doms []peer.NovaDomain) *env {
	t.Helper()
	peer.Need(t)
	dir := t.TempDir()
	d, err := peer.StartLibvirtd(context.Background(), dir)
	require.NoError(t, err)
	t.Cleanup(d.Stop)
	node := filepath.Join(dir, "node.xml")
	require.NoError(t, peer.WriteNodeXML(node, doms))
	return &env{d: d, node: node, doms: doms}
}

func (e *env) hcl() string {
	return fmt.Sprintf("uri = %q\nsocket = %q\nhost = \"compute-1\"\nconnect_timeout = \"2s\"\nreconnect_max_backoff = \"1s\"\n", e.d.TestURI(e.node), e.d.Socket)
}

func (e *env) cfg() config {
	c := spec().Defaults
	c.URI, c.Socket, c.Host, c.ConnectTimeout, c.ReconnectMaxBackoff = e.d.TestURI(e.node), e.d.Socket, "compute-1", "2s", "1s"
	return c
}

// logBuffer is an hclog sink the test can count lines in.
type logBuffer struct {
	t  testing.TB
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Log(strings.TrimSpace(string(p)))
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func index(ss []sample.Sample) map[string]sample.Sample {
	out := make(map[string]sample.Sample, len(ss))
	for _, s := range ss {
		out[s.Name+" "+s.ResourceID] = s
	}
	return out
}

// TestIntegrationPoll runs the plugin over gRPC against a real libvirtd's
// test driver: discovery from Nova metadata, identity on every sample,
// growing counters, a sane cpu rate, and a shut-off domain.
func TestIntegrationPoll(t *testing.T) {
	doms := peer.NovaDomains(5)
	doms[3].Shutoff = true
	e := startEnv(t, doms)
	c := sdktest.Pollster(t, spec(), e.hcl())
	ctx := context.Background()

	res, err := c.Discover(ctx, discoveryLocalInstances, "")
	require.NoError(t, err)
	require.Len(t, res, 5)
	byID := map[string]sample.Resource{}
	for _, r := range res {
		byID[r.ID] = r
	}
	for _, d := range doms {
		r, ok := byID[d.UUID]
		require.True(t, ok, "discovered %s", d.UUID)
		require.Equal(t, d.ProjectID, r.ProjectID)
		require.Equal(t, d.UserID, r.UserID)
		require.Equal(t, d.DisplayName, r.Metadata["display_name"])
		require.Equal(t, d.Name, r.Metadata["name"])
		require.Equal(t, d.FlavorName, r.Metadata["flavor.name"])
		require.Equal(t, strconv.Itoa(d.VCPUs), r.Metadata["flavor.vcpus"])
		require.Equal(t, strconv.Itoa(d.MemoryMB), r.Metadata["flavor.ram"])
		require.Equal(t, d.ImageID, r.Metadata["image_ref"])
		require.Equal(t, "compute-1", r.Metadata["instance_host"])
	}
	require.Equal(t, "shutdown", byID[doms[3].UUID].Metadata["state"])

	req := pollster.Request{Meters: allMeters(), Resources: res}
	r1, err := c.Poll(ctx, req)
	require.NoError(t, err)
	require.Empty(t, r1.Errors)
	s1 := index(r1.Samples)
	// The test driver derives its counters from the clock: wait until it moved.
	for t0 := time.Now(); time.Since(t0) < 50*time.Millisecond; {
		<-time.After(5 * time.Millisecond)
	}
	r2, err := c.Poll(ctx, req)
	require.NoError(t, err)
	require.Empty(t, r2.Errors)
	s2 := index(r2.Samples)

	stamps := map[string]time.Time{}
	for _, s := range r2.Samples {
		d := doms[0]
		for _, x := range doms {
			if strings.Contains(s.ResourceID, x.UUID) {
				d = x
			}
		}
		require.Contains(t, s.ResourceID, d.UUID)
		require.Equal(t, d.ProjectID, s.ProjectID, s.Name)
		require.Equal(t, d.UserID, s.UserID, s.Name)
		require.Equal(t, d.DisplayName, s.Metadata["display_name"])
		require.NotEmpty(t, s.MessageID)
		if ts, ok := stamps[d.UUID]; ok {
			require.Equal(t, ts, s.Timestamp, "one timestamp per domain per poll")
		}
		stamps[d.UUID] = s.Timestamp
	}

	for _, d := range doms {
		u := d.UUID
		if d.Shutoff {
			require.Equal(t, 5.0, s2["power.state "+u].Volume)
			require.NotContains(t, s2, "cpu "+u, "a shut-off domain has no cpu sample")
			continue
		}
		require.Equal(t, 1.0, s2["power.state "+u].Volume)
		require.Equal(t, float64(d.VCPUs), s2["vcpus "+u].Volume)
		require.Equal(t, float64(d.MemoryMB), s2["memory "+u].Volume)
		require.Contains(t, s2, "memory.usage "+u)
		require.Contains(t, s2, "memory.resident "+u)
		// Cumulative counters grow: the test driver derives them from the clock.
		for _, k := range []string{"cpu " + u, "disk.device.read.bytes " + u + "-vda", "disk.device.write.requests " + u + "-vda"} {
			require.Contains(t, s1, k)
			require.Greater(t, s2[k].Volume, s1[k].Volume, k)
			require.Equal(t, sample.Cumulative, s2[k].Type)
		}
		for _, dev := range d.Disks {
			require.Contains(t, s2, "disk.device.capacity "+u+"-"+dev)
		}
		// The rate over cpu is sane: 0 <= rate <= vcpus*100%.
		a, b := s1["cpu "+u], s2["cpu "+u]
		rate := (b.Volume - a.Volume) / float64(b.Timestamp.Sub(a.Timestamp).Nanoseconds()) * 100
		require.GreaterOrEqual(t, rate, 0.0)
		require.LessOrEqual(t, rate, float64(d.VCPUs)*100, "cpu rate %.1f%% of %d vcpus", rate, d.VCPUs)
		require.Equal(t, strconv.Itoa(d.VCPUs), b.Metadata["cpu_number"])
	}
	// vNICs: the test driver reports stats for every interface with a target dev.
	nic := doms[0].NICs[0]
	rid := doms[0].Name + "-" + doms[0].UUID + "-" + nic.Dev
	require.Contains(t, s2, "network.incoming.bytes "+rid, "vNIC resource id is <name>-<uuid>-<tap>")
	require.Equal(t, nic.MAC, s2["network.incoming.bytes "+rid].Metadata["mac"])
	require.Greater(t, s2["network.incoming.bytes "+rid].Volume, s1["network.incoming.bytes "+rid].Volume)

	// Only the requested meters and resources.
	r3, err := c.Poll(ctx, pollster.Request{Meters: []string{mVCPUs, "nope"}, Resources: []sample.Resource{byID[doms[0].UUID]}})
	require.NoError(t, err)
	require.Len(t, r3.Samples, 1)
	require.Equal(t, mVCPUs, r3.Samples[0].Name)
	require.Len(t, r3.Errors, 1)
	require.Equal(t, "nope", r3.Errors[0].Meter)
}

// TestIntegrationVanished destroys and undefines domains between discovery
// and poll (through the plugin's own connection: a node-file test driver
// keeps separate domains per connection): the destroyed one reports only
// power.state, the undefined and unknown ones are skipped without errors.
func TestIntegrationVanished(t *testing.T) {
	doms := peer.NovaDomains(4)
	e := startEnv(t, doms)
	p, err := newLibvirt(e.cfg(), sdktest.Logger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	ctx := context.Background()
	res, err := p.Discover(ctx, discoveryLocalInstances, "")
	require.NoError(t, err)
	require.Len(t, res, 4)

	l := p.conn.l
	list, _, err := l.ConnectListAllDomains(1, 3)
	require.NoError(t, err)
	byName := map[string]int{}
	for i, d := range list {
		byName[d.Name] = i
	}
	require.NoError(t, l.DomainDestroy(list[byName[doms[0].Name]]))
	gone := list[byName[doms[1].Name]]
	require.NoError(t, l.DomainDestroy(gone))
	require.NoError(t, l.DomainUndefine(gone))

	req := pollster.Request{Meters: allMeters(), Resources: append(res, sample.Resource{ID: "00000000-dead-4000-8000-000000000000"})}
	out, err := p.Poll(ctx, req)
	require.NoError(t, err, "vanished domains are no errors")
	got := index(out)
	require.Equal(t, 5.0, got["power.state "+doms[0].UUID].Volume)
	require.NotContains(t, got, "cpu "+doms[0].UUID)
	for _, s := range out {
		require.NotContains(t, s.ResourceID, doms[1].UUID)
	}
	require.Contains(t, got, "cpu "+doms[2].UUID)
	require.Contains(t, got, "cpu "+doms[3].UUID)
	require.Equal(t, uint64(2), p.Counters()["domains_vanished"])
}

// TestIntegrationRestart kills libvirtd mid-test: polls fail fast while it
// is down (one warning, counted), and recover once it is back.
func TestIntegrationRestart(t *testing.T) {
	doms := peer.NovaDomains(3)
	e := startEnv(t, doms)
	logs := &logBuffer{t: t}
	p, err := newLibvirt(e.cfg(), hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	ctx := context.Background()
	res, err := p.Discover(ctx, discoveryLocalInstances, "")
	require.NoError(t, err)
	req := pollster.Request{Meters: []string{mCPU, mPowerState}, Resources: res}
	out, err := p.Poll(ctx, req)
	require.NoError(t, err)
	require.Len(t, out, 6)

	e.d.Kill()
	for range 5 {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		out, err = p.Poll(pctx, req)
		cancel()
		require.Error(t, err)
		require.Empty(t, out)
	}
	require.Equal(t, 1, logs.count("lost the libvirt connection"), "logged once per state change")
	require.Equal(t, uint64(1), p.Counters()["disconnects"])
	require.GreaterOrEqual(t, p.Counters()["connect_failures"], uint64(1))

	require.NoError(t, e.d.Restart(ctx))
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		out, err = p.Poll(pctx, req)
		cancel()
		if err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "no recovery after restart: %v", err)
		<-tick.C
	}
	require.Len(t, out, 6)
	require.Equal(t, uint64(1), p.Counters()["reconnects"])
	require.Equal(t, 1, logs.count("reconnected to libvirt"))
}

// TestIntegrationHungDaemon: a daemon that accepts but never answers
// (SIGSTOP) cannot hold a poll past its deadline.
func TestIntegrationHungDaemon(t *testing.T) {
	e := startEnv(t, peer.NovaDomains(2))
	p, err := newLibvirt(e.cfg(), sdktest.Logger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	ctx := context.Background()
	res, err := p.Discover(ctx, discoveryLocalInstances, "")
	require.NoError(t, err)
	pid := e.d.PID()
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.Poll(pctx, pollster.Request{Meters: []string{mCPU}, Resources: res})
	require.Error(t, err)
	require.Less(t, time.Since(start), 2*time.Second)
	require.NoError(t, syscall.Kill(pid, syscall.SIGCONT))
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		out, err := p.Poll(ctx, pollster.Request{Meters: []string{mCPU}, Resources: res})
		if err == nil {
			require.Len(t, out, 2)
			break
		}
		require.True(t, time.Now().Before(deadline), "no recovery: %v", err)
		<-tick.C
	}
}

// BenchmarkIntegrationPoll500 is one full poll (every meter) of 500
// Nova-style test domains: wall time, this process's CPU (user+sys,
// getrusage) and libvirtd's CPU per poll. It calls the pollster directly:
// over the SDK's gRPC the answer (about 11 MB) exceeds gRPC's default 4 MB
// message limit, which the SDK does not raise (see README).
func BenchmarkIntegrationPoll500(b *testing.B) {
	e := startEnv(b, peer.NovaDomains(500))
	p, err := newLibvirt(e.cfg(), hclog.NewNullLogger())
	require.NoError(b, err)
	b.Cleanup(func() { _ = p.Close(context.Background()) })
	ctx := context.Background()
	res, err := p.Discover(ctx, discoveryLocalInstances, "")
	require.NoError(b, err)
	require.Len(b, res, 500)
	req := pollster.Request{Meters: allMeters(), Resources: res}
	_, err = p.Poll(ctx, req) // connect and detect bulk stats once
	require.NoError(b, err)
	var (
		wall, cpu, daemon time.Duration
		samples           int
	)
	b.ResetTimer()
	for range b.N {
		cpu0, d0 := rusage(b), procCPU(b, e.d.PID())
		t0 := time.Now()
		out, err := p.Poll(ctx, req)
		wall += time.Since(t0)
		cpu += rusage(b) - cpu0
		daemon += procCPU(b, e.d.PID()) - d0
		require.NoError(b, err)
		samples += len(out)
	}
	n := float64(b.N)
	b.ReportMetric(wall.Seconds()/n, "wall-s/poll")
	b.ReportMetric(cpu.Seconds()/n, "cpu-s/poll")
	b.ReportMetric(daemon.Seconds()/n, "libvirtd-cpu-s/poll")
	b.ReportMetric(float64(samples)/n, "samples/poll")
}

func rusage(t testing.TB) time.Duration {
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU returns a process's user+sys CPU time from /proc/<pid>/stat.
func procCPU(t testing.TB, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, err := strconv.ParseInt(f[11], 10, 64)
	require.NoError(t, err)
	st, err := strconv.ParseInt(f[12], 10, 64)
	require.NoError(t, err)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}
