package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
