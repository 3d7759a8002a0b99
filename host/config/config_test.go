package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/base"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

// Config structs of the fake plugins.
type hostConfig struct {
	Root    string   `hcl:"root,optional"`
	Devices []string `hcl:"devices,optional"`
}

type socketConfig struct {
	TCP string `hcl:"tcp,optional"`
}

type unitConfig struct {
	Scale *float64 `hcl:"scale,optional"`
}

type fileConfig struct {
	Path string `hcl:"path"`
}

type emptyConfig struct{}

func fakeInfo(kind base.Kind, name string, cfg any, meters []string, discovery ...string) *base.Info {
	info := &base.Info{Kind: kind, Name: name, Version: "0.0.1", Schema: schema.MustFromStruct(cfg)}
	for _, m := range meters {
		info.Meters = append(info.Meters, sample.MeterInfo{Name: m})
	}
	for _, d := range discovery {
		info.Discovery = append(info.Discovery, base.Discovery{Name: d})
	}
	return info
}

// fakePlugins is what the fake describe knows, by "kind.name".
var fakePlugins = map[string]*base.Info{
	"pollster.host": fakeInfo(base.Pollster, "host", hostConfig{},
		[]string{"hardware.cpu.util", "hardware.memory.used", "hardware.disk.size"}, "local"),
	"pollster.libvirt": fakeInfo(base.Pollster, "libvirt", emptyConfig{},
		[]string{"cpu", "memory.usage", "disk.read.bytes"}, "local_instances"),
	"listener.socket":             fakeInfo(base.Listener, "socket", socketConfig{}, nil),
	"transformer.unit_conversion": fakeInfo(base.Transformer, "unit_conversion", unitConfig{}, nil),
	"transformer.rate_of_change":  fakeInfo(base.Transformer, "rate_of_change", emptyConfig{}, nil),
	"publisher.file":              fakeInfo(base.Publisher, "file", fileConfig{}, nil),
	// A publisher binary that describes itself as a transformer.
	"publisher.misfiled": fakeInfo(base.Transformer, "misfiled", emptyConfig{}, nil),
}

func fakeDescribe(kind base.Kind, name string) (*base.Info, error) {
	if info, ok := fakePlugins[kind.String()+"."+name]; ok {
		return info, nil
	}
	return nil, fmt.Errorf("no %s plugin %q: bin/plugins/altimeter-%s-%s does not exist", kind, name, kind, name)
}

// load is Load plus, if resolve, Resolve with the fake plugins.
func load(t *testing.T, resolve bool, files ...string) (*Config, hcl.Diagnostics) {
	t.Helper()
	c, diags := Load(files...)
	require.NotNil(t, c)
	if resolve && !diags.HasErrors() {
		diags = append(diags, c.Resolve(fakeDescribe)...)
	}
	return c, diags
}

