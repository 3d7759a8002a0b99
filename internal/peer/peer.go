package peer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// InstallHint is appended to errors about a missing peer binary.
const InstallHint = "install with: make peers"

// Process is one peer process started by Start. Stop it with Stop (safe to
// call twice); its combined output is in LogPath.
type Process struct {
	Name    string
	Dir     string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

// Start runs argv[0] with argv[1:] in dir, output to dir/<name>.log. It does
// not wait for readiness; use WaitFor with a probe.
func Start(name, dir string, env []string, argv ...string) (*Process, error) {
	bin, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("start %s: %w (%s)", name, err, InstallHint)
	}
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(bin, argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	// Own process group, and die with the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, Dir: dir, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	return p, nil
}

// PID returns the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the process (by PID), waits up to 10 s, then SIGKILLs
// its process group. Safe to call more than once.
func (p *Process) Stop() {
	if p == nil || p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Kill SIGKILLs the process (by PID) and waits for it.
func (p *Process) Kill() {
	if p == nil || p.Exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Tail returns the last n bytes of the process's log, for error messages.
func (p *Process) Tail(n int) string {
	b, _ := os.ReadFile(p.LogPath)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// WaitFor polls probe every 50 ms until it returns nil, the process exits,
// or timeout passes. The error carries the last probe error and log tail.
func (p *Process) WaitFor(ctx context.Context, timeout time.Duration, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	var last error
	for {
		if last = probe(ctx); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v) before ready: %v\n%s", p.Name, p.err, last, p.Tail(2000))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %v\n%s", p.Name, timeout, last, p.Tail(2000))
		case <-t.C:
		}
	}
}

// DialProbe returns a probe that succeeds once addr accepts TCP connections.
func DialProbe(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// Need skips t under -short: real peers run in make test and CI, -short is
// the fast local loop.
func Need(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("real peer; run without -short")
	}
}

// Must fails t with err (which names the install command for a missing
// binary) and registers p.Stop as cleanup otherwise.
func Must(t testing.TB, p *Process, err error) *Process {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// ErrNotInstalled is returned when a peer's package is missing.
var ErrNotInstalled = errors.New("peer not installed (" + InstallHint + ")")
