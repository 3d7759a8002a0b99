package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/altimeter/altimeter/host/alarm"
	"github.com/altimeter/altimeter/host/alarm/action"
	"github.com/altimeter/altimeter/host/api"
	"github.com/altimeter/altimeter/host/archive"
	"github.com/altimeter/altimeter/host/auth"
	"github.com/altimeter/altimeter/host/cluster"
	"github.com/altimeter/altimeter/host/config"
	"github.com/altimeter/altimeter/host/pidfile"
	"github.com/altimeter/altimeter/host/pipeline"
	"github.com/altimeter/altimeter/host/pluginmgr"
	"github.com/altimeter/altimeter/host/rawbatch"
	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/sdk/base"
)

// ErrInvalidConfig is returned when the pipelines do not validate; the
// diagnostics were already written to the log.
var ErrInvalidConfig = errors.New("invalid configuration")

// Options configure an agent run.
type Options struct {
	// ConfigFiles are the pipeline files, merged.
	ConfigFiles []string
	Logger      hclog.Logger
	// APIAddress overrides the config's agent.api.address when set.
	APIAddress string
	// Version is the agent's version (the query API's buildinfo shows it).
	Version string
	// Ready, if set, is called with the API's bound address once the first
	// graph runs.
	Ready func(apiAddr string)
}

// Agent is the running daemon.
type Agent struct {
	opts    Options
	log     hclog.Logger
	reg     *prometheus.Registry
	mgr     *pluginmgr.Manager
	store   *store.Store
	archive *archive.DB
	metrics *pipeline.Metrics
	reloads *prometheus.CounterVec

	node         *cluster.Node
	alarms       *alarm.Scheduler
	notifier     *action.Notifier
	alarmCfg     config.Alarm // the alarm block in force (guarded by mu after start)
	bootstrapped atomic.Bool  // the cluster token bootstrap ran

	mu    sync.Mutex // guards cfg, insts, graph (reload vs shutdown)
	cfg   *config.Config
	insts instances
	graph *pipeline.Graph
	// live is graph for readers that must not wait for a reload
	// (/healthz, /v2/plugins).
	live atomic.Pointer[pipeline.Graph]
}