func TestBadFixtures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		files   []string
		resolve bool // the check needs plugin knowledge
		want    string
	}{
		{files: []string{"syntax.bad.hcl"}, want: "testdata/syntax.bad.hcl:4:16: Unclosed configuration block: There is no closing brace for this block before the end of the file."},
		{files: []string{"unknown_plugin_attr.bad.hcl"}, resolve: true, want: `testdata/unknown_plugin_attr.bad.hcl:12:5: Unsupported argument: An argument named "rotate" is not expected here.`},
		{files: []string{"wrong_type_plugin_attr.bad.hcl"}, resolve: true, want: `testdata/wrong_type_plugin_attr.bad.hcl:2:13: Incorrect attribute value type: Inappropriate value for attribute "devices": list of string required`},
		{files: []string{"missing_plugin_attr.bad.hcl"}, resolve: true, want: `testdata/missing_plugin_attr.bad.hcl:10:18: Missing required argument: The argument "path" is required`},
		{files: []string{"dup_pollster.bad.hcl"}, want: "testdata/dup_pollster.bad.hcl:7:1: Duplicate pollster block: pollster.host is already declared at testdata/dup_pollster.bad.hcl:1,1-16."},
		{files: []string{"dup_listener.bad.hcl"}, want: "testdata/dup_listener.bad.hcl:9:1: Duplicate listener block: listener.socket.local is already declared at testdata/dup_listener.bad.hcl:1,1-26."},
		{files: []string{"store_policy_unknown.bad.hcl"}, want: `testdata/store_policy_unknown.bad.hcl:4:14: Unknown archive policy: No archive policy "hgih"; declare it in the store block or use one of low, medium, high.`},
		{files: []string{"store_aggregate.bad.hcl"}, want: `testdata/store_aggregate.bad.hcl:3:27: Unknown aggregation method: "median" is not one of`},
		{files: []string{"store_points.bad.hcl"}, want: `testdata/store_points.bad.hcl:7:21: Invalid points: points must be a positive whole number.`},
		{files: []string{"store_duration.bad.hcl"}, want: `testdata/store_duration.bad.hcl:2:21: Invalid event_retention: event_retention: "a week" is not a duration`},
		{files: []string{"noauth_public.bad.hcl"}, want: `testdata/noauth_public.bad.hcl:4:15: API without auth on a non-loopback address: auth = false serves every project's data to anyone who can reach 0.0.0.0:8777`},
		{files: []string{"dup_agent.bad.hcl"}, want: "testdata/dup_agent.bad.hcl:3:1: Duplicate agent block: agent is already declared at"},
		{files: []string{"merge.1.hcl", "merge.2.hcl", "merge_dup.hcl"}, want: "testdata/merge_dup.hcl:1:1: Duplicate sink block: sink.out is already declared at testdata/merge.2.hcl:5,1-11."},
		{files: []string{"undefined_sink.bad.hcl"}, want: `testdata/undefined_sink.bad.hcl:6:22: Reference to undefined sink: No sink "nowhere" is declared. Declared sinks: out.`},
		{files: []string{"undefined_sink_listener.bad.hcl"}, want: `testdata/undefined_sink_listener.bad.hcl:2:12: Reference to undefined sink: No sink "outt" is declared.`},
		{files: []string{"queue_full.bad.hcl"}, resolve: true, want: `testdata/queue_full.bad.hcl:13:14: Invalid queue full policy: full must be "drop_oldest" or "block"; got "wait".`},
		{files: []string{"queue_size.bad.hcl"}, resolve: true, want: `testdata/queue_size.bad.hcl:13:19: Invalid max_bytes: "lots" is not a size; write e.g. "512MiB" or "1GiB"`},
		{files: []string{"queue_sync.bad.hcl"}, resolve: true, want: `testdata/queue_sync.bad.hcl:13:23: Invalid sync_interval: sync_interval must be a duration from "0s" (fsync every batch) to "1m"; got "1h".`},
		{files: []string{"sink_no_publish.bad.hcl"}, want: `testdata/sink_no_publish.bad.hcl:9:1: Missing publish block: Sink "out" needs at least one publish block.`},
		{files: []string{"meters_mixed.bad.hcl"}, want: `testdata/meters_mixed.bad.hcl:5:33: Both included and excluded meters specified: "!hardware.disk.*" conflicts`},
		{files: []string{"meters_wildcard.bad.hcl"}, want: `testdata/meters_wildcard.bad.hcl:7:5: Included meters specified with wildcard: "hardware.cpu.util" conflicts`},
		{files: []string{"meters_glob.bad.hcl"}, want: `testdata/meters_glob.bad.hcl:5:15: Invalid meter pattern: "hardware.[cpu": malformed glob`},
		{files: []string{"meters_empty.bad.hcl"}, want: "testdata/meters_empty.bad.hcl:5:14: Empty meters list: meters needs at least one entry."},
		{files: []string{"no_pollster_meter.bad.hcl"}, resolve: true, want: `testdata/no_pollster_meter.bad.hcl:5:29: No pollster provides meter: No meter of a declared pollster matches "cpu_util". Declared pollster blocks: "host" at testdata/no_pollster_meter.bad.hcl:1,1-16 (meters: hardware.cpu.util, hardware.memory.used, hardware.disk.size).`},
		{files: []string{"no_meter_selected.bad.hcl"}, resolve: true, want: `testdata/no_meter_selected.bad.hcl:5:14: Polling block selects no meter: Polling "host" matches none`},
		{files: []string{"interval_syntax.bad.hcl"}, want: `testdata/interval_syntax.bad.hcl:4:14: Invalid interval: "10 seconds" is not a duration`},
		{files: []string{"interval_short.bad.hcl"}, want: "testdata/interval_short.bad.hcl:5:14: Invalid interval: The interval must be at least 1s; got 500ms."},
		{files: []string{"missing_required.bad.hcl"}, want: `testdata/missing_required.bad.hcl:3:16: Missing required argument: The argument "sinks" is required`},
		{files: []string{"listener_no_sinks.bad.hcl"}, want: `testdata/listener_no_sinks.bad.hcl:1:27: Missing required argument: The argument "sinks" is required`},
		{files: []string{"plugin_not_found.bad.hcl"}, resolve: true, want: `testdata/plugin_not_found.bad.hcl:10:13: Plugin not found: no transformer plugin "nosuch": bin/plugins/altimeter-transformer-nosuch does not exist`},
		{files: []string{"kind_mismatch.bad.hcl"}, resolve: true, want: `testdata/kind_mismatch.bad.hcl:10:11: Plugin kind mismatch: Plugin "misfiled" is a transformer, but a publish block needs a publisher.`},
		{files: []string{"unknown_discovery.bad.hcl"}, resolve: true, want: `testdata/unknown_discovery.bad.hcl:6:30: Unknown discovery method: Pollster "host" offers no discovery method "ipmi"; it offers: local.`},
		{files: []string{"discovery_malformed.bad.hcl"}, want: `testdata/discovery_malformed.bad.hcl:6:16: Invalid discovery reference: "local" is not of the form "<pollster>.<method>".`},
		{files: []string{"discovery_undefined.bad.hcl"}, want: `testdata/discovery_undefined.bad.hcl:6:16: Reference to undefined pollster: Discovery "libvirt.local_instances" names pollster "libvirt", but no pollster "libvirt" block is declared. Declared pollsters: host.`},
		{files: []string{"unknown_block.bad.hcl"}, want: `testdata/unknown_block.bad.hcl:3:1: Unsupported block type: Blocks of type "pipeline" are not expected here.`},
		{files: []string{"log_level.bad.hcl"}, want: `testdata/log_level.bad.hcl:2:15: Invalid log level: "verbose" is not a log level; use one of trace, debug, info, warn, error.`},
		{files: []string{"cluster_join.bad.hcl"}, want: `testdata/cluster_join.bad.hcl:4:34: Invalid join address: "nowhere": not a host:port address: address nowhere: missing port in address.`},
		{files: []string{"cluster_advertise.bad.hcl"}, want: `testdata/cluster_advertise.bad.hcl:4:17: Invalid advertise address: Other members cannot dial an unspecified address`},
		{files: []string{"alarm_interval.bad.hcl"}, want: `testdata/alarm_interval.bad.hcl:2:25: Invalid evaluation_interval: evaluation_interval: must be at least 1s`},
		{files: []string{"alarm_store.bad.hcl"}, want: `testdata/alarm_store.bad.hcl:2:15: Invalid store_url: store_url must be http://host:port or https://host:port (the store member's API).`},
		{files: []string{"alarm_history.bad.hcl"}, want: `testdata/alarm_history.bad.hcl:2:27: Invalid history_max_per_alarm: history_max_per_alarm is at most 10000.`},
		{files: []string{"alarm_takeover.bad.hcl"}, want: `testdata/alarm_takeover.bad.hcl:4:21: Invalid takeover_delay: takeover_delay (6s) must be longer than delivery_delay + webhook_timeout (6s)`},
		{files: []string{"alarm_delivery.bad.hcl"}, want: `testdata/alarm_delivery.bad.hcl:2:20: Invalid delivery_delay: delivery_delay: `},
		{files: []string{"cluster_heartbeat.bad.hcl"}, want: `testdata/cluster_heartbeat.bad.hcl:3:25: Invalid heartbeat_timeout: heartbeat_timeout: must be at least 100ms`},
		{files: []string{"bad_label.bad.hcl"}, want: `testdata/bad_label.bad.hcl:1:6: Invalid sink label: "my.sink" is not a valid name`},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.files[len(tc.files)-1]] = true
	}
	bad, err := filepath.Glob("testdata/*.bad.hcl")
	require.NoError(t, err)
	for _, f := range bad {
		require.True(t, covered[filepath.Base(f)], "%s has no case in the table", f)
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.files, "+"), func(t *testing.T) {
			t.Parallel()
			paths := make([]string, len(tc.files))
			for i, f := range tc.files {
				paths[i] = filepath.Join("testdata", f)
			}
			_, diags := load(t, tc.resolve, paths...)
			require.True(t, diags.HasErrors(), "no error; diagnostics:\n%s", Format(diags))
			got := Format(diags)
			require.True(t, strings.HasPrefix(got, tc.want), "want prefix\n%s\ngot\n%s", tc.want, got)
		})
	}
}

