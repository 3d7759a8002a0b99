package pluginmgr

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/altimeter/altimeter/sdk"
	"github.com/altimeter/altimeter/sdk/base"
)

// These tests run plugins whose children keep the plugin's stdout and
// stderr (the pipes go-plugin reads until they close) and check, by PID,
// that killing the plugin's process group leaves nothing behind and nothing
// waits on the child.

func linuxOnly(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("Linux only: process groups of plugins, pidfd and /proc are what is tested")
	}
}

// describeJSON is what a publisher plugin named name prints for Describe.
func describeJSON(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), FilePrefix+"publisher-"+name)
	if err := os.Link(echoBin, bin); err != nil {
		copyFile(t, echoBin, bin, 0o755)
	}
	out, err := exec.Command(bin).Output()
	require.NoError(t, err)
	return string(out)
}

// forkAndHang is shell that writes its pid to <state>/<tag>-leader.pid,
// starts a child holding stdout and stderr, writes the child's pid to
// <state>/<tag>-child.pid, and hangs. It forks nothing else (echo is a
// builtin), so it gets there quickly even on a loaded machine.
func forkAndHang(state, tag string) string {
	f := func(what string) string { return "'" + filepath.Join(state, tag+"-"+what+".pid") + "'" }
	return "echo $$ > " + f("leader") + "\nsleep 600 &\necho $! > " + f("child") + "\nexec sleep 600\n"
}

// scriptPlugin writes the shell script plugin altimeter-publisher-<name>
// into dir: host is what it does when the host starts it (magic cookie
// set), describe what it does when Scan runs it.
func scriptPlugin(t *testing.T, dir, name, describe, host string) {
	t.Helper()
	script := "#!/bin/sh\nif [ -z \"$" + sdk.Handshake.MagicCookieKey + "\" ]; then\n" + describe + "fi\n" + host
	require.NoError(t, os.WriteFile(filepath.Join(dir, FilePrefix+"publisher-"+name), []byte(script), 0o755))
}

// proc is a process a test watches through a pidfd, so that a recycled
// pid is never mistaken for it, or signalled.
type proc struct {
	pid, fd int
}

// pidFrom waits up to 10s for path to hold a pid other than not, and
// makes sure the process is killed when the test ends, whatever happens.
func pidFrom(t *testing.T, path string, not int) proc {
	t.Helper()
	var pid int
	waitFor(t, 10*time.Second, "pid in "+path, func() bool {
		raw, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(raw)))
		return err == nil && pid > 1 && pid != not
	})
	return pidOf(t, pid)
}

// gone reports whether p has exited (a zombie has: it holds no pipe and
// runs nothing).
func (p proc) gone() bool {
	if p.fd < 0 {
		return true
	}
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n == 1
}

// requireGone waits up to 5s for p to be gone.
func requireGone(t *testing.T, p proc, what string) {
	t.Helper()
	waitFor(t, 5*time.Second, what+" (pid "+strconv.Itoa(p.pid)+") to be gone", p.gone)
}

// pidOf watches process pid, which the test knows was running a moment
// ago; if it is gone already (ESRCH), it stays gone.
func pidOf(t *testing.T, pid int) proc {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return proc{pid: pid, fd: -1}
	}
	require.NoError(t, err, "pidfd_open %d", pid)
	t.Cleanup(func() {
		_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		_ = unix.Close(fd)
	})
	return proc{pid: pid, fd: fd}
}

// within fails the test if fn does not return within d: a liveness bound
// on a call that hangs without the fix, not a timing assertion.
func within[T any](t *testing.T, d time.Duration, what string, fn func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- fn() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s still blocked after %s", what, d)
		panic("unreachable")
	}
}