// Run loads the config and runs the agent until ctx is done or SIGINT or
// SIGTERM arrives; SIGHUP reloads the config.
func Run(ctx context.Context, o Options) error {
	log := o.Logger
	cfg, diags := config.Load(o.ConfigFiles...)
	if diags.HasErrors() {
		logDiags(log, diags)
		return ErrInvalidConfig
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a := &Agent{
		opts: o, log: log, reg: reg,
		metrics: pipeline.NewMetrics(reg),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_config_reloads_total", Help: "Config reloads by result.",
		}, []string{"result"}),
	}
	reg.MustRegister(a.reloads)
	if err := os.MkdirAll(cfg.Agent.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	// One agent per data_dir; `altimeter reload` and `stop` signal the
	// pid it holds. Released last, after the store closes.
	pid, err := pidfile.Acquire(cfg.Agent.DataDir)
	if err != nil {
		return err
	}
	defer func() {
		if err := pid.Release(); err != nil {
			log.Warn("release pid file", "error", err)
		}
	}()
	pluginDir, err := filepath.Abs(cfg.Agent.PluginDir)
	if err != nil {
		return fmt.Errorf("plugin dir: %w", err)
	}
	// The store outlives the graph and the plugins: it closes last.
	if a.store, err = openStore(ctx, cfg.Agent.DataDir, cfg, a); err != nil {
		return err
	}
	defer func() {
		if err := a.store.Close(); err != nil {
			log.Error("close store", "error", err)
		}
	}()
	reg.MustRegister(a.store.Collector())
	// The notification archive (listeners with an archive block feed it)
	// closes after the graph, like the store.
	if a.archive, err = archive.Open(ctx, filepath.Join(cfg.Agent.DataDir, "archive.db"), log.Named("archive")); err != nil {
		return err
	}
	defer func() {
		if err := a.archive.Close(); err != nil {
			log.Error("close archive", "error", err)
		}
	}()
	a.mgr = pluginmgr.New(pluginmgr.Options{Dir: pluginDir, Logger: log, Registerer: reg})
	reg.MustRegister(newPluginCounters(a.mgr))
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.mgr.Shutdown(sctx)
	}()

	addr := cfg.Agent.APIAddress
	if o.APIAddress != "" {
		addr = o.APIAddress
	}
	// The cluster member holds the API tokens; it starts before the API
	// and the graph, and closes after them.
	if a.node, err = openCluster(cfg, addr, a); err != nil {
		return err
	}
	defer func() {
		if err := a.node.Close(); err != nil {
			log.Error("close cluster member", "error", err)
		}
	}()
	var authn api.Authenticator = a.node.Tokens()
	if cfg.Agent.APINoAuth {
		if !config.IsLoopback(addr) {
			return fmt.Errorf("api address %s: auth = false is allowed on a loopback address only", addr)
		}
		log.Warn("api serves data without auth (auth = false)", "address", addr)
		authn = noAuth{}
	}
	prom, ui, err := queryAPIs(cfg, a.store, log, reg, o.Version)
	if err != nil {
		return err
	}
	alarms, err := a.openAlarms(cfg, prom)
	if err != nil {
		return err
	}
	srvOpts, err := apiServerOptions(&cfg.Agent.API)
	if err != nil {
		return err
	}
	srvOpts.Address, srvOpts.Logger, srvOpts.Gatherer, srvOpts.Plugins = addr, log, reg, a
	srvOpts.Store, srvOpts.Writer, srvOpts.Events, srvOpts.Auth = a.store, a.store, a.store, authn
	srvOpts.Notifications = a.archive
	srvOpts.Prom, srvOpts.Console, srvOpts.Ready = prom, ui, a.ready
	srvOpts.Cluster, srvOpts.Tokens, srvOpts.Alarms = clusterService{a.node}, tokenService{a.node.Tokens()}, alarms
	srvOpts.Limits, srvOpts.Registerer = apiLimits(cfg.Agent.APILimits), reg
	srv := api.New(srvOpts)
	if err := srv.Listen(); err != nil {
		return err
	}
	a.node.SetAPIAddress(srv.Addr())

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go a.clusterBootstrap(ctx, cfg.Agent.DataDir)
	go a.archive.Run(ctx, archiveExpireEvery)
	// Alarm evaluation stops before the cluster member and the store
	// close (deferred earlier, run later).
	alarmCtx, stopAlarms := context.WithCancel(ctx)
	alarmsDone := make(chan struct{})
	go func() {
		defer close(alarmsDone)
		_ = a.alarms.Run(alarmCtx)
	}()
	defer func() {
		stopAlarms()
		<-alarmsDone
	}()
	if err := a.start(ctx, cfg); err != nil {
		return err
	}
	defer a.stopGraph()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	apiErr := make(chan error, 1)
	go func() { apiErr <- srv.Serve(ctx) }()
	if o.Ready != nil {
		o.Ready(srv.Addr())
	}
	log.Info("agent started", "api", srv.Addr(), "plugins", len(a.insts), "config", o.ConfigFiles)
	for {
		select {
		case <-hup:
			a.Reload(ctx)
		case err := <-apiErr:
			return err
		case <-ctx.Done():
			log.Info("stopping")
			a.closeListeners()
			a.stopGraph()
			if err := <-apiErr; err != nil {
				// Handlers still running past the shutdown grace period
				// end when the store closes: it cancels their reads and
				// waits for them before closing the engines.
				log.Warn("api shutdown", "error", err)
			}
			return nil
		}
	}
}

// start scans, resolves, launches and runs the first graph.
func (a *Agent) start(ctx context.Context, cfg *config.Config) error {
	if diags := a.resolve(ctx, cfg); diags.HasErrors() {
		logDiags(a.log, diags)
		return ErrInvalidConfig
	}
	insts, _, diags, err := launchAll(ctx, a.mgr, cfg, instances{})
	if diags.HasErrors() {
		logDiags(a.log, diags)
		return ErrInvalidConfig
	}
	if err != nil {
		return err
	}
	g, err := a.runGraph(ctx, cfg, insts, true)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.cfg, a.insts, a.graph = cfg, insts, g
	a.live.Store(g)
	a.mu.Unlock()
	return nil
}

// listenTimeout bounds how long a starting graph waits for its listeners
// to say they are bound.
const listenTimeout = 10 * time.Second

// runGraph builds and starts the graph of cfg over insts, and waits (at
// most listenTimeout) for its listeners to be bound. With strict, a
// listener that cannot open its first stream (cannot bind its port) fails
// it: the graph is stopped again and the error returned. Without, such a
// listener goes on retrying in the background (its state shows it).
func (a *Agent) runGraph(ctx context.Context, cfg *config.Config, insts instances, strict bool) (*pipeline.Graph, error) {
	a.setCapabilities(cfg)
	g, err := pipeline.New(a.graphSpec(cfg, insts), a.metrics, a.log)
	if err != nil {
		return nil, fmt.Errorf("build pipeline: %w", err)
	}
	// The graph is drained by stopGraph, not cut off by the signal.
	g.Start(context.WithoutCancel(ctx))
	lctx, cancel := context.WithTimeout(ctx, listenTimeout)
	defer cancel()
	if err := g.Listening(lctx); err != nil {
		if !strict {
			a.log.Error("listener cannot listen; retrying", "error", err)
			return g, nil
		}
		stopGraph(g)
		return nil, fmt.Errorf("start listener %w", err)
	}
	return g, nil
}

