package pluginmgr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/sysmon"
	"github.com/altimeter/altimeter/sdk/base"
)

func TestScanDescribe(t *testing.T) {
	t.Parallel()
	dir := pluginDir(t, "altimeter-publisher-echo", "altimeter-pollster-echo")
	write := func(name, body string, mode os.FileMode) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), mode))
	}
	write("altimeter-publisher-notaplugin", "#!/bin/sh\necho hello\n", 0o755)
	write("altimeter-publisher-noexec", "#!/bin/sh\n", 0o644)
	write("altimeter-gadget-x", "#!/bin/sh\n", 0o755)
	write("helper.sh", "#!/bin/sh\necho hello\n", 0o755)
	write("README.md", "plugins go here\n", 0o644)
	write("altimeter", "#!/bin/sh\n", 0o755)

	m := newManager(t, Options{Dir: dir})
	_, err := m.Describe(t.Context(), base.Publisher, "echo")
	require.ErrorIs(t, err, ErrPluginNotFound, "before Scan")

	bins, errs := m.Scan(t.Context())
	require.Len(t, bins, 1)
	b := bins[0]
	require.Equal(t, base.Publisher, b.Kind)
	require.Equal(t, "echo", b.Name)
	require.Equal(t, filepath.Join(dir, "altimeter-publisher-echo"), b.Path)
	require.Len(t, b.SHA256, 64)
	require.Equal(t, "1.2.3", b.Info.Version)

	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	joined := strings.Join(msgs, "\n")
	require.Len(t, errs, 4, joined)
	for _, want := range []string{
		"altimeter-publisher-notaplugin: not an altimeter plugin",
		"altimeter-publisher-noexec: not executable",
		`altimeter-gadget-x: unknown plugin kind "gadget"`,
		`altimeter-pollster-echo: file name says pollster "echo" but the plugin describes itself as publisher "echo"`,
	} {
		require.Contains(t, joined, want)
	}

	info, err := m.Describe(t.Context(), base.Publisher, "echo")
	require.NoError(t, err)
	require.Equal(t, "echo", info.Name)
	require.Equal(t, uint32(1), info.ProtocolVersion)
	require.NotNil(t, info.Schema)

	_, err = m.Describe(t.Context(), base.Publisher, "kafka")
	require.ErrorIs(t, err, ErrPluginNotFound)
	require.Contains(t, err.Error(), `publisher "kafka": plugin not found (have [echo] in `)
	_, err = m.Describe(t.Context(), base.Listener, "amqp")
	require.ErrorIs(t, err, ErrPluginNotFound)
	require.Contains(t, err.Error(), "no listener plugins")
	// A binary named for the plugin but ignored: the error says why.
	for name, why := range map[string]string{
		"notaplugin": "altimeter-publisher-notaplugin: not an altimeter plugin",
		"noexec":     "altimeter-publisher-noexec: not executable",
	} {
		_, err = m.Describe(t.Context(), base.Publisher, name)
		require.ErrorIs(t, err, ErrPluginNotFound, name)
		require.Contains(t, err.Error(), "its binary was ignored: plugin "+dir, name)
		require.Contains(t, err.Error(), why, name)
	}
	_, err = m.Describe(t.Context(), base.Pollster, "echo")
	require.ErrorIs(t, err, ErrPluginNotFound)
	require.Contains(t, err.Error(), `its binary was ignored: plugin `+filepath.Join(dir, "altimeter-pollster-echo")+`: file name says pollster "echo" but the plugin describes itself as publisher "echo"`)

	// The second Scan is served from the cache, bad binaries included.
	start := time.Now()
	again, errs2 := m.Scan(t.Context())
	require.Equal(t, errs, errs2)
	require.Len(t, again, 1)
	require.Same(t, b, again[0])
	t.Logf("cached rescan took %s", time.Since(start))
}

