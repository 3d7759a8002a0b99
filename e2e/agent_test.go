package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const pipelineTmpl = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}

pollster "host" {}

polling "host" {
  interval = "1s"
  meters   = ["hardware.memory.*", "hardware.cpu.load.*"]
  sinks    = ["host"]
}

listener "socket" "local" {
  tcp           = "127.0.0.1:%d"
  batch_timeout = "20ms"
  sinks         = ["socket"]
}

sink "host" {
  publish "file" { path = "{{DATA}}/host.jsonl" }
}

sink "socket" {
  transform "unit_conversion" {
    meters = ["mem.*"]
    scale  = "volume / 1024"
    unit   = "KB"
  }
  publish "file" {
    path   = "{{DATA}}/socket.lp"
    format = "influx"
  }
%s}
`

func pipeline(port int, extraPublish string) string {
	return fmt.Sprintf(pipelineTmpl, port, extraPublish)
}

// waitTCP waits (20 s at most) until something accepts connections on
// 127.0.0.1:port: the agent answers /healthz before its listeners bind.
func waitTCP(t *testing.T, port int, what string) {
	t.Helper()
	waitFor(t, 20*time.Second, what, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return false
		}
		return c.Close() == nil
	})
}

func send(t *testing.T, port int, lines string) {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	_, err = c.Write([]byte(lines))
	require.NoError(t, err)
	require.NoError(t, c.Close())
}

// senders write lines to a socket listener until stopped: one connection
// kept open, and a new connection for each line every 20 ms. Each line
// names its own resource.
type senders struct {
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	sent []string // resource ids written
	err  error    // the first failure
}

func startSenders(t *testing.T, port int) *senders {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	kept, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	s := &senders{done: make(chan struct{})}
	s.wg.Go(func() {
		defer kept.Close()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
			kid, did := fmt.Sprintf("kept-%d", i), fmt.Sprintf("dial-%d", i)
			_, kerr := fmt.Fprintf(kept, "reload,resource_id=%s value=%d 1700000000000000000\n", kid, i)
			derr := sendLine(addr, fmt.Sprintf("reload,resource_id=%s value=%d 1700000000000000000\n", did, i))
			s.mu.Lock()
			if kerr == nil {
				s.sent = append(s.sent, kid)
			}
			if derr == nil {
				s.sent = append(s.sent, did)
			}
			if s.err == nil {
				s.err = errors.Join(kerr, derr)
			}
			s.mu.Unlock()
		}
	})
	return s
}

// count is how many lines were written so far.
func (s *senders) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

// stop ends the senders and returns the ids of the lines written; it fails
// t if a connection was refused or a write failed.
func (s *senders) stop(t *testing.T) []string {
	t.Helper()
	close(s.done)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NoError(t, s.err)
	return s.sent
}

func sendLine(addr, line string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	_, err = c.Write([]byte(line))
	return errors.Join(err, c.Close())
}

// TestIntegrationAgent runs the agent with all four first plugins and checks,
// in order, what a user sees: plugins running, samples in the outputs, bad
// input counted on /metrics, a killed plugin restarted, reloads (bad kept
// out, good swapped in), and no plugin left after the agent is SIGKILLed.
func TestIntegrationAgent(t *testing.T) {
	skipShort(t)
	port := freePort(t)
	a := startAgent(t, pipeline(port, ""))

	ps := a.plugins()
	for _, id := range []string{"pollster.host", "listener.socket.local", "transformer.unit_conversion.socket", "publisher.file.host", "publisher.file.socket"} {
		require.Equal(t, "running", ps[id].State, id)
		require.Positive(t, ps[id].PID, id)
	}
	require.Contains(t, ps["pollster.host"].Meters, "hardware.memory.total")

	t.Run("host samples reach the file", func(t *testing.T) {
		waitFor(t, 15*time.Second, "host samples", func() bool { return countLines(t, a.path("host.jsonl")) >= 6 })
		b, err := os.ReadFile(a.path("host.jsonl"))
		require.NoError(t, err)
		require.Contains(t, string(b), `"counter_name":"hardware.memory.total"`)
		require.NotContains(t, string(b), "hardware.network", "meters outside the polling block's patterns are not polled")
	})

	t.Run("socket samples are converted and bad lines counted", func(t *testing.T) {
		waitTCP(t, port, "socket listener bound")
		send(t, port, "mem,resource_id=web-1 used=2048 1700000000000000000\nthis is not line protocol\ncpu,resource_id=web-1 usage=12.5 1700000000000000000\n")
		waitFor(t, 10*time.Second, "socket samples", func() bool { return countLines(t, a.path("socket.lp")) >= 2 })
		b, err := os.ReadFile(a.path("socket.lp"))
		require.NoError(t, err)
		require.Contains(t, string(b), "mem.used,resource_id=web-1,type=gauge,unit=KB value=2 1700000000000000000")
		require.Contains(t, string(b), "cpu.usage,resource_id=web-1,type=gauge value=12.5 1700000000000000000")
		m := a.metrics()
		require.Equal(t, 1.0, metric(m, `altimeter_plugin_events_total{event="bad_lines",plugin="listener.socket.local"}`))
		require.Equal(t, 2.0, metric(m, `altimeter_listener_deliveries_total{listener="listener.socket.local",outcome="accepted"}`)+
			metric(m, `altimeter_source_samples_total{source="listener.socket.local"}`)-1)
	})

	t.Run("metrics are valid Prometheus exposition", func(t *testing.T) {
		promtool, err := exec.LookPath("promtool")
		require.NoError(t, err, "promtool is needed (install with: make peers)")
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(a.metrics())
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
	})

	t.Run("kill -9 of a plugin: restarted and the pipeline goes on", func(t *testing.T) {
		old := a.plugins()["publisher.file.host"]
		require.NoError(t, syscall.Kill(old.PID, syscall.SIGKILL))
		start := time.Now()
		waitFor(t, 5*time.Second, "restart", func() bool {
			p := a.plugins()["publisher.file.host"]
			return p.State == "running" && p.PID != old.PID && p.Restarts == 1
		})
		t.Logf("plugin back after %s", time.Since(start).Round(time.Millisecond))
		n := countLines(t, a.path("host.jsonl"))
		waitFor(t, 10*time.Second, "samples after the restart", func() bool { return countLines(t, a.path("host.jsonl")) > n })
		require.True(t, strings.Contains(a.log.String(), "plugin process exited unexpectedly"), "the agent logs the exit")
	})

	t.Run("bad reload keeps the running pipelines", func(t *testing.T) {
		before := a.plugins()
		a.writeConfig(pipeline(port, `  publish "file" { pth = "typo" }`+"\n"))
		require.NoError(t, a.cmd.Process.Signal(syscall.SIGHUP))
		waitFor(t, 10*time.Second, "failed reload", func() bool {
			return metric(a.metrics(), `altimeter_config_reloads_total{result="failure"}`) == 1
		})
		require.True(t, strings.Contains(a.log.String(), `pipelines.hcl:36:20: Unsupported argument`),
			"the reload's diagnostic names file:line:col")
		after := a.plugins()
		for id, p := range before {
			require.Equal(t, p.PID, after[id].PID, "%s must not be restarted by a failed reload", id)
		}
	})

	t.Run("good reload swaps in the new graph and loses no sender", func(t *testing.T) {
		before := a.plugins()
		// Senders keep writing through the reload: one connection open
		// across it, and a new connection every 20 ms. The socket
		// listener keeps its port bound and its connections open while
		// the host swaps graphs, so none is refused and no line is lost.
		s := startSenders(t, port)
		a.writeConfig(pipeline(port, `  publish "file" {
    path   = "{{DATA}}/copy.lp"
    format = "influx"
  }
