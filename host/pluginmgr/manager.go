package pluginmgr

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/altimeter/altimeter/internal/sysmon"
	"github.com/altimeter/altimeter/sdk/base"
)

// Options configures a Manager. Zero durations and counts take the defaults
// documented on each field.
type Options struct {
	// Dir is the plugin directory Scan lists.
	Dir string
	// Logger is the host logger; the manager logs under Named("pluginmgr")
	// and each instance's plugin output under a further Named(instance ID).
	// Nil discards logs.
	Logger hclog.Logger
	// Registerer receives altimeter_plugin_up, altimeter_plugin_starts_total,
	// altimeter_plugin_restarts_total and
	// altimeter_plugin_unexpected_exits_total, labelled plugin=<instance ID>.
	// Nil registers nothing.
	Registerer prometheus.Registerer
	// MaxRestarts exits (or failed starts) within RestartWindow put an
	// instance in state failed. Defaults: 5 within 1m.
	MaxRestarts   int
	RestartWindow time.Duration
	// BackoffMin and BackoffMax bound the exponential restart delay.
	// Defaults: 250ms and 30s.
	BackoffMin, BackoffMax time.Duration
	// StartTimeout bounds the go-plugin handshake and the Configure call of
	// each start. Default 10s.
	StartTimeout time.Duration
	// DescribeTimeout bounds each binary's Describe run during Scan.
	// Default 5s.
	DescribeTimeout time.Duration
	// GOGC and GOMEMLIMIT are given to every plugin process, for the Go
	// runtime, with GODEBUG=sysmon.Setting (package sysmon); a GOGC,
	// GOMEMLIMIT or GODEBUG in the agent's own environment wins.
	// Defaults: 400 and 64MiB (measured in scripts/bench_ab.sh: a plugin
	// that moves batches spends a good part of its CPU in the collector at
	// the runtime's default of 100; the memory limit bounds the heap that
	// the higher GOGC lets grow).
	GOGC       int
	GOMEMLIMIT string
}

const (
	defaultGOGC       = 400
	defaultGOMEMLIMIT = "64MiB"
)

// runtimeEnv is the Go runtime settings a plugin process gets.
func (o *Options) runtimeEnv() []string {
	gogc, limit := o.GOGC, o.GOMEMLIMIT
	if gogc == 0 {
		gogc = defaultGOGC
	}
	if limit == "" {
		limit = defaultGOMEMLIMIT
	}
	// A GODEBUG in the agent's environment (go-plugin appends it after
	// these) wins; the agent command has added sysmon.Setting to it.
	return []string{"GOGC=" + strconv.Itoa(gogc), "GOMEMLIMIT=" + limit, "GODEBUG=" + sysmon.Setting}
}

const (
	defaultMaxRestarts   = 5
	defaultRestartWindow = time.Minute
	defaultBackoffMin    = 250 * time.Millisecond
	defaultBackoffMax    = 30 * time.Second
	defaultStartTimeout  = 10 * time.Second
	defaultDescribe      = 5 * time.Second
	closeTimeout         = 2 * time.Second
)

// Binary is one fingerprinted plugin executable.
type Binary struct {
	Kind   base.Kind
	Name   string
	Path   string
	SHA256 string // hex, as of the Scan
	Info   *base.Info
	// pins are the digests the binary was pinned to at Scan; each start
	// checks the first again.
	pins pinSet
}

// Pinned reports whether the binary's SHA-256 digest was pinned at Scan
// (and so is checked again at each start).
func (b *Binary) Pinned() bool { return len(b.pins) > 0 }

// Manager discovers plugin binaries and runs plugin instances.
type Manager struct {
	opts    Options
	log     hclog.Logger
	metrics *metrics

	scanMu  sync.Mutex // serialises Scan
	cache   map[string]cacheEntry
	realDir string // Dir with symlinks resolved, as of the Scan

	mu        sync.Mutex
	policy    Policy
	bins      map[binKey]*Binary
	refused   map[binKey]error // by the last Scan: permissions or pin
	ignored   map[binKey]error // by the last Scan: why a binary named for the key is not usable
	dirErr    error            // the last Scan could use no plugin of Dir
	scanned   bool
	instances map[string]*Instance
	closed    bool
}

type binKey struct {
	kind base.Kind
	name string
}