func (a *Agent) resolve(ctx context.Context, cfg *config.Config) hcl.Diagnostics {
	a.mgr.SetPolicy(pluginPolicy(cfg))
	_, errs := a.mgr.Scan(ctx)
	for _, err := range errs {
		a.log.Warn("ignoring plugin binary", "error", err)
	}
	return cfg.Resolve(describeBuiltin(func(k base.Kind, name string) (*base.Info, error) {
		return a.mgr.Describe(ctx, k, name)
	}))
}

// Reload re-reads the config files and swaps in a new graph. Everything that
// can fail without touching the running graph is checked first (syntax,
// schemas, plugins present); then the old graph is drained and the new one
// built, re-using unchanged plugin instances. If the new graph cannot be
// built, the old config is restored.
func (a *Agent) Reload(ctx context.Context) {
	log := a.log.With("config", a.opts.ConfigFiles)
	log.Info("reloading")
	cfg, diags := config.Load(a.opts.ConfigFiles...)
	if !diags.HasErrors() {
		diags = append(diags, a.resolve(ctx, cfg)...)
	}
	var alarmErr error
	if !diags.HasErrors() {
		alarmErr = checkAlarms(cfg)
	}
	if diags.HasErrors() || alarmErr != nil {
		logDiags(log, diags)
		log.Error("reload failed; the running pipelines and alarm settings are unchanged", "error", alarmErr)
		a.reloads.WithLabelValues("failure").Inc()
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.cfg
	stopGraph(a.graph)
	next, unused, diags, err := launchAll(ctx, a.mgr, cfg, a.insts)
	a.stopUnused(ctx, log, unused)
	var g *pipeline.Graph
	if !diags.HasErrors() && err == nil {
		// A listener of the new graph that cannot listen fails the reload.
		g, err = a.runGraph(ctx, cfg, next, true)
	}
	if diags.HasErrors() || err != nil {
		logDiags(log, diags)
		log.Error("reload failed; restoring the previous pipelines", "error", err)
		// Counted once the previous pipelines run (and listen) again.
		defer a.reloads.WithLabelValues("failure").Inc()
		// Put back what the old config needs; unchanged instances are
		// still running.
		next, unused, _, err = launchAll(ctx, a.mgr, old, next)
		a.stopUnused(ctx, log, unused)
		cfg = old
		if err != nil {
			log.Error("restore previous pipelines", "error", err)
		}
		if g, err = a.runGraph(ctx, cfg, next, false); err != nil {
			log.Error("build pipeline", "error", err)
			return
		}
	} else if err := a.reloadAlarms(cfg); err != nil {
		// Only if the CA file went away since checkAlarms: the new
		// pipelines run, the alarm settings are the old ones.
		log.Error("reload: alarm settings unchanged", "error", err)
		a.reloads.WithLabelValues("failure").Inc()
	} else {
		a.reloads.WithLabelValues("success").Inc()
		log.Info("reloaded", "plugins", len(next))
	}
	a.cfg, a.insts, a.graph = cfg, next, g
	a.live.Store(g)
}

// closeListeners closes the listener plugins (their Close; the processes
// stop later, with the others) as the agent stops. A listener may keep its
// ports bound across streams, so that a reload refuses no sender
// (listener.socket does); at shutdown a sender must be refused instead,
// not accepted by an agent that will deliver nothing more.
func (a *Agent) closeListeners() {
	a.mu.Lock()
	cfg, insts := a.cfg, a.insts
	a.mu.Unlock()
	if cfg == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), listenerCloseTimeout)
	defer cancel()
	for _, l := range cfg.Listeners {
		r, ok := insts[l.ID]
		if !ok {
			continue
		}
		conn, err := r.inst.Conn(ctx)
		if errors.Is(err, pluginmgr.ErrFailed) || errors.Is(err, pluginmgr.ErrStopped) {
			continue // no process, no ports
		}
		if err == nil {
			err = base.NewClient(conn).Close(ctx)
		}
		if err != nil {
			a.log.Warn("close listener", "plugin", l.ID, "error", r.inst.Err(err))
		}
	}
}

// listenerCloseTimeout bounds closeListeners.
const listenerCloseTimeout = 5 * time.Second

