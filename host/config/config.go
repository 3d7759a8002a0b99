package config

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/schema"
)

// Defaults of the agent block.
const (
	DefaultDataDir    = "data"
	DefaultPluginDir  = "bin/plugins"
	DefaultLogLevel   = "info"
	DefaultAPIAddress = "127.0.0.1:8777"
)

// MinInterval is the shortest polling interval accepted.
const MinInterval = time.Second

// Config is a whole pipeline configuration, merged from all its files.
type Config struct {
	Agent     Agent
	Pollsters []*Plugin // kind Pollster, ID "pollster.<name>"
	Listeners []*Listener
	Polling   []*Polling
	Sinks     []*Sink
	// Store is the store block; nil when there is none (built-in policies).
	Store *Store
	// Alarm is the alarm block; nil when there is none (AlarmDefaults).
	Alarm *Alarm
	// Pins are the plugin blocks: SHA-256 digests plugin binaries must have.
	Pins []*Pin
	// Files are the parsed files by name (hclparse.Parser.Files), for
	// rendering diagnostics with WriteDiagnostics.
	Files map[string]*hcl.File
	// Unparsed is set when a file could not be read or parsed: the Config
	// holds only what the other files declared, and no cross-block check
	// ran. Otherwise, even with errors, every block that decoded is here
	// and Resolve may run to find the plugin problems too.
	Unparsed bool
}

// Agent is the agent block, with defaults filled in.
type Agent struct {
	// DataDir and PluginDir, when relative, are joined by Load to the
	// directory of the file with the agent block (Parse leaves them).
	DataDir, PluginDir, LogLevel, APIAddress string
	// APINoAuth (api { auth = false }) serves data requests without
	// X-Auth-Token, as an admin; allowed on a loopback address only.
	APINoAuth    bool
	APIAuthRange hcl.Range
	// MetricLabels (api { metric_labels = [...] }) are the resource
	// metadata keys the Prometheus query API turns into labels
	// (internal/metric).
	MetricLabels []string
	// APILimits (api { max_limit = ..., query_timeout = ... }) bound the
	// work of one API request.
	APILimits APILimits
	// API is the rest of the api block: server limits, public_url,
	// metrics_require_token, tls.
	API APIServer
	// InsecurePluginPermissions (strict_plugin_permissions = false) runs
	// plugins that a user other than root or the agent's could replace,
	// with a warning, instead of refusing them.
	InsecurePluginPermissions      bool
	InsecurePluginPermissionsRange hcl.Range
	// Cluster is the cluster block; nil without one (a one-voter
	// cluster of this agent alone).
	Cluster *Cluster
	// DefRange is the agent block's header, or a zero range when the
	// configuration has no agent block.
	DefRange hcl.Range
}

// Plugin is one plugin instance: a pollster or listener block, or a transform
// or publish block inside a sink.
type Plugin struct {
	Kind base.Kind
	Name string // plugin name (first label)
	// ID is the instance ID: "pollster.<name>", "listener.<name>.<instance>",
	// "transformer.<name>.<sink>", "publisher.<name>.<sink>"; the second and
	// later blocks of the same plugin in one sink get ".2", ".3", ...
	ID string
	// Body is the plugin-owned part of the block (host attributes removed).
	Body      hcl.Body
	DefRange  hcl.Range
	NameRange hcl.Range
	// Queue is a publish block's queue block (nil: the defaults).
	Queue *Queue

	// Filled by Resolve.
	Info    *base.Info
	Decoded *schema.Decoded
	Config  []byte // schema.Marshal(Decoded.Value, Info.Schema)
}

// Listener is a listener block.
type Listener struct {
	*Plugin
	Instance string
	Sinks    []Ref
}

// Ref is a reference by name (to a sink, pollster, meter pattern, ...) with
// the range of the list element that makes it.
type Ref struct {
	Name  string
	Range hcl.Range
}

// Polling is a polling block: a Ceilometer polling source.
type Polling struct {
	Name     string
	Interval time.Duration
	// Meters is the compiled filter; nil when MeterPatterns are invalid.
	Meters        *MeterFilter
	MeterPatterns []Ref
	// Discovery entries are "<pollster>.<method>".
	Discovery []Ref
	Resources []string
	Sinks     []Ref
	DefRange  hcl.Range
	// MetersRange is the meters attribute's expression.
	MetersRange hcl.Range
}

// Sink is a sink block.
type Sink struct {
	Name       string
	Transforms []*Plugin // in declaration order
	Publishers []*Plugin
	DefRange   hcl.Range
}

// Load parses files, merges their blocks and runs the checks that need no
// plugin. The returned Config is never nil: even with errors its Files can
// render the diagnostics. Use the Config only if !diags.HasErrors().
func Load(files ...string) (*Config, hcl.Diagnostics) {
	l := newLoader()
	if len(files) == 0 {
		l.cfg.Unparsed = true
		return l.cfg, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No configuration files",
			Detail:   "At least one pipeline file must be given.",
		}}
	}
	for _, name := range files {
		var f *hcl.File
		var diags hcl.Diagnostics
		if strings.HasSuffix(name, ".json") {
			f, diags = l.parser.ParseJSONFile(name)
		} else {
			f, diags = l.parser.ParseHCLFile(name)
		}
		l.addFile(f, diags)
	}
	cfg, diags := l.finish()
	cfg.Agent.resolvePaths(files[0])
	return cfg, diags
}

// resolvePaths makes a relative data_dir and plugin_dir (set or default)
// relative to the directory of the file holding the agent block (else the
// first file), not to the working directory, so a config is read the same
// wherever the agent or validate runs from.
func (a *Agent) resolvePaths(first string) {
	base := first
	if a.DefRange.Filename != "" {
		base = a.DefRange.Filename
	}
	dir := filepath.Dir(base)
	for _, p := range []*string{&a.DataDir, &a.PluginDir} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// Parse is Load from bytes, for tests and reloads from memory. name is used
// in diagnostics.
func Parse(name string, src []byte) (*Config, hcl.Diagnostics) {
	l := newLoader()
	f, diags := l.parser.ParseHCL(src, name)
	l.addFile(f, diags)
	return l.finish()
}

// AllPlugins returns every plugin instance: pollsters, then listeners, then
// each sink's transforms and publishers, each group in declaration order.
func (c *Config) AllPlugins() []*Plugin {
	var out []*Plugin
	out = append(out, c.Pollsters...)
	for _, l := range c.Listeners {
		out = append(out, l.Plugin)
	}
	for _, s := range c.Sinks {
		out = append(out, s.Transforms...)
		out = append(out, s.Publishers...)
	}
	return out
}

// Pollster returns the pollster block named name, or nil.
func (c *Config) Pollster(name string) *Plugin {
	for _, p := range c.Pollsters {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Sink returns the sink named name, or nil.
func (c *Config) Sink(name string) *Sink {
	for _, s := range c.Sinks {
		if s.Name == name {
			return s
		}
	}
	return nil
}

type loader struct {
	parser  *hclparse.Parser
	cfg     *Config
	diags   hcl.Diagnostics
	syntax  bool // a file had syntax errors
	agents  []*hcl.Block
	seen    map[string]*hcl.Block
	sinkUse map[string]bool
}

func newLoader() *loader {
	p := hclparse.NewParser()
	return &loader{
		parser:  p,
		cfg:     &Config{Files: p.Files()},
		seen:    map[string]*hcl.Block{},
		sinkUse: map[string]bool{},
	}
}
