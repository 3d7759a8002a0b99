package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cli runs bin/altimeter with args in dir and returns its output and exit
// code.
func cli(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "altimeter"), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	require.NoError(t, err, string(out))
	return string(out), 0
}

// TestIntegrationPidFile: the agent holds data_dir/altimeter.pid; a second
// agent on the same data_dir is refused; `altimeter reload` and `altimeter
// stop` find the agent through it (from the config's directory, as README
// shows them); a SIGKILLed agent's stale file is taken over.
func TestIntegrationPidFile(t *testing.T) {
	skipShort(t)
	port := freePort(t)
	// data_dir relative to the config file: the CLI runs elsewhere.
	a := startAgentData(t, strings.Replace(pipeline(port, ""), `data_dir   = "{{DATA}}"`, `data_dir   = "data"`, 1), "")
	pidPath := a.path("altimeter.pid")
	b, err := os.ReadFile(pidPath)
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(a.cmd.Process.Pid)+"\n", string(b))

	t.Run("a second agent on the same data_dir is refused", func(t *testing.T) {
		out, code := cli(t, t.TempDir(), "agent", "-config", a.cfgPath, "-api-address", "127.0.0.1:0")
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "another agent holds the pid file (pid "+strconv.Itoa(a.cmd.Process.Pid)+")")
		b, err := os.ReadFile(pidPath)
		require.NoError(t, err)
		require.Equal(t, strconv.Itoa(a.cmd.Process.Pid)+"\n", string(b), "the refused agent leaves the file alone")
	})

	t.Run("reload", func(t *testing.T) {
		out, code := cli(t, t.TempDir(), "reload", "-config", a.cfgPath)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "reload requested (pid "+strconv.Itoa(a.cmd.Process.Pid)+")")
		waitFor(t, 10*time.Second, "reload", func() bool {
			return metric(a.metrics(), `altimeter_config_reloads_total{result="success"}`) == 1
		})
		out, code = cli(t, a.dir, "reload", "-data-dir", "data")
		require.Equal(t, 0, code, out)
		waitFor(t, 10*time.Second, "second reload", func() bool {
			return metric(a.metrics(), `altimeter_config_reloads_total{result="success"}`) == 2
		})
	})

	t.Run("stop waits for the exit", func(t *testing.T) {
		a.pluginPIDs()
		out, code := cli(t, t.TempDir(), "stop", "-config", a.cfgPath)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "stopped")
		select {
		case <-a.exited:
		default:
			t.Fatal("stop returned before the agent exited")
		}
		require.NoFileExists(t, pidPath)
		out, code = cli(t, t.TempDir(), "reload", "-config", a.cfgPath)
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "no agent is running")
	})

	t.Run("a SIGKILLed agent's stale pid file", func(t *testing.T) {
		a.restart()
		a.pluginPIDs()
		require.NoError(t, a.cmd.Process.Kill())
		<-a.exited
		require.FileExists(t, pidPath)
		out, code := cli(t, t.TempDir(), "stop", "-config", a.cfgPath)
		require.Equal(t, 1, code, out)
		require.Contains(t, out, "stale pid file")
		a.restart()
		b, err := os.ReadFile(pidPath)
		require.NoError(t, err)
		require.Equal(t, strconv.Itoa(a.cmd.Process.Pid)+"\n", string(b))
	})
}

const socketOnly = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}

listener "socket" "local" {
  tcp           = "127.0.0.1:%d"
  batch_timeout = "20ms"
  sinks         = ["socket"]
}