func TestGoodFixtures(t *testing.T) {
	t.Parallel()
	good, err := filepath.Glob("testdata/*.good.hcl")
	require.NoError(t, err)
	require.NotEmpty(t, good)
	for _, f := range good {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			c, diags := load(t, true, f)
			require.Empty(t, diags, Format(diags))
			for _, p := range c.AllPlugins() {
				require.NotNil(t, p.Info, p.ID)
				require.NotNil(t, p.Decoded, p.ID)
				require.NotEmpty(t, p.Config, p.ID)
			}
		})
	}
}

func TestFull(t *testing.T) {
	t.Parallel()
	c, diags := load(t, true, "testdata/full.good.hcl")
	require.Empty(t, diags, Format(diags))

	require.Equal(t, Agent{
		DataDir: "/var/lib/altimeter", PluginDir: "/usr/libexec/altimeter", LogLevel: "debug",
		APIAddress: "0.0.0.0:8777", DefRange: c.Agent.DefRange,
	}, c.Agent)
	require.Equal(t, 2, c.Agent.DefRange.Start.Line)

	var ids []string
	for _, p := range c.AllPlugins() {
		ids = append(ids, p.ID)
	}
	want := []string{
		"pollster.host", "pollster.libvirt", "listener.socket.local",
		"transformer.unit_conversion.host", "transformer.rate_of_change.host",
		"transformer.unit_conversion.host.2", "publisher.file.host",
		"publisher.file.archive", "publisher.file.archive.2",
	}
	require.Empty(t, cmp.Diff(want, ids))

	require.Len(t, c.Polling, 2)
	host := c.Polling[0]
	require.Equal(t, "host", host.Name)
	require.Equal(t, 10*time.Second, host.Interval)
	require.Equal(t, []string{"snmp://127.0.0.1:161"}, host.Resources)
	require.Equal(t, "host.local", host.Discovery[0].Name)
	require.Equal(t, hcl.Pos{Line: 21, Column: 16, Byte: host.Discovery[0].Range.Start.Byte}, host.Discovery[0].Range.Start)
	require.True(t, host.Meters.Match("hardware.cpu.util"))
	require.False(t, host.Meters.Match("cpu"))
	inst := c.Polling[1]
	require.Equal(t, 5*time.Minute, inst.Interval)
	require.Equal(t, []string{"host", "archive"}, refNames(inst.Sinks))
	require.True(t, inst.Meters.Match("cpu"))
	require.False(t, inst.Meters.Match("disk.read.bytes"))

	require.Len(t, c.Listeners, 1)
	li := c.Listeners[0]
	require.Equal(t, "socket", li.Name)
	require.Equal(t, "local", li.Instance)
	require.Equal(t, []string{"host"}, refNames(li.Sinks))
	// The host-owned "sinks" is not part of the plugin's config.
	requireJSON(t, `{"tcp":"127.0.0.1:8094"}`, li.Config)

	sink := c.Sink("host")
	require.NotNil(t, sink)
	require.Len(t, sink.Transforms, 3)
	requireJSON(t, `{"scale":1024}`, sink.Transforms[0].Config)
	requireJSON(t, `{"scale":0.5}`, sink.Transforms[2].Config)
	requireJSON(t, `{"path":"/var/log/altimeter/samples.jsonl"}`, sink.Publishers[0].Config)
	requireJSON(t, `{"root":"/host","devices":null}`, c.Pollster("host").Config)

	// The wire bytes decode into the plugin's struct.
	var fc fileConfig
	require.NoError(t, schema.Unmarshal(sink.Publishers[0].Config, sink.Publishers[0].Info.Schema, &fc))
	require.Equal(t, "/var/log/altimeter/samples.jsonl", fc.Path)
}