// New returns a Manager. It starts nothing until Launch.
func New(o Options) *Manager {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.MaxRestarts <= 0 {
		o.MaxRestarts = defaultMaxRestarts
	}
	if o.RestartWindow <= 0 {
		o.RestartWindow = defaultRestartWindow
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = defaultBackoffMin
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = defaultBackoffMax
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = o.BackoffMin
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = defaultStartTimeout
	}
	if o.DescribeTimeout <= 0 {
		o.DescribeTimeout = defaultDescribe
	}
	return &Manager{
		opts:      o,
		log:       o.Logger.Named("pluginmgr"),
		metrics:   newMetrics(o.Registerer),
		cache:     map[string]cacheEntry{},
		bins:      map[binKey]*Binary{},
		instances: map[string]*Instance{},
	}
}

// Binaries returns the binaries found by the last Scan, sorted by kind and
// name.
func (m *Manager) Binaries() []*Binary {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Binary, 0, len(m.bins))
	for _, b := range m.bins {
		out = append(out, b)
	}
	sortBinaries(out)
	return out
}

// Describe returns the Describe output of plugin kind/name as fingerprinted
// by the last Scan. When there is no such plugin the error wraps
// ErrPluginNotFound and lists the plugins of that kind that exist.
func (m *Manager) Describe(_ context.Context, kind base.Kind, name string) (*base.Info, error) {
	b, err := m.binary(kind, name)
	if err != nil {
		return nil, err
	}
	return b.Info, nil
}

func (m *Manager) binary(kind base.Kind, name string) (*Binary, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b, ok := m.bins[binKey{kind, name}]; ok {
		return b, nil
	}
	if err := m.refused[binKey{kind, name}]; err != nil {
		return nil, fmt.Errorf("%s %q: %w", kind, name, err)
	}
	if m.dirErr != nil {
		return nil, fmt.Errorf("%s %q: %w", kind, name, m.dirErr)
	}
	if err := m.ignored[binKey{kind, name}]; err != nil {
		return nil, fmt.Errorf("%s %q: %w: its binary was ignored: %w", kind, name, ErrPluginNotFound, err)
	}
	if !m.scanned {
		return nil, fmt.Errorf("%s %q: %w (plugin directory not scanned yet)", kind, name, ErrPluginNotFound)
	}
	var have []string
	for k := range m.bins {
		if k.kind == kind {
			have = append(have, k.name)
		}
	}
	if len(have) == 0 {
		return nil, fmt.Errorf("%s %q: %w (no %s plugins in %s)", kind, name, ErrPluginNotFound, kind, m.opts.Dir)
	}
	sort.Strings(have)
	return nil, fmt.Errorf("%s %q: %w (have %v in %s)", kind, name, ErrPluginNotFound, have, m.opts.Dir)
}

// Launch starts a process for instance id of plugin kind/name, configures
// it with config (cty JSON, as produced by schema.Marshal) and returns once
// it is running. From then on the instance is supervised: an unexpected exit
// leads to a restart with the same config. A rejected config comes back as
// a *ConfigError. On error no process is left running and the ID is free.
func (m *Manager) Launch(ctx context.Context, id string, kind base.Kind, name string, config []byte) (*Instance, error) {
	b, err := m.binary(kind, name)
	if err != nil {
		return nil, fmt.Errorf("launch %s: %w", id, err)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, fmt.Errorf("launch %s: %w (plugin manager shut down)", id, ErrStopped)
	}
	if _, ok := m.instances[id]; ok {
		m.mu.Unlock()
		return nil, fmt.Errorf("launch %s: %w", id, ErrDuplicateInstance)
	}
	i := newInstance(m, id, b, config)
	m.instances[id] = i
	m.mu.Unlock()

	first := make(chan error, 1)
	go i.run(ctx, first)
	if err := <-first; err != nil {
		<-i.done
		m.remove(i)
		return nil, fmt.Errorf("launch %s: %w", id, err)
	}
	return i, nil
}

func (m *Manager) remove(i *Instance) {
	m.mu.Lock()
	if m.instances[i.id] == i {
		delete(m.instances, i.id)
	}
	m.mu.Unlock()
	m.metrics.forget(i.id)
}

// Instances returns the launched, not yet stopped instances sorted by ID.
func (m *Manager) Instances() []*Instance {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Instance, 0, len(m.instances))
	for _, i := range m.instances {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].id < out[b].id })
	return out
}

// Shutdown stops every instance in parallel (Close RPC, then kill) and
// waits for their processes and goroutines. Launch fails afterwards.
// It is safe to call more than once.
func (m *Manager) Shutdown(ctx context.Context) {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	insts := m.Instances()
	var wg sync.WaitGroup
	for _, i := range insts {
		wg.Go(func() {
			if err := i.Stop(ctx); err != nil {
				m.log.Warn("stop plugin", "plugin", i.id, "error", err)
			}
		})
	}
	wg.Wait()
}
