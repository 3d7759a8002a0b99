package agent

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/config"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
)

// TestGraphSpecDynamicMeters: a pollster whose meters come from its config
// gets the polling block's patterns, and its samples are filtered by the
// block's rules; static pollsters get their matching declared meters.
func TestGraphSpecDynamicMeters(t *testing.T) {
	t.Parallel()
	src := `
pollster "host" {}
pollster "http" {}
pollster "snmp" {}
polling "local" {
  interval = "10s"
  meters   = ["hardware.cpu.*"]
  sinks    = ["s"]
}
polling "web" {
  interval  = "30s"
  meters    = ["*", "!web.debug.*"]
  discovery = ["http.definitions"]
  sinks     = ["s"]
}
polling "switches" {
  interval  = "60s"
  meters    = ["switch.*"]
  resources = ["snmp://10.0.0.1"]
  sinks     = ["s"]
}
sink "s" {
  publish "store" {}
}
`
	cfg, diags := config.Parse("t.hcl", []byte(src))
	require.False(t, diags.HasErrors(), config.Format(diags))
	infos := map[string]*base.Info{
		"host": {Kind: base.Pollster, Name: "host", Meters: []sample.MeterInfo{{Name: "hardware.cpu.util"}, {Name: "hardware.memory.total"}}},
		"http": {Kind: base.Pollster, Name: "http", DynamicMeters: true, Discovery: []base.Discovery{{Name: "definitions"}}},
		"snmp": {Kind: base.Pollster, Name: "snmp", DynamicMeters: true, Meters: []sample.MeterInfo{{Name: "hardware.cpu.util"}}},
	}
	diags = cfg.Resolve(describeBuiltin(func(k base.Kind, name string) (*base.Info, error) { return infos[name], nil }))
	require.False(t, diags.HasErrors(), config.Format(diags))
	spec := graphSpec(cfg, instances{"pollster.host": {}, "pollster.http": {}, "pollster.snmp": {}}, storePublisher{})
	tasks := map[string]map[string][]string{}
	keep := map[string]func(string) bool{}
	for _, pl := range spec.Polling {
		tasks[pl.Name] = map[string][]string{}
		for _, task := range pl.Tasks {
			tasks[pl.Name][task.PollsterID] = task.Meters
			if task.Keep != nil {
				keep[pl.Name+"/"+task.PollsterID] = task.Keep
			}
		}
	}
	require.Equal(t, map[string][]string{
		"pollster.host": {"hardware.cpu.util"},
		"pollster.snmp": {"hardware.cpu.*"},
	}, tasks["local"])
	require.Equal(t, map[string][]string{
		"pollster.host": {"hardware.cpu.util", "hardware.memory.total"},
		"pollster.http": {"*"},
		"pollster.snmp": {"*"},
	}, tasks["web"])
	require.Equal(t, map[string][]string{"pollster.snmp": {"switch.*"}}, tasks["switches"])
	require.True(t, keep["web/pollster.http"]("web.requests"))
	require.False(t, keep["web/pollster.http"]("web.debug.gc"))
	require.False(t, keep["switches/pollster.snmp"]("hardware.cpu.util"))
}