func refNames(refs []Ref) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.Name
	}
	return out
}

func requireJSON(t *testing.T, want string, got []byte) {
	t.Helper()
	var w, g any
	require.NoError(t, json.Unmarshal([]byte(want), &w))
	require.NoError(t, json.Unmarshal(got, &g), string(got))
	require.Empty(t, cmp.Diff(w, g))
}

func TestQueueBlock(t *testing.T) {
	t.Parallel()
	c, diags := load(t, true, "testdata/queue.good.hcl")
	require.False(t, diags.HasErrors(), Format(diags))
	ps := c.Sinks[0].Publishers
	require.Len(t, ps, 3)
	require.Equal(t, &Queue{MaxBytes: 64 << 20, Block: true, SyncInterval: 100 * time.Millisecond, DefRange: ps[0].Queue.DefRange}, ps[0].Queue)
	require.Equal(t, "memory", ps[1].Queue.Type)
	require.Nil(t, ps[2].Queue)
	for in, want := range map[string]int64{"1GiB": 1 << 30, "512MiB": 512 << 20, "10GB": 10e9, "4096": 4096, " 2 KiB ": 2048} {
		n, err := ParseBytes(in)
		require.NoError(t, err, in)
		require.Equal(t, want, n, in)
	}
	for _, in := range []string{"", "-1", "1.5GiB", "GiB", "99999999999TiB"} {
		_, err := ParseBytes(in)
		require.Error(t, err, in)
	}
}