func TestLaunchPublishStop(t *testing.T) {
	t.Parallel()
	m := newManager(t, Options{Dir: pluginDir(t, "altimeter-publisher-echo")})
	scan(t, m)
	start := time.Now()
	i := launch(t, m, "publisher.echo.host", "echo", `{}`)
	t.Logf("launch took %s", time.Since(start))

	st := i.Status()
	require.Equal(t, StateRunning, st.State)
	require.Equal(t, "publisher.echo.host", st.ID)
	require.Equal(t, "publisher", st.Kind)
	require.Equal(t, "echo", st.Name)
	require.Equal(t, "1.2.3", st.Version)
	require.Positive(t, st.PID)
	require.True(t, alive(st.PID))
	require.Equal(t, uint64(1), i.Generation())
	require.Equal(t, []*Instance{i}, m.Instances())
	if env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", st.PID)); err == nil {
		// The plugin's Go runtime settings: the defaults unless the
		// agent's environment sets them.
		want := func(key, def string) string {
			if v, ok := os.LookupEnv(key); ok {
				return key + "=" + v
			}
			return key + "=" + def
		}
		vars := strings.Split(string(env), "\x00")
		require.Contains(t, vars, want("GOGC", "400"))
		require.Contains(t, vars, want("GOMEMLIMIT", "64MiB"))
		require.Contains(t, vars, want("GODEBUG", sysmon.Setting))
	}

	mustPublish(t, i)
	mustPublish(t, i)

	_, err := m.Launch(t.Context(), "publisher.echo.host", base.Publisher, "echo", nil)
	require.ErrorIs(t, err, ErrDuplicateInstance)
	_, err = m.Launch(t.Context(), "publisher.kafka.host", base.Publisher, "kafka", nil)
	require.ErrorIs(t, err, ErrPluginNotFound)

	changed := i.Changed()
	require.NoError(t, i.Stop(t.Context()))
	require.NoError(t, i.Stop(t.Context()), "idempotent")
	<-changed
	require.False(t, alive(st.PID), "process gone after Stop")
	require.Equal(t, StateStopped, i.Status().State)
	_, err = i.Conn(t.Context())
	require.ErrorIs(t, err, ErrStopped)
	require.Empty(t, m.Instances())

	// The ID is free again.
	launch(t, m, "publisher.echo.host", "echo", `{}`)
}

func TestKillRestarts(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	m := newManager(t, Options{Dir: pluginDir(t, "altimeter-publisher-echo"), Registerer: reg})
	scan(t, m)
	i := launch(t, m, "publisher.echo.host", "echo", `{}`)
	mustPublish(t, i)
	oldConn, err := i.Conn(t.Context())
	require.NoError(t, err)
	pid := i.Status().PID
	changed := i.Changed()

	killed := time.Now()
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no state change after kill -9")
	}
	waitFor(t, 5*time.Second, "restart", func() bool {
		s := i.Status()
		return s.State == StateRunning && s.PID != pid
	})
	back := time.Since(killed)
	t.Logf("kill -9'd plugin running again after %s", back)
	require.Less(t, back, 5*time.Second)

	st := i.Status()
	require.Equal(t, 1, st.Restarts)
	require.Equal(t, uint64(2), i.Generation())
	require.Contains(t, st.LastError, "signal: killed")
	require.False(t, alive(pid))
	mustPublish(t, i)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP altimeter_plugin_restarts_total Restart attempts after an unexpected plugin exit.
