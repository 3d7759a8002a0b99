package pluginmgr

import (
	"context"
	"fmt"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/altimeter/altimeter/sdk"
	"github.com/altimeter/altimeter/sdk/base"
)

// process is one running plugin process.
type process struct {
	client *plugin.Client
	cmd    *exec.Cmd
	conn   *grpc.ClientConn
	pid    int
	// exited is closed once go-plugin has reaped the process; cmd.ProcessState
	// is safe to read from then on.
	exited <-chan struct{}
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

// kill ends the process now. os.Process tracks reaping (pidfd on Linux),
// so this never signals a recycled pid.
func (p *process) kill() {
	if p.cmd.Process != nil && !p.hasExited() {
		_ = p.cmd.Process.Kill()
	}
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
// the whole start (and StartTimeout each step). On error nothing is left
// running.
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

	cmd := exec.Command(i.bin.Path)
	setSysProcAttr(cmd)
	// go-plugin appends the host environment after this, so an operator's
	// ALTIMETER_PLUGIN_LOG_LEVEL still wins.
	cmd.Env = []string{base.LogLevelEnv + "=" + logLevel(m.opts.Logger)}
	stdoutLog := i.log.Named("stdout")
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: pluginSets(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     timeout,
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(sdk.MaxMessageBytes), grpc.MaxCallSendMsgSize(sdk.MaxMessageBytes))},
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
	rpc, err := client.Client()
	if err != nil {
		client.Kill() // waits for go-plugin's goroutines, so ProcessState is set
		if ps := cmd.ProcessState; ps != nil && ps.Exited() {
			// The plugin exited by itself during the handshake; go-plugin's
			// own message is a generic wall of text.
			return nil, fmt.Errorf("start: %w during handshake: %s", ErrPluginExited, ps)
		}
		return nil, fmt.Errorf("start %s: %w", i.bin.Path, err)
	}
	raw, err := rpc.Dispense(sdk.PluginKey)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("dispense: %w", err)
	}
	wc, ok := raw.(*watchedConn)
	if !ok {
		client.Kill()
		return nil, fmt.Errorf("dispense: got %T", raw)
	}
	p := &process{client: client, cmd: cmd, conn: wc.conn, exited: wc.done}
	if rc := client.ReattachConfig(); rc != nil {
		p.pid = rc.Pid
	}

	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cerrs, err := base.NewClient(p.conn).Configure(cctx, i.id, i.config)
	if err != nil {
		err = exitedErr(err, p, time.Second)
		p.kill()
		client.Kill()
		return nil, err
	}
	if len(cerrs) > 0 {
		client.Kill()
		return nil, &ConfigError{Instance: i.id, Errors: cerrs}
	}
	return p, nil
}