func TestHandshakeHangKillsProcessGroup(t *testing.T) {
	linuxOnly(t)
	t.Parallel()
	dir, state := t.TempDir(), t.TempDir()
	desc := filepath.Join(state, "describe.json")
	require.NoError(t, os.WriteFile(desc, []byte(describeJSON(t, "hang")), 0o644))
	scriptPlugin(t, dir, "hang", "cat '"+desc+"'; exit 0\n", forkAndHang(state, "a"))

	t.Run("timeout", func(t *testing.T) {
		m := newManager(t, Options{Dir: dir, StartTimeout: 5 * time.Second})
		scan(t, m)
		errc := make(chan error, 1)
		go func() {
			_, err := m.Launch(context.Background(), "publisher.hang.a", base.Publisher, "hang", []byte(`{}`))
			errc <- err
		}()
		leader, child := pidFrom(t, filepath.Join(state, "a-leader.pid"), 0), pidFrom(t, filepath.Join(state, "a-child.pid"), 0)
		err := within(t, 30*time.Second, "Launch with a 5s handshake timeout", func() error { return <-errc })
		require.Error(t, err)
		require.Contains(t, err.Error(), "timeout while waiting for plugin to start")
		requireGone(t, leader, "plugin")
		requireGone(t, child, "plugin's child holding its pipes")
		require.Empty(t, m.Instances())
	})

	t.Run("shutdown during handshake", func(t *testing.T) {
		for _, f := range []string{"a-leader.pid", "a-child.pid"} {
			require.NoError(t, os.Remove(filepath.Join(state, f)))
		}
		m := newManager(t, Options{Dir: dir, StartTimeout: time.Hour})
		scan(t, m)
		errc := make(chan error, 1)
		go func() {
			_, err := m.Launch(context.Background(), "publisher.hang.a", base.Publisher, "hang", []byte(`{}`))
			errc <- err
		}()
		leader := pidFrom(t, filepath.Join(state, "a-leader.pid"), 0)
		child := pidFrom(t, filepath.Join(state, "a-child.pid"), 0)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		within(t, 30*time.Second, "Shutdown of an instance in its handshake", func() struct{} { m.Shutdown(ctx); return struct{}{} })
		err := within(t, 5*time.Second, "Launch after Shutdown", func() error { return <-errc })
		require.ErrorIs(t, err, context.Canceled)
		require.Contains(t, err.Error(), "handshake abandoned")
		requireGone(t, leader, "plugin")
		requireGone(t, child, "plugin's child holding its pipes")
	})
}

func TestDescribeHangKillsProcessGroup(t *testing.T) {
	linuxOnly(t)
	t.Parallel()
	dir, state := t.TempDir(), t.TempDir()
	scriptPlugin(t, dir, "hang", forkAndHang(state, "d"), "exit 1\n")
	m := newManager(t, Options{Dir: dir, DescribeTimeout: 5 * time.Second})
	res := make(chan scanResult, 1)
	go func() {
		b, e := m.Scan(t.Context())
		res <- scanResult{b, e}
	}()
	leader, child := pidFrom(t, filepath.Join(state, "d-leader.pid"), 0), pidFrom(t, filepath.Join(state, "d-child.pid"), 0)
	bins, errs := within(t, 30*time.Second, "Scan with a 5s Describe timeout", func() scanResult { return <-res }).unpack()
	require.Empty(t, bins)
	require.Len(t, errs, 1)
	require.Contains(t, errs[0].Error(), "describe: no answer within 5s")
	requireGone(t, leader, "plugin run for Describe")
	requireGone(t, child, "orphan of the Describe run")

	// A binary that answers Describe but leaves a child behind (holding
	// stdout or not) does not leave it running either.
	require.NoError(t, os.Remove(filepath.Join(state, "d-child.pid")))
	desc := filepath.Join(state, "describe.json")
	require.NoError(t, os.WriteFile(desc, []byte(describeJSON(t, "hang")), 0o644))
	scriptPlugin(t, dir, "hang", "sleep 600 &\necho $! > '"+filepath.Join(state, "d-child.pid")+"'\ncat '"+desc+"'; exit 0\n", "exit 1\n")
	bins, errs = within(t, 30*time.Second, "Scan", func() scanResult {
		b, e := m.Scan(t.Context())
		return scanResult{b, e}
	}).unpack()
	require.Empty(t, errs)
	require.Len(t, bins, 1)
	requireGone(t, pidFrom(t, filepath.Join(state, "d-child.pid"), child.pid), "child left behind by a Describe run")
}

type scanResult struct {
	bins []*Binary
	errs []error
}

func (r scanResult) unpack() ([]*Binary, []error) { return r.bins, r.errs }

func TestPluginExitKillsProcessGroup(t *testing.T) {
	linuxOnly(t)
	t.Parallel()
	state := t.TempDir()
	pidFile := filepath.Join(state, "child.pid")
	m := newManager(t, Options{Dir: pluginDir(t, "altimeter-publisher-echo"), BackoffMin: 10 * time.Millisecond})
	scan(t, m)
	i := launch(t, m, "publisher.echo.kids", "echo", `{"child_pid_file":"`+pidFile+`"}`)
	child := pidFrom(t, pidFile, 0)
	leader := i.Status().PID
	require.False(t, child.gone())

	// The plugin dies; its child still holds the pipes. The supervisor
	// must notice anyway, kill the child and restart the plugin.
	require.NoError(t, syscall.Kill(leader, syscall.SIGKILL))
	waitFor(t, 10*time.Second, "restart after kill -9 of a plugin whose child holds its pipes", func() bool {
		s := i.Status()
		return s.State == StateRunning && s.PID != leader
	})
	requireGone(t, child, "child of the killed plugin")
	mustPublish(t, i)

	// Stop ends the new generation and its new child.
	child2 := pidFrom(t, pidFile, child.pid)
	leader2 := pidOf(t, i.Status().PID)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	within(t, 20*time.Second, "Stop of a plugin whose child holds its pipes", func() error { return i.Stop(ctx) })
	requireGone(t, leader2, "stopped plugin")
	requireGone(t, child2, "child of the stopped plugin")
}
