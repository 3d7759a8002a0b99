package pluginmgr

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/altimeter/altimeter/sdk"
	"github.com/altimeter/altimeter/sdk/base"
)

// process is one running plugin process, the leader of its own process
// group.
type process struct {
	client *plugin.Client
	cmd    *exec.Cmd
	conn   *grpc.ClientConn
	pid    int
	// exited is closed once go-plugin has reaped the process; cmd.ProcessState
	// is safe to read from then on.
	exited <-chan struct{}
	// cancel releases the process's context (see start).
	cancel context.CancelFunc
}

func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// exitInfo describes how the process ended; call after exited is closed.
func (p *process) exitInfo() string {
	if p.cmd.ProcessState == nil {
		return "unknown exit status"
	}
	return p.cmd.ProcessState.String()
}

// kill ends the process and everything it forked now. Until go-plugin has
// reaped the leader (exited), its pid cannot be recycled, so this never
// signals a stranger's group.
func (p *process) kill() {
	if !p.hasExited() {
		_ = killGroup(p.pid)
	}
}

// killGrace bounds go-plugin's Kill (graceful exit, then SIGKILL of the
// plugin after 2s) before the whole process group is killed.
const killGrace = 3 * time.Second

// end releases the process for good: go-plugin's Kill, which waits for the
// process and for its stdout and stderr to close. A child of the plugin
// holding those pipes would keep Kill waiting for as long as it lives, so
// after killGrace the whole process group is killed.
func (p *process) end() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.client.Kill()
	}()
	t := time.NewTimer(killGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = killGroup(p.pid)
		<-done
	}
	p.cancel()
}

// watchedConn is what our plugin wrapper dispenses: the SDK's connection
// plus go-plugin's done context, the one signal go-plugin gives when the
// process has exited. base.GRPCPlugin.GRPCClient drops that context, so we
// wrap it.
type watchedConn struct {
	conn *grpc.ClientConn
	done <-chan struct{}
}

type watchPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	inner plugin.GRPCPlugin
}

func (p watchPlugin) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	return p.inner.GRPCServer(b, s)
}

func (p watchPlugin) GRPCClient(ctx context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	raw, err := p.inner.GRPCClient(ctx, b, c)
	if err != nil {
		return nil, err
	}
	conn, ok := raw.(*grpc.ClientConn)
	if !ok {
		return nil, fmt.Errorf("sdk plugin dispensed %T, want *grpc.ClientConn", raw)
	}
	return &watchedConn{conn: conn, done: ctx.Done()}, nil
}

// pluginSets is base.PluginSets with every plugin wrapped by watchPlugin.
func pluginSets() map[int]plugin.PluginSet {
	out := map[int]plugin.PluginSet{}
	for v, set := range base.PluginSets() {
		ws := plugin.PluginSet{}
		for k, p := range set {
			if gp, ok := p.(plugin.GRPCPlugin); ok {
				ws[k] = watchPlugin{inner: gp}
			}
		}
		out[v] = ws
	}
	return out
}

func logLevel(l hclog.Logger) string {
	switch lvl := l.GetLevel(); lvl {
	case hclog.NoLevel:
		return hclog.Info.String()
	default:
		return lvl.String()
	}
}

