package pluginmgr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/altimeter/altimeter/sdk/base"

	"github.com/altimeter/altimeter/internal/backoff"
)

// State is the lifecycle state of an Instance.
type State string

const (
	StateStarting   State = "starting"
	StateRunning    State = "running"
	StateRestarting State = "restarting"
	StateFailed     State = "failed"
	StateStopped    State = "stopped"
)

// Status is a snapshot of an Instance for the API and logs.
type Status struct {
	ID, Kind, Name, Version string
	State                   State
	PID                     int // 0 unless running
	Restarts                int
	LastError               string
	StderrTail              []string
	Meters                  []string
	Since                   time.Time // last state change
}

// exitWait bounds how long Err waits for go-plugin to notice an exit after
// an Unavailable error (the transport usually notices first).
const exitWait = 100 * time.Millisecond

// Instance is one supervised plugin process, restarted with the same config
// after an unexpected exit.
type Instance struct {
	m      *Manager
	id     string
	bin    *Binary
	config []byte
	log    hclog.Logger
	tail   *tail

	// life is the instance's lifecycle context, cancelled by Stop to abort
	// an in-flight Configure.
	life     context.Context
	cancel   context.CancelFunc
	stopCh   chan struct{}
	stopOnce sync.Once
	done     chan struct{} // closed when the supervisor goroutine returns

	mu       sync.Mutex
	state    State
	proc     *process
	gen      uint64
	restarts int
	lastErr  string
	since    time.Time
	changed  chan struct{}
	exits    []time.Time
}

func newInstance(m *Manager, id string, b *Binary, config []byte) *Instance {
	life, cancel := context.WithCancel(context.Background())
	i := &Instance{
		m: m, id: id, bin: b, config: append([]byte(nil), config...),
		log:  m.opts.Logger.Named(id),
		tail: &tail{},
		life: life, cancel: cancel,
		stopCh:  make(chan struct{}),
		done:    make(chan struct{}),
		state:   StateStarting,
		since:   time.Now(),
		changed: make(chan struct{}),
	}
	m.metrics.init(id)
	return i
}

// ID returns the instance ID given to Launch.
func (i *Instance) ID() string { return i.id }

// Binary returns the fingerprinted binary the instance runs.
func (i *Instance) Binary() *Binary { return i.bin }

// Status returns a snapshot of the instance.
func (i *Instance) Status() Status {
	i.mu.Lock()
	defer i.mu.Unlock()
	s := Status{
		ID: i.id, Kind: i.bin.Kind.String(), Name: i.bin.Name, Version: i.bin.Info.Version,
		State: i.state, Restarts: i.restarts, LastError: i.lastErr,
		StderrTail: i.tail.Lines(), Since: i.since,
	}
	if i.state == StateRunning && i.proc != nil {
		s.PID = i.proc.pid
	}
	for _, mi := range i.bin.Info.Meters {
		s.Meters = append(s.Meters, mi.Name)
	}
	return s
}

// Generation increments on every (re)start that reaches running, so a
// caller holding a stream knows to reopen it. It is 1 after Launch.
func (i *Instance) Generation() uint64 {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.gen
}

// Changed returns a channel closed at the next state change.
func (i *Instance) Changed() <-chan struct{} {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.changed
}

// Conn returns the live connection, waiting (until ctx is done) while the
// instance is starting or restarting. It returns ErrFailed, wrapped with the
// last error and stderr tail, once failed, and ErrStopped once stopped.
// Build a kind client on it (publisher.NewClient(conn), ...) per call or per
// Generation; the connection dies with its process.
func (i *Instance) Conn(ctx context.Context) (*grpc.ClientConn, error) {
	for {
		i.mu.Lock()
		state, proc, lastErr, ch := i.state, i.proc, i.lastErr, i.changed
		i.mu.Unlock()
		switch state {
		case StateRunning:
			if !proc.hasExited() {
				return proc.conn, nil
			}
			// go-plugin saw the exit before the supervisor did; wait for
			// the state change rather than hand out a dead connection.
		case StateFailed:
			return nil, fmt.Errorf("%s: %w: %s", i.id, ErrFailed, lastErr)
		case StateStopped:
			return nil, fmt.Errorf("%s: %w", i.id, ErrStopped)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for %s (%s): %w", i.id, state, ctx.Err())
		}
	}
}

