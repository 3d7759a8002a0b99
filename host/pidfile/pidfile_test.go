package pidfile

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAcquireRelease(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := Running(dir)
	require.ErrorIs(t, err, ErrNotRunning)

	p, err := Acquire(dir)
	require.NoError(t, err)
	b, err := os.ReadFile(Path(dir))
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(os.Getpid())+"\n", string(b))
	pid, err := Running(dir)
	require.NoError(t, err)
	require.Equal(t, os.Getpid(), pid)

	// A second holder (flock is per open file, so this stands for
	// another process) is refused and told who holds it.
	_, err = Acquire(dir)
	require.ErrorIs(t, err, ErrLocked)
	require.Contains(t, err.Error(), "pid "+strconv.Itoa(os.Getpid()))

	require.NoError(t, p.Release())
	require.NoError(t, p.Release(), "twice")
	require.NoFileExists(t, Path(dir))
	_, err = Running(dir)
	require.ErrorIs(t, err, ErrNotRunning)

	p, err = Acquire(dir)
	require.NoError(t, err, "free again after release")
	require.NoError(t, p.Release())
	require.NoError(t, (*File)(nil).Release())
}

// TestStale: a pid file nobody holds (its agent was SIGKILLed) is not a
// running agent, and a new agent takes it over.
func TestStale(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(Path(dir), []byte("999999\n"), 0o644))
	_, err := Running(dir)
	require.ErrorIs(t, err, ErrNotRunning)
	require.Contains(t, err.Error(), "stale")
	p, err := Acquire(dir)
	require.NoError(t, err)
	defer p.Release()
	pid, err := Running(dir)
	require.NoError(t, err)
	require.Equal(t, os.Getpid(), pid)
}

// TestOtherProcess: a lock held by another process (flock(1)) refuses
// Acquire, and its death frees the file.
func TestOtherProcess(t *testing.T) {
	t.Parallel()
	flock, err := exec.LookPath("flock")
	if err != nil {
		t.Skip("flock(1) not installed")
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(Path(dir), []byte("4242\n"), 0o644))
	// -o: the lock is flock's own, not inherited by its child.
	cmd := exec.Command(flock, "-o", "-x", Path(dir), "sh", "-c", "echo locked; exec sleep 60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	buf := make([]byte, 7)
	_, err = out.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "locked\n", string(buf))

	pid, err := Running(dir)
	require.NoError(t, err)
	require.Equal(t, 4242, pid)
	_, err = Acquire(dir)
	require.ErrorIs(t, err, ErrLocked)
	require.True(t, strings.Contains(err.Error(), "pid 4242"), err.Error())

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	p, err := Acquire(dir)
	require.NoError(t, err)
	require.NoError(t, p.Release())
}