// start launches one process for instance i and configures it. ctx bounds
// the whole start (and StartTimeout each step): when it ends during the
// handshake the process group is killed at once. On error nothing is left
// running, children of the plugin included.
func (m *Manager) start(ctx context.Context, i *Instance) (*process, error) {
	m.metrics.starts.WithLabelValues(i.id).Inc()
	timeout := m.opts.StartTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if timeout <= 0 {
		return nil, context.DeadlineExceeded
	}

	// Cancelling pctx kills the process group (exec calls cmd.Cancel); it
	// lives as long as the process.
	pctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(pctx, i.bin.Path)
	pidfd := setSysProcAttr(cmd)
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	// go-plugin appends the host environment after this, so an operator's
	// ALTIMETER_PLUGIN_LOG_LEVEL, GOGC, GOMEMLIMIT or GODEBUG still wins.
	cmd.Env = append([]string{base.LogLevelEnv + "=" + logLevel(m.opts.Logger)}, m.opts.runtimeEnv()...)
	secure, err := secureConfig(i.bin)
	if err != nil {
		cancel()
		return nil, err
	}
	stdoutLog := i.log.Named("stdout")
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: pluginSets(),
		Cmd:              cmd,
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     timeout,
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(sdk.MaxMessageBytes), grpc.MaxCallSendMsgSize(sdk.MaxMessageBytes)),
			grpc.WithInitialWindowSize(sdk.WindowBytes), grpc.WithInitialConnWindowSize(sdk.WindowBytes),
			grpc.WithReadBufferSize(sdk.IOBufferBytes), grpc.WithWriteBufferSize(sdk.IOBufferBytes)},
		Logger: i.log,
		// Every stderr line (hclog JSON from the SDK logger, panics) is also
		// logged by go-plugin under Logger; keep the tail for errors.
		Stderr: &lineWriter{fn: i.tail.add},
		// os.Stderr/os.Stdout writes made after plugin.Serve arrive here.
		SyncStderr: &lineWriter{fn: func(s string) {
			i.tail.add(s)
			i.log.Info("plugin stderr", "line", s)
		}},
		SyncStdout: &lineWriter{fn: func(s string) {
			stdoutLog.Warn("plugin wrote to stdout", "line", s)
		}},
	})
	// A caller that gives up (Stop, shutdown, its own deadline) ends a
	// handshake that hangs now rather than after StartTimeout.
	stopAbort := context.AfterFunc(ctx, cancel)
	rpc, err := client.Client()
	aborted := !stopAbort()
	pid := 0
	if cmd.Process != nil {
		pid = cmd.Process.Pid
		// Whenever the plugin itself exits, what it forked goes with it:
		// a child holding its pipes would keep go-plugin from noticing the
		// exit at all.
		watchLeader(*pidfd, func() { _ = killGroup(pid) })
	}
	// abandon ends a start that failed before the handshake completed.
	// go-plugin kills the plugin only, not what it forked, and its Kill
	// waits for the pipes to close, so the group goes first.
	abandon := func() {
		_ = killGroup(pid)
		client.Kill() // waits for go-plugin's goroutines, so ProcessState is set
		cancel()
	}
	switch {
	case err != nil && aborted:
		abandon()
		return nil, fmt.Errorf("start %s: handshake abandoned: %w", i.bin.Path, ctx.Err())
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		abandon()
		return nil, fmt.Errorf("start: %w", checksumMismatch(i.bin, "the binary changed since the plugin directory was scanned"))
	case err != nil:
		abandon()
		if ps := cmd.ProcessState; ps != nil && ps.Exited() {
			// The plugin exited by itself during the handshake; go-plugin's
			// own message is a generic wall of text.
			return nil, fmt.Errorf("start: %w during handshake: %s", ErrPluginExited, ps)
		}
		return nil, fmt.Errorf("start %s: %w", i.bin.Path, err)
	case aborted:
		abandon()
		return nil, fmt.Errorf("start %s: %w", i.bin.Path, ctx.Err())
	}
	raw, err := rpc.Dispense(sdk.PluginKey)
	if err != nil {
		abandon()
		return nil, fmt.Errorf("dispense: %w", err)
	}
	wc, ok := raw.(*watchedConn)
	if !ok {
		abandon()
		return nil, fmt.Errorf("dispense: got %T", raw)
	}
	p := &process{client: client, cmd: cmd, conn: wc.conn, exited: wc.done, pid: pid, cancel: cancel}

	cctx, ccancel := context.WithTimeout(ctx, timeout)
	defer ccancel()
	cerrs, err := base.NewClient(p.conn).Configure(cctx, i.id, i.config)
	if err != nil {
		err = exitedErr(err, p, time.Second)
		p.kill()
		p.end()
		return nil, err
	}
	if len(cerrs) > 0 {
		p.end()
		return nil, &ConfigError{Instance: i.id, Errors: cerrs}
	}
	return p, nil
}