func TestMergeFiles(t *testing.T) {
	t.Parallel()
	c, diags := load(t, true, "testdata/merge.1.hcl", "testdata/merge.2.hcl")
	require.Empty(t, diags, Format(diags))
	require.Len(t, c.Pollsters, 1)
	require.Len(t, c.Sinks, 1)
	require.Equal(t, "warn", c.Agent.LogLevel)
	require.Equal(t, filepath.Join("testdata", DefaultDataDir), c.Agent.DataDir)
	require.Equal(t, "testdata/merge.2.hcl", c.Sinks[0].DefRange.Filename)
	require.Equal(t, "testdata/merge.1.hcl", c.Polling[0].Sinks[0].Range.Filename)
	require.Contains(t, c.Files, "testdata/merge.1.hcl")
	require.Contains(t, c.Files, "testdata/merge.2.hcl")

	// Each file alone is incomplete.
	_, diags = Load("testdata/merge.1.hcl")
	require.True(t, strings.HasPrefix(Format(diags), "testdata/merge.1.hcl:6:15: Reference to undefined sink"), Format(diags))
}

// TestLoadResolvesPaths: relative data_dir and plugin_dir (set or default)
// are the config file's directory's, whatever the working directory;
// absolute ones are kept.
func TestLoadResolvesPaths(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "etc")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	cases := []struct {
		name, agent, data, plugins string
	}{
		{"relative", `agent {
  data_dir   = "var/data"
  plugin_dir = "../plugins"
}`, filepath.Join(dir, "var/data"), filepath.Join(dir, "../plugins")},
		{"defaults", "", filepath.Join(dir, DefaultDataDir), filepath.Join(dir, DefaultPluginDir)},
		{"absolute", `agent {
  data_dir   = "/var/lib/altimeter"
  plugin_dir = "/usr/libexec/altimeter"
}`, "/var/lib/altimeter", "/usr/libexec/altimeter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(dir, tc.name+".hcl")
			require.NoError(t, os.WriteFile(file, []byte(tc.agent+"\n"), 0o644))
			c, diags := Load(file)
			require.False(t, diags.HasErrors(), Format(diags))
			require.Equal(t, tc.data, c.Agent.DataDir)
			require.Equal(t, tc.plugins, c.Agent.PluginDir)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	c, diags := Load()
	require.NotNil(t, c)
	require.Equal(t, "No configuration files: At least one pipeline file must be given.\n", Format(diags))

	c, diags = Load("testdata/does-not-exist.hcl")
	require.NotNil(t, c)
	require.True(t, diags.HasErrors())
	require.Contains(t, Format(diags), "Failed to read file")
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	c, diags := Parse("mem.hcl", nil)
	require.Empty(t, diags)
	require.Equal(t, Agent{DataDir: "data", PluginDir: "bin/plugins", LogLevel: "info", APIAddress: "127.0.0.1:8777"}, c.Agent)
	require.Empty(t, c.AllPlugins())
	require.Contains(t, c.Files, "mem.hcl")
}

func TestParseDiagnostics(t *testing.T) {
	t.Parallel()
	const head = "pollster \"host\" {}\nsink \"out\" {\n  publish \"file\" {}\n}\n"
	cases := []struct {
		name, src, want string
	}{
		{
			name: "unused sink is a warning",
			src:  "sink \"spare\" {\n  publish \"file\" {}\n}\n",
			want: "mem.hcl:1:1: warning: Unused sink: No polling or listener block sends to sink \"spare\".\n",
		},
		{
			name: "duplicate sink reference",
			src:  head + "polling \"p\" {\n  interval = \"1m\"\n  meters = [\"hardware.*\"]\n  sinks = [\"out\", \"out\"]\n}\n",
			want: "mem.hcl:8:19: Duplicate sinks entry: \"out\" is already listed at mem.hcl:8,12-17.\n",
		},
		{
			name: "non-string meter",
			src:  head + "polling \"p\" {\n  interval = \"1m\"\n  meters = [[\"a\"]]\n  sinks = [\"out\"]\n}\n",
			want: "mem.hcl:7:13: Incorrect value type: Inappropriate value for an element of meters: string required, but have tuple.\n",
		},
		{
			name: "meters not a static list",
			src:  head + "polling \"p\" {\n  interval = \"1m\"\n  meters = \"hardware.*\"\n  sinks = [\"out\"]\n}\n",
			want: "mem.hcl:7:13: Invalid expression: A static list expression is required.\n",
		},
		{
			name: "empty sinks entry",
			src:  head + "polling \"p\" {\n  interval = \"1m\"\n  meters = [\"hardware.*\"]\n  sinks = [\"out\", \"\"]\n}\n",
			want: "mem.hcl:8:19: Empty sinks entry: Entries of sinks must not be empty strings.\n",
		},
		{
			name: "interval of the wrong type",
			src:  head + "polling \"p\" {\n  interval = [1]\n  meters = [\"hardware.*\"]\n  sinks = [\"out\"]\n}\n",
			want: "mem.hcl:6:14: Incorrect value type: Inappropriate value for attribute \"interval\": string required, but have tuple.\n",
		},
		{
			name: "bad api address",
			src:  "agent {\n  api {\n    address = \"localhost\"\n  }\n}\n",
			want: "mem.hcl:3:15: Invalid API address: \"localhost\" is not a host:port address: address localhost: missing port in address.\n",
		},
		{
			name: "two api blocks",
			src:  "agent {\n  api {}\n  api {}\n}\n",
			want: "mem.hcl:3:3: Duplicate api block: agent.api is already declared at mem.hcl:2,3-6.\n",
		},
		{
			name: "empty data_dir",
			src:  "agent {\n  data_dir = \"\"\n}\n",
			want: "mem.hcl:2:14: Empty data_dir: data_dir must not be empty; leave it out for the default.\n",
		},
		{
			name: "unknown agent attribute",
			src:  "agent {\n  pid_file = \"x\"\n}\n",
			want: "mem.hcl:2:3: Unsupported argument: An argument named \"pid_file\" is not expected here.\n",
		},
		{
			name: "variables are not allowed",
			src:  head + "polling \"p\" {\n  interval = var.i\n  meters = [\"hardware.*\"]\n  sinks = [\"out\"]\n}\n",
			want: "mem.hcl:6:14: Variables not allowed: Variables may not be used here.\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, diags := Parse("mem.hcl", []byte(tc.src))
			require.Equal(t, tc.want, Format(diags))
		})
	}
}