// Err maps an error from a call on one of the instance's connections to
// ErrPluginExited (wrapped with the exit status when known) when it is a
// transport error caused by the plugin process exiting: a gRPC Unavailable
// seen once the process has exited, or the Canceled "client connection is
// closing" of a connection whose process is gone. Anything else is returned
// as is. It may wait up to 100ms for the exit to be noticed.
func (i *Instance) Err(err error) error {
	s, ok := status.FromError(err)
	if !ok || err == nil {
		return err
	}
	i.mu.Lock()
	p, state := i.proc, i.state
	i.mu.Unlock()
	switch {
	case isConnClosing(s):
		// Connections are closed only by go-plugin's Kill: after an exit,
		// or by Stop.
		if state == StateStopped {
			return fmt.Errorf("%s: %w", i.id, ErrStopped)
		}
		return ErrPluginExited
	case s.Code() != codes.Unavailable || p == nil:
		return err
	case state == StateRunning:
		return exitedErr(err, p, exitWait)
	case state == StateStopped:
		return fmt.Errorf("%s: %w", i.id, ErrStopped)
	case p.hasExited():
		return fmt.Errorf("%w: %s", ErrPluginExited, p.exitInfo())
	}
	return ErrPluginExited
}

func isConnClosing(s *status.Status) bool {
	return s.Code() == codes.Canceled && s.Message() == connClosingMsg
}

// connClosingMsg is the message of grpc.ErrClientConnClosing (deprecated,
// hence spelled out), returned by calls on a closed *grpc.ClientConn.
const connClosingMsg = "grpc: the client connection is closing"

// exitedErr returns ErrPluginExited if err is a gRPC Unavailable and p
// exits within wait, otherwise err.
func exitedErr(err error, p *process, wait time.Duration) error {
	if s, ok := status.FromError(err); !ok || s.Code() != codes.Unavailable {
		return err
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-p.exited:
		return fmt.Errorf("%w: %s", ErrPluginExited, p.exitInfo())
	case <-t.C:
		return err
	}
}

// Stop sends the Close RPC (bounded by ctx and 2s), then ends the process
// and waits for it and the supervisor goroutine. The instance is never
// restarted afterwards. When ctx ends first the process is killed at once.
// Stop is idempotent; the ID is free for Launch again once it returns.
func (i *Instance) Stop(ctx context.Context) error {
	i.stopOnce.Do(func() { close(i.stopCh) })
	select {
	case <-i.done:
	case <-ctx.Done():
		i.cancel()
		i.mu.Lock()
		p := i.proc
		i.mu.Unlock()
		if p != nil {
			p.kill()
		}
		<-i.done
	}
	i.cancel()
	i.setState(StateStopped, "")
	i.m.remove(i)
	return nil
}

func (i *Instance) stopping() bool {
	select {
	case <-i.stopCh:
		return true
	default:
		return false
	}
}

// setState records a state change and wakes Changed waiters. lastErr
// replaces LastError when not empty.
func (i *Instance) setState(s State, lastErr string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.state == s && lastErr == "" {
		return
	}
	if i.state == StateStopped {
		return // terminal
	}
	i.state, i.since = s, time.Now()
	if lastErr != "" {
		i.lastErr = lastErr
	}
	close(i.changed)
	i.changed = make(chan struct{})
	up := 0.0
	if s == StateRunning {
		up = 1
	}
	if s != StateStopped {
		i.m.metrics.up.WithLabelValues(i.id).Set(up)
	}
}

func (i *Instance) setRunning(p *process) {
	i.mu.Lock()
	i.proc = p
	i.gen++
	gen := i.gen
	i.mu.Unlock()
	i.setState(StateRunning, "")
	i.log.Info("plugin running", "pid", p.pid, "generation", gen)
}

// recordExit notes an exit or failed start and reports whether the instance
// is now crash looping.
func (i *Instance) recordExit() (n int, loop bool) {
	now := time.Now()
	i.mu.Lock()
	defer i.mu.Unlock()
	keep := i.exits[:0]
	for _, t := range i.exits {
		if now.Sub(t) < i.m.opts.RestartWindow {
			keep = append(keep, t)
		}
	}
	i.exits = append(keep, now)
	return len(i.exits), len(i.exits) >= i.m.opts.MaxRestarts
}