# TYPE altimeter_plugin_restarts_total counter
altimeter_plugin_restarts_total{plugin="publisher.echo.host"} 1
# HELP altimeter_plugin_starts_total Plugin processes started, including failed starts.
# TYPE altimeter_plugin_starts_total counter
altimeter_plugin_starts_total{plugin="publisher.echo.host"} 2
# HELP altimeter_plugin_unexpected_exits_total Plugin processes that exited without being stopped.
# TYPE altimeter_plugin_unexpected_exits_total counter
altimeter_plugin_unexpected_exits_total{plugin="publisher.echo.host"} 1
# HELP altimeter_plugin_up 1 while the plugin instance's process is running and configured.
# TYPE altimeter_plugin_up gauge
altimeter_plugin_up{plugin="publisher.echo.host"} 1
`)))

	// A call on the dead generation's connection maps to ErrPluginExited.
	_, err = publish(t.Context(), oldConn)
	require.Error(t, err)
	require.ErrorIs(t, i.Err(err), ErrPluginExited)
}

func TestCrashDuringCallRestarts(t *testing.T) {
	t.Parallel()
	m := newManager(t, Options{Dir: pluginDir(t, "altimeter-publisher-echo"), BackoffMin: 10 * time.Millisecond})
	scan(t, m)
	i := launch(t, m, "publisher.echo.host", "echo", `{"crash_after":2}`)
	mustPublish(t, i)
	conn, err := i.Conn(t.Context())
	require.NoError(t, err)
	_, err = publish(t.Context(), conn)
	require.Error(t, err)
	err = i.Err(err)
	require.ErrorIs(t, err, ErrPluginExited)
	t.Logf("mapped error: %v", err)

	// Conn waits out the restart; the fresh process publishes once more.
	mustPublish(t, i)
	require.Equal(t, uint64(2), i.Generation())
	require.Contains(t, strings.Join(i.Status().StderrTail, "\n"), "crashing as configured")
}

func TestCrashLoopFails(t *testing.T) {
	t.Parallel()
	m := newManager(t, Options{
		Dir:         pluginDir(t, "altimeter-publisher-echo"),
		MaxRestarts: 3, BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
	})
	scan(t, m)
	i := launch(t, m, "publisher.flaky.host", "echo", `{"exit_after":"30ms"}`)
	start := time.Now()
	waitFor(t, 10*time.Second, "failed", func() bool { return i.Status().State == StateFailed })
	t.Logf("crash loop detected after %s", time.Since(start))

	st := i.Status()
	require.Equal(t, 2, st.Restarts)
	require.Contains(t, st.LastError, "crash loop: 3 exits within 1m0s")
	require.Contains(t, st.LastError, "exit status 3")
	require.Contains(t, st.LastError, "exiting after delay as configured")
	require.NotEmpty(t, st.StderrTail)
	_, err := i.Conn(t.Context())
	require.ErrorIs(t, err, ErrFailed)
	require.Contains(t, err.Error(), "exiting after delay as configured")

	// The manager stays usable.
	other := launch(t, m, "publisher.echo.host", "echo", `{}`)
	mustPublish(t, other)
	require.Len(t, m.Instances(), 2)
	require.NoError(t, i.Stop(t.Context()))
	_, err = i.Conn(t.Context())
	require.ErrorIs(t, err, ErrStopped)
}

func TestLaunchFailures(t *testing.T) {
	t.Parallel()
	m := newManager(t, Options{Dir: pluginDir(t, "altimeter-publisher-echo", "altimeter-publisher-dies")})
	scan(t, m)

	tests := []struct {
		name, plugin, config string
		check                func(t *testing.T, err error)
	}{{
		name: "config error", plugin: "echo", config: `{"reject":"endpoint"}`,
		check: func(t *testing.T, err error) {
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			require.Len(t, ce.Errors, 1)
			require.Equal(t, "endpoint", ce.Errors[0].GetAttribute())
			require.Equal(t, "Rejected by test", ce.Errors[0].GetSummary())
			require.Contains(t, err.Error(), "configure publisher.echo.config_error: endpoint: Rejected by test")
		},
	}, {
		name: "undecodable config", plugin: "echo", config: `{"crash_after":"many"}`,
		check: func(t *testing.T, err error) {
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
		},
	}, {
		name: "exit in configure", plugin: "echo", config: `{"exit_on_configure":true}`,
		check: func(t *testing.T, err error) {
			require.ErrorIs(t, err, ErrPluginExited)
			require.Contains(t, err.Error(), "exit status 1")
			require.Contains(t, err.Error(), "exiting in configure as configured")
		},
	}, {
		name: "exit before handshake", plugin: "dies", config: `{}`,
		check: func(t *testing.T, err error) {
			require.ErrorIs(t, err, ErrPluginExited)
			require.Contains(t, err.Error(), "plugin process exited during handshake: exit status 1")
			require.Contains(t, err.Error(), "cannot open /nonexistent/socket")
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := "publisher." + tt.plugin + "." + strings.ReplaceAll(tt.name, " ", "_")
			i, err := m.Launch(t.Context(), id, base.Publisher, tt.plugin, []byte(tt.config))
			require.Error(t, err)
			require.Nil(t, i)
			t.Logf("launch error: %v", err)
			tt.check(t, err)
		})
	}
	t.Cleanup(func() { require.Empty(t, m.Instances()) })
}

func TestShutdownLeavesNoProcess(t *testing.T) {
	t.Parallel()
	m := newManager(t, Options{Dir: pluginDir(t, "altimeter-publisher-echo")})
	scan(t, m)
	var pids []int
	for _, id := range []string{"publisher.echo.a", "publisher.echo.b", "publisher.echo.c"} {
		i := launch(t, m, id, "echo", `{}`)
		pids = append(pids, i.Status().PID)
	}
	insts := m.Instances()
	require.Len(t, insts, 3)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	m.Shutdown(ctx)
	t.Logf("shutdown of 3 instances took %s", time.Since(start))
	for _, pid := range pids {
		require.False(t, alive(pid), "pid %d", pid)
		_, err := os.Stat("/proc/" + strconv.Itoa(pid))
		require.True(t, errors.Is(err, os.ErrNotExist), "pid %d not reaped", pid)
	}
	for _, i := range insts {
		require.Equal(t, StateStopped, i.Status().State)
	}
	require.Empty(t, m.Instances())
	_, err := m.Launch(t.Context(), "publisher.echo.d", base.Publisher, "echo", nil)
	require.ErrorIs(t, err, ErrStopped)
	m.Shutdown(ctx) // idempotent
}

func TestStopDuringRestartBackoff(t *testing.T) {
	t.Parallel()
	m := newManager(t, Options{Dir: pluginDir(t, "altimeter-publisher-echo"), BackoffMin: time.Minute, BackoffMax: time.Minute})
	scan(t, m)
	i := launch(t, m, "publisher.echo.host", "echo", `{}`)
	pid := i.Status().PID
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	waitFor(t, 5*time.Second, "restarting", func() bool { return i.Status().State == StateRestarting })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, i.Stop(ctx))
	require.Less(t, time.Since(start), time.Second)
	require.Equal(t, StateStopped, i.Status().State)
	require.Equal(t, 0, i.Status().Restarts)
}