func (a *Agent) stopUnused(ctx context.Context, log hclog.Logger, unused []*running) {
	for _, r := range unused {
		if err := r.inst.Stop(ctx); err != nil {
			log.Warn("stop unused plugin", "plugin", r.inst.ID(), "error", err)
		}
	}
}

// graphSpec is the engine's spec for cfg, with the cluster's ownership.
func (a *Agent) graphSpec(cfg *config.Config, insts instances) pipeline.Spec {
	spec := graphSpec(cfg, insts, storePublisher{s: a.store, onEvents: a.alarmEvents, dec: rawbatch.NewDecoder()})
	for i := range spec.Listeners {
		spec.Listeners[i].Archive = archiver{db: a.archive, st: a.store}
	}
	spec.Owner = owner{a.node}
	return spec
}

func (a *Agent) stopGraph() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.graph != nil {
		stopGraph(a.graph)
	}
}

// drainTimeout bounds how long a stopping graph may spend publishing what
// it holds.
const drainTimeout = 10 * time.Second

func stopGraph(g *pipeline.Graph) {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	g.Stop(ctx)
}

// Plugins implements api.PluginLister.
func (a *Agent) Plugins() []api.Plugin {
	insts := a.mgr.Instances()
	listeners := a.listenerStates()
	queues := a.queueStates()
	out := make([]api.Plugin, 0, len(insts))
	for _, i := range insts {
		s := i.Status()
		meters := s.Meters
		if meters == nil {
			meters = []string{}
		}
		p := api.Plugin{
			ID: s.ID, Name: s.Name, Kind: s.Kind, Version: s.Version, State: string(s.State), PID: s.PID,
			Restarts: s.Restarts, Since: s.Since, LastError: s.LastError, StderrTail: s.StderrTail, Meters: meters,
		}
		// A running listener process whose stream fails (cannot bind)
		// shows that state and error.
		if l, ok := listeners[s.ID]; ok && s.State == pluginmgr.StateRunning && l.State == pipeline.ListenerFailing {
			p.State, p.LastError, p.Since = string(l.State), l.LastError, l.Since
		}
		if q, ok := queues[s.ID]; ok {
			p.Queue = &api.PluginQueue{Type: q.Type, Samples: q.Samples, Bytes: q.Bytes, OldestAgeSeconds: q.OldestAge.Seconds(),
				MaxBytes: q.MaxBytes, Full: string(q.Full), MaxSamples: q.MaxSamples}
		}
		out = append(out, p)
	}
	return out
}

// queueStates are the running graph's publisher queues by publisher ID.
func (a *Agent) queueStates() map[string]pipeline.QueueStatus {
	out := map[string]pipeline.QueueStatus{}
	if g := a.live.Load(); g != nil {
		for _, q := range g.Queues() {
			out[q.Publisher] = q
		}
	}
	return out
}

// listenerStates are the running graph's listeners by ID.
func (a *Agent) listenerStates() map[string]pipeline.ListenerStatus {
	g := a.live.Load()
	out := map[string]pipeline.ListenerStatus{}
	if g == nil {
		return out
	}
	for _, l := range g.Listeners() {
		out[l.ID] = l
	}
	return out
}

func logDiags(log hclog.Logger, diags hcl.Diagnostics) {
	for _, d := range diags {
		line := config.Format(hcl.Diagnostics{d})
		if d.Severity == hcl.DiagError {
			log.Error("config", "diagnostic", trimNL(line))
		} else {
			log.Warn("config", "diagnostic", trimNL(line))
		}
	}
}

func trimNL(s string) string {
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	return s
}

// noAuth serves every request as an admin: api { auth = false }, on
// loopback only.
type noAuth struct{}

func (noAuth) Authenticate(context.Context, string) (auth.Principal, error) {
	return auth.Principal{TokenID: "noauth", Role: auth.RoleAdmin}, nil
}

// apiServerOptions turns the api block's server settings into api.Options
// (limits, public URL, metrics token, TLS files loaded).
func apiServerOptions(c *config.APIServer) (api.Options, error) {
	o := api.Options{
		PublicURL:           c.PublicURL,
		MetricsRequireToken: c.MetricsRequireToken,
		ServerLimits: api.ServerLimits{
			ReadHeaderTimeout: c.ReadHeaderTimeout, ReadTimeout: c.ReadTimeout,
			WriteTimeout: c.WriteTimeout, IdleTimeout: c.IdleTimeout, MaxConns: c.MaxConns,
		},
	}
	if c.TLS != nil {
		tc, err := api.LoadTLS(c.TLS.CertFile, c.TLS.KeyFile, c.TLS.ClientCAFile)
		if err != nil {
			return o, err
		}
		o.TLS = tc
	}
	return o, nil
}