func (i *Instance) tailSuffix() string {
	lines := i.tail.Lines()
	if len(lines) == 0 {
		return " (no stderr output)"
	}
	return "; last stderr lines:\n  " + strings.Join(lines, "\n  ")
}

// run is the supervisor goroutine: it performs the first start (reporting
// its result to Launch on first), then watches the process and restarts it
// until Stop or a crash loop.
func (i *Instance) run(ctx context.Context, first chan<- error) {
	defer close(i.done)

	sctx, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(i.life, cancel)
	release := i.abortOnStop(cancel)
	p, err := i.m.start(sctx, i)
	release()
	unhook()
	cancel()
	if err == nil && i.stopping() {
		i.teardown(p)
		err = ErrStopped
	}
	if err != nil {
		var ce *ConfigError
		if !errors.As(err, &ce) {
			err = fmt.Errorf("%w%s", err, i.tailSuffix())
		}
		i.setState(StateFailed, err.Error())
		first <- err
		return
	}
	i.setRunning(p)
	first <- nil

	for {
		select {
		case <-i.stopCh:
			i.teardown(p)
			return
		case <-p.exited:
		}
		if i.stopping() {
			i.teardown(p)
			return
		}
		info := p.exitInfo()
		p.end() // release go-plugin's goroutines; the process is gone
		i.m.metrics.exits.WithLabelValues(i.id).Inc()
		i.log.Error("plugin process exited unexpectedly", "pid", p.pid, "exit", info)
		msg := fmt.Sprintf("process %d exited unexpectedly: %s", p.pid, info)

		for {
			n, loop := i.recordExit()
			if loop {
				i.fail(n, msg)
				return
			}
			i.setState(StateRestarting, msg)
			delay := backoff.Delay(i.m.opts.BackoffMin, i.m.opts.BackoffMax, n)
			i.log.Info("restarting plugin", "in", delay, "exits_in_window", n)
			t := time.NewTimer(delay)
			select {
			case <-i.stopCh:
				t.Stop()
				return
			case <-t.C:
			}
			i.mu.Lock()
			i.restarts++
			i.mu.Unlock()
			i.m.metrics.restarts.WithLabelValues(i.id).Inc()
			rctx, rcancel := context.WithCancel(i.life)
			release := i.abortOnStop(rcancel)
			np, err := i.m.start(rctx, i)
			release()
			rcancel()
			if i.stopping() {
				if err == nil {
					i.teardown(np)
				}
				return
			}
			if err == nil {
				p = np
				i.setRunning(p)
				break
			}
			i.log.Error("restart plugin", "error", err)
			msg = "restart: " + err.Error()
		}
	}
}

func (i *Instance) fail(n int, last string) {
	msg := fmt.Sprintf("crash loop: %d exits within %s, giving up; last: %s", n, i.m.opts.RestartWindow, last) + i.tailSuffix()
	i.log.Error("plugin crash loop, giving up", "exits", n, "window", i.m.opts.RestartWindow, "last", last)
	i.setState(StateFailed, msg)
}

// teardown ends a running process on Stop: Close RPC, then go-plugin's Kill
// (graceful shutdown, SIGKILL after 2s), which waits for the process; its
// process group is killed once it exits, or if Kill is stuck.
func (i *Instance) teardown(p *process) {
	if !p.hasExited() {
		ctx, cancel := context.WithTimeout(i.life, closeTimeout)
		if err := base.NewClient(p.conn).Close(ctx); err != nil && !p.hasExited() {
			i.log.Warn("close plugin", "error", i.Err(err))
		}
		cancel()
	}
	p.end()
	i.log.Debug("plugin stopped", "pid", p.pid)
}

// abortOnStop calls cancel when Stop is called, until release: a start in
// progress (a handshake that hangs, say) is abandoned at once.
func (i *Instance) abortOnStop(cancel context.CancelFunc) (release func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-i.stopCh:
			cancel()
		case <-done:
		}
	}()
	return func() { close(done) }
}