sink "socket" {
  publish "file" {
    path   = "{{DATA}}/socket.lp"
    format = "influx"
  }
}
`

func healthz(t *testing.T, api string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + api + "/healthz")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestIntegrationListenerBind: a listener that cannot bind its port fails
// the agent's start (error said once) and a reload (old graph kept); one
// that loses its port later shows failing with its error in /v2/plugins
// and /healthz, and recovers by itself.
func TestIntegrationListenerBind(t *testing.T) {
	skipShort(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	bindErr := fmt.Sprintf("listen tcp 127.0.0.1:%d: bind: address already in use", takenPort)

	t.Run("start fails", func(t *testing.T) {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "pipelines.hcl")
		r := strings.NewReplacer("{{API}}", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "{{DATA}}", filepath.Join(dir, "data"),
			"{{PLUGINS}}", filepath.Join(binDir, "plugins"))
		require.NoError(t, os.WriteFile(cfg, []byte(r.Replace(fmt.Sprintf(socketOnly, takenPort))), 0o644))
		start := time.Now()
		out, code := cli(t, dir, "agent", "-config", cfg)
		require.Equal(t, 1, code, out)
		require.Less(t, time.Since(start), 30*time.Second)
		require.Contains(t, out, "\naltimeter: start listener listener.socket.local: "+bindErr+"\n", "the error, said once")
		require.NoFileExists(t, filepath.Join(dir, "data", "altimeter.pid"))
	})

	port := freePort(t)
	a := startAgent(t, fmt.Sprintf(socketOnly, port))
	require.Equal(t, "running", a.plugins()["listener.socket.local"].State)

	t.Run("reload to a taken port is rejected", func(t *testing.T) {
		a.writeConfig(fmt.Sprintf(socketOnly, takenPort))
		out, code := cli(t, a.dir, "reload", "-config", a.cfgPath)
		require.Equal(t, 0, code, out)
		waitFor(t, 20*time.Second, "failed reload", func() bool {
			return metric(a.metrics(), `altimeter_config_reloads_total{result="failure"}`) == 1
		})
		require.Contains(t, a.log.String(), bindErr)
		// The old listener is back on its port (counted once it listens)
		// and delivers.
		require.Equal(t, "running", a.plugins()["listener.socket.local"].State)
		send(t, port, "mem,resource_id=web-1 used=1 1700000000000000000\n")
		waitFor(t, 10*time.Second, "sample through the old listener", func() bool { return countLines(t, a.path("socket.lp")) == 1 })
		code, body := healthz(t, a.api)
		require.Equal(t, http.StatusOK, code, body)
		a.writeConfig(fmt.Sprintf(socketOnly, port))
	})

	t.Run("a listener that loses its port later", func(t *testing.T) {
		p := a.plugins()["listener.socket.local"]
		require.NoError(t, syscall.Kill(p.PID, syscall.SIGKILL))
		// Take the port while the plugin restarts.
		var thief net.Listener
		waitFor(t, 5*time.Second, "port freed by the killed plugin", func() bool {
			thief, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			return err == nil
		})
		waitFor(t, 20*time.Second, "listener failing", func() bool {
			p := a.plugins()["listener.socket.local"]
			return p.State == "failing" && strings.Contains(p.LastError, "bind: address already in use")
		})
		code, body := healthz(t, a.api)
		require.Equal(t, http.StatusServiceUnavailable, code)
		require.Contains(t, body, "degraded: listener listener.socket.local: ")
		require.Contains(t, body, fmt.Sprintf("listen tcp 127.0.0.1:%d: bind: address already in use", port))

		require.NoError(t, thief.Close())
		waitFor(t, 20*time.Second, "listener recovered", func() bool {
			return a.plugins()["listener.socket.local"].State == "running"
		})
		code, body = healthz(t, a.api)
		require.Equal(t, http.StatusOK, code, body)
		send(t, port, "mem,resource_id=web-1 used=2 1700000000000000001\n")
		waitFor(t, 10*time.Second, "sample after recovery", func() bool { return countLines(t, a.path("socket.lp")) == 2 })
	})
}

// TestIntegrationSIGTERMAll: SIGTERM to the agent and every plugin at once,
// as systemd's default KillMode=control-group sends it to each process of
// the unit (plugins run in process groups of their own, so a signal to the
// agent's group would miss them), stops the agent as SIGTERM to it alone
// does: plugins wait for the host's drain instead of dying first, nothing is
// logged as an unexpected exit or a failed flush, and the sample sent just
// before is in the file.
func TestIntegrationSIGTERMAll(t *testing.T) {
	skipShort(t)
	port := freePort(t)
	a := startAgent(t, pipeline(port, ""))
	pids := a.pluginPIDs()
	require.Len(t, pids, 5)
	waitFor(t, 15*time.Second, "host samples", func() bool { return countLines(t, a.path("host.jsonl")) >= 1 })
	send(t, port, "mem,resource_id=web-1 used=2048 1700000000000000000\n")
	waitFor(t, 10*time.Second, "socket sample", func() bool { return countLines(t, a.path("socket.lp")) == 1 })

	for _, pid := range append([]int{a.cmd.Process.Pid}, pids...) {
		require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
	}
	select {
	case <-a.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not stop within 30s")
	}
	log := a.log.String()
	require.Equal(t, 0, a.cmd.ProcessState.ExitCode(), log)
	require.NotContains(t, log, "exited unexpectedly")
	require.NotContains(t, log, "flush failed")
	require.NotContains(t, log, "restarting plugin")
	require.NotContains(t, log, "signal: terminated", "no plugin died of the SIGTERM")
	require.Contains(t, log, "waiting for the host to stop it")
	require.Equal(t, 1, countLines(t, a.path("socket.lp")))
	for _, pid := range pids {
		waitFor(t, 5*time.Second, "plugin exit", func() bool { return !alive(pid) })
	}
}

// TestIntegrationSystemdUnit: the shipped unit stops the agent alone
// (KillMode=mixed), reloads through `altimeter reload`, and is a unit
// systemd accepts (systemd-analyze verify, with the built binary).
func TestIntegrationSystemdUnit(t *testing.T) {
	skipShort(t)
	b, err := os.ReadFile(filepath.Join("..", "dist", "systemd", "altimeter.service"))
	require.NoError(t, err)
	unit := string(b)
	for _, want := range []string{"\nKillMode=mixed\n", "\nExecReload=/usr/local/bin/altimeter reload -config /etc/altimeter/pipelines.hcl\n",
		"\nExecStart=/usr/local/bin/altimeter agent -config /etc/altimeter/pipelines.hcl\n"} {
		require.Contains(t, unit, want)
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	path := filepath.Join(t.TempDir(), "altimeter.service")
	require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/altimeter", filepath.Join(binDir, "altimeter"))), 0o644))
	out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
	require.NoError(t, err, string(out))
	require.Empty(t, strings.TrimSpace(string(out)))
}