func TestResolveDescribesOnce(t *testing.T) {
	t.Parallel()
	c, diags := Load("testdata/full.good.hcl")
	require.False(t, diags.HasErrors())
	calls := map[string]int{}
	diags = c.Resolve(func(k base.Kind, name string) (*base.Info, error) {
		calls[k.String()+"."+name]++
		return fakeDescribe(k, name)
	})
	require.Empty(t, diags)
	for k, n := range calls {
		require.Equal(t, 1, n, k)
	}
	require.Len(t, calls, 6)
}

func TestResolveSkipsMeterChecksWithoutPollsterInfo(t *testing.T) {
	t.Parallel()
	c, diags := Load("testdata/no_pollster_meter.bad.hcl")
	require.False(t, diags.HasErrors())
	diags = c.Resolve(func(k base.Kind, name string) (*base.Info, error) {
		if k == base.Pollster {
			return nil, fmt.Errorf("exec format error")
		}
		return fakeDescribe(k, name)
	})
	// Only the pollster is reported, not the meters it might provide.
	require.Equal(t, "testdata/no_pollster_meter.bad.hcl:1:10: Plugin not found: exec format error\n", Format(diags))
}

func TestResolveHostOwnedAttribute(t *testing.T) {
	t.Parallel()
	type bad struct {
		Sinks []string `hcl:"sinks,optional"`
	}
	c, diags := Load("testdata/undefined_sink_listener.bad.hcl")
	require.True(t, diags.HasErrors())
	diags = c.Resolve(func(k base.Kind, name string) (*base.Info, error) {
		if k == base.Listener {
			return fakeInfo(base.Listener, name, bad{}, nil), nil
		}
		return fakeDescribe(k, name)
	})
	require.True(t, strings.HasPrefix(Format(diags), `testdata/undefined_sink_listener.bad.hcl:1:10: Invalid plugin schema: Plugin "socket" declares config attribute "sinks"`), Format(diags))
}

func TestPluginDiagnostics(t *testing.T) {
	t.Parallel()
	c, diags := load(t, true, "testdata/full.good.hcl")
	require.Empty(t, diags)
	p := c.Sink("host").Publishers[0]
	got := c.PluginDiagnostics(p, []*pb.ConfigError{
		{Attribute: "path", Summary: "Invalid value for path", Detail: "Directory does not exist."},
		{Attribute: "nosuch", Detail: "Falls back to the body."},
	})
	require.Equal(t, "testdata/full.good.hcl:47:12: Invalid value for path: Directory does not exist.\n"+
		"testdata/full.good.hcl:46:18: Invalid plugin configuration: Falls back to the body.\n", Format(got))

	// Before Resolve the errors land on the block.
	c, _ = Load("testdata/full.good.hcl")
	got = c.PluginDiagnostics(c.Pollsters[0], []*pb.ConfigError{{Attribute: "root", Summary: "Bad root"}})
	require.Equal(t, "testdata/full.good.hcl:11:1: Bad root\n", Format(got))
}