`))
		require.NoError(t, a.cmd.Process.Signal(syscall.SIGHUP))
		waitFor(t, 20*time.Second, "the reload", func() bool {
			return metric(a.metrics(), `altimeter_config_reloads_total{result="success"}`) == 1
		})
		require.Equal(t, "running", a.plugins()["publisher.file.socket.2"].State)
		after := a.plugins()
		require.Equal(t, before["pollster.host"].PID, after["pollster.host"].PID, "unchanged plugins are kept")
		require.Equal(t, before["listener.socket.local"].PID, after["listener.socket.local"].PID, "unchanged plugins are kept")
		n := s.count()
		waitFor(t, 10*time.Second, "lines sent after the reload", func() bool { return s.count() >= n+6 })
		sent := s.stop(t)
		waitFor(t, 20*time.Second, "every line sent through the reload", func() bool {
			b, err := os.ReadFile(a.path("socket.lp"))
			require.NoError(t, err)
			for _, id := range sent {
				if !strings.Contains(string(b), "resource_id="+id+",") {
					return false
				}
			}
			return true
		})
		send(t, port, "mem,resource_id=web-2 used=4096 1700000000000000000\n")
		waitFor(t, 10*time.Second, "sample in the new publisher", func() bool {
			b, err := os.ReadFile(a.path("copy.lp"))
			return err == nil && strings.Contains(string(b), "mem.used,resource_id=web-2,")
		})
	})

	t.Run("kill -9 of the agent leaves no plugin behind", func(t *testing.T) {
		pids := a.pluginPIDs()
		require.Len(t, pids, 6)
		require.NoError(t, a.cmd.Process.Kill())
		<-a.exited
		waitFor(t, 5*time.Second, "plugins to exit", func() bool {
			for _, pid := range pids {
				if alive(pid) {
					return false
				}
			}
			return true
		})
	})
}

// TestIntegrationCrashLoop: a plugin that always exits ends failed with its
// last stderr lines; the agent and the other plugins stay up.
func TestIntegrationCrashLoop(t *testing.T) {
	skipShort(t)
	a := startAgent(t, `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}
pollster "host" {}
polling "host" {
  interval = "1s"
  meters   = ["hardware.cpu.load.*"]
  sinks    = ["s"]
}
sink "s" {
  publish "crashy" { after = "100ms" }
  publish "file" { path = "{{DATA}}/out.jsonl" }
}
`)
	waitFor(t, 60*time.Second, "crash loop to give up", func() bool {
		return a.plugins()["publisher.crashy.s"].State == "failed"
	})
	p := a.plugins()["publisher.crashy.s"]
	require.Contains(t, p.LastError, "crash loop")
	require.Contains(t, p.LastError, "disk on fire")
	require.Equal(t, "running", a.plugins()["publisher.file.s"].State)
	n := countLines(t, a.path("out.jsonl"))
	waitFor(t, 10*time.Second, "the healthy publisher to go on", func() bool { return countLines(t, a.path("out.jsonl")) > n })
}