func TestFormat(t *testing.T) {
	t.Parallel()
	r := &hcl.Range{Filename: "p.hcl", Start: hcl.Pos{Line: 3, Column: 7}, End: hcl.Pos{Line: 3, Column: 9}}
	cases := []struct {
		name  string
		diags hcl.Diagnostics
		want  string
	}{
		{name: "none", want: ""},
		{name: "error", diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Bad", Detail: "Very bad.", Subject: r}}, want: "p.hcl:3:7: Bad: Very bad.\n"},
		{name: "no detail", diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Bad", Subject: r}}, want: "p.hcl:3:7: Bad\n"},
		{name: "warning", diags: hcl.Diagnostics{{Severity: hcl.DiagWarning, Summary: "Odd", Detail: "Hm.", Subject: r}}, want: "p.hcl:3:7: warning: Odd: Hm.\n"},
		{name: "no subject", diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Bad"}}, want: "Bad\n"},
		{name: "multi-line detail", diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Bad", Detail: "One.\n\n  Two.", Subject: r}}, want: "p.hcl:3:7: Bad: One. Two.\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, Format(tc.diags))
		})
	}
}

func TestWriteDiagnostics(t *testing.T) {
	t.Parallel()
	c, diags := Load("testdata/dup_pollster.bad.hcl")
	var buf bytes.Buffer
	require.NoError(t, WriteDiagnostics(&buf, c.Files, diags, false))
	out := buf.String()
	require.Contains(t, out, "Error: Duplicate pollster block")
	require.Contains(t, out, "on testdata/dup_pollster.bad.hcl line 7")
	require.Contains(t, out, `pollster "host" {}`)
}

// TestDefaultPipeline loads the repository's default pipelines.hcl.
func TestDefaultPipeline(t *testing.T) {
	t.Parallel()
	const path = "../../pipelines.hcl"
	require.FileExists(t, path)
	_, diags := Load(path)
	require.False(t, diags.HasErrors(), Format(diags))
}

func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.hcl")
	require.NoError(f, err)
	for _, name := range files {
		src, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(src)
	}
	f.Add([]byte(`polling "p" { meters = ["[!a]*", "!b"] }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, diags := Parse("fuzz.hcl", src)
		if c == nil {
			t.Fatal("nil config")
		}
		_ = Format(diags)
		if diags.HasErrors() {
			return
		}
		_ = c.Resolve(fakeDescribe)
		_ = c.AllPlugins()
	})
}

func TestLoadJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.hcl.json")
	src := `{
  "pollster": {"host": {}},
  "polling": {"host": {"interval": "10s", "meters": ["hardware.*", "nope"], "sinks": ["out"]}},
  "sink": {"out": {"publish": {"file": {"path": "out.jsonl"}}}}
}`
	require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	c, diags := load(t, true, path)
	require.True(t, strings.HasPrefix(Format(diags), path+`:3:68: No pollster provides meter`), Format(diags))
	require.Equal(t, "publisher.file.out", c.Sinks[0].Publishers[0].ID)
}

func TestClusterBlock(t *testing.T) {
	t.Parallel()
	c, diags := Load("testdata/cluster.good.hcl")
	require.Empty(t, diags, Format(diags))
	cl := c.Agent.Cluster
	require.NotNil(t, cl)
	require.Equal(t, "n1", cl.NodeID)
	require.Equal(t, []string{"127.0.0.1:8302", "127.0.0.1:8303"}, cl.Join)
	require.Equal(t, time.Second, cl.HeartbeatTimeout)
	require.Equal(t, 1024, cl.SnapshotThreshold)
	require.Equal(t, &ClusterTLS{CAFile: "ca.pem", CertFile: "n1.pem", KeyFile: "n1-key.pem"}, cl.TLS)

	c, diags = Parse("x.hcl", []byte("agent {\n  cluster {}\n}\n"))
	require.Empty(t, diags, Format(diags))
	require.Equal(t, DefaultClusterBind, c.Agent.Cluster.Bind)
	c, diags = Parse("x.hcl", []byte("agent {}\n"))
	require.Empty(t, diags, Format(diags))
	require.Nil(t, c.Agent.Cluster, "no block: a one-voter cluster")
}

func TestAPIServerBlock(t *testing.T) {
	t.Parallel()
	c, diags := Parse("x.hcl", []byte(`agent {
  api {
    address               = "0.0.0.0:8777"
    read_header_timeout   = "5s"
    read_timeout          = "30s"
    write_timeout         = "3m"
    idle_timeout          = "90s"
    max_conns             = 200
    public_url            = "https://metering.example.com/ceilometer"
    metrics_require_token = true
    tls {
      cert_file      = "api.pem"
      key_file       = "api-key.pem"
      client_ca_file = "clients-ca.pem"
    }
  }
}
`))
	require.Empty(t, diags, Format(diags))
	require.Equal(t, APIServer{
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 3 * time.Minute,
		IdleTimeout: 90 * time.Second, MaxConns: 200, PublicURL: "https://metering.example.com/ceilometer",
		MetricsRequireToken: true, TLS: &APITLS{CertFile: "api.pem", KeyFile: "api-key.pem", ClientCAFile: "clients-ca.pem"},
	}, c.Agent.API)

	c, diags = Parse("x.hcl", []byte("agent {\n  api {}\n}\n"))
	require.Empty(t, diags, Format(diags))
	require.Equal(t, APIServer{}, c.Agent.API, "zero: the server's defaults")

	for _, tc := range []struct{ src, want string }{
		{`read_timeout = "soon"`, `x.hcl:3:20: Invalid read_timeout`},
		{`write_timeout = "1ms"`, `must be at least 100ms`},
		{`max_conns = 0`, `x.hcl:3:17: Invalid max_conns: max_conns must be a positive whole number.`},
		{`max_conns = 100000`, `max_conns is at most 65536`},
		{`public_url = "metering.example.com"`, `x.hcl:3:18: Invalid public_url`},
		{`public_url = "http://h:1/?x=1"`, `without query or fragment`},
		{`metrics_require_token = "yes"`, `x.hcl:3:29: Incorrect value type: Inappropriate value for attribute "metrics_require_token": a bool is required.`},
		{`tls {
      cert_file = "a.pem"
    }`, `Missing required argument`},
		{`tls {
      cert_file = "a.pem"
      key_file  = ""
    }`, `Empty key_file`},
		{`tls {
      cert_file = "a.pem"
      key_file  = "b.pem"
    }
    tls {
      cert_file = "a.pem"
      key_file  = "b.pem"
    }`, `Duplicate tls block`},
	} {
		_, diags := Parse("x.hcl", []byte("agent {\n  api {\n    "+tc.src+"\n  }\n}\n"))
		require.True(t, diags.HasErrors(), tc.src)
		require.Contains(t, Format(diags), tc.want, tc.src)
	}
}

func TestAlarmBlock(t *testing.T) {
	t.Parallel()
	c, diags := Load("testdata/alarm.good.hcl")
	require.Empty(t, diags, Format(diags))
	require.NotNil(t, c.Alarm)
	a := *c.Alarm
	a.DefRange = hcl.Range{}
	require.Equal(t, Alarm{EvaluationInterval: 15 * time.Second, HistoryMaxPerAlarm: 50, HistoryMaxAge: 7 * 24 * time.Hour,
		WebhookTimeout: 2 * time.Second, WebhookRetries: 5, WebhookCAFile: "ca.pem", StoreURL: "http://127.0.0.1:8777", StoreTokenFile: "token",
		DeliveryDelay: 500 * time.Millisecond, TakeoverDelay: 4 * time.Second}, a)
	require.Equal(t, 17*time.Second, AlarmDefaults().TakeoverDelay, "10s, or longer than delivery_delay + webhook_timeout")
	c, diags = Parse("x.hcl", []byte("alarm {\n webhook_timeout = \"2s\"\n delivery_delay = \"0s\"\n}\n"))
	require.Empty(t, diags, Format(diags))
	require.Equal(t, DefaultTakeoverDelay, c.Alarm.TakeoverDelay)
	require.Zero(t, c.Alarm.DeliveryDelay)
	c, diags = Parse("x.hcl", []byte("alarm {}\n"))
	require.Empty(t, diags, Format(diags))
	d := AlarmDefaults()
	d.DefRange = c.Alarm.DefRange
	require.Equal(t, d, *c.Alarm)
	c, diags = Parse("x.hcl", []byte("agent {}\n"))
	require.Empty(t, diags, Format(diags))
	require.Nil(t, c.Alarm, "no block: the defaults")
}
