package main

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/xform/xformtest"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

var (
	smp = xformtest.Sample
	o   = xformtest.O
)

type out = xformtest.Out

func fixed() time.Time { return xformtest.T0 }

// mem is a sample of a memory meter at sec seconds.
func mem(name string, vol float64, rid string, sec float64) sample.Sample {
	s := smp(name, sample.Cumulative, vol, rid, sec, nil)
	s.Unit = "MB"
	return s
}

// scenario is _do_test_arithmetic: the scenario's samples for each of two
// resources, one batch per sample (Ceilometer published and flushed each).
func scenario(ss ...sample.Sample) [][]sample.Sample {
	var out [][]sample.Sample
	for _, rid := range []string{"test_resource1", "test_resource2"} {
		for _, s := range ss {
			s.ResourceID = rid
			out = append(out, []sample.Sample{s})
		}
	}
	return out
}

// TestTransform runs Ceilometer's arithmetic test cases (pipeline_base.py,
// Pike to Rocky) over real gRPC, and the issue's: missing operands, a
// division by zero, the window.
func TestTransform(t *testing.T) {
	t.Parallel()
	const target = "name = \"new_meter\"\nunit = \"%\"\ntype = \"gauge\"\nunmatched = \"drop\"\n"
	nm := func(v float64, rid string) out { return o("new_meter", "%", "gauge", rid, v) }
	xformtest.Run(t, spec(fixed), []xformtest.Case{
		{
			Name:    "test_arithmetic_transformer",
			Cfg:     target + `expr = "100.0 * $(memory.usage) / $(memory)"`,
			Batches: scenario(mem("memory", 1024, "", 0), mem("memory.usage", 512, "", 0)),
			Want:    [][]out{nil, {nm(50, "test_resource1")}, nil, {nm(50, "test_resource2")}},
		},
		{
			Name:    "test_arithmetic_transformer_multiple_samples: a later sample of a meter replaces the earlier",
			Cfg:     target + `expr = "100.0 * $(memory.usage) / $(memory)"`,
			Batches: scenario(mem("memory", 2048, "", 0), mem("memory.usage", 512, "", 0), mem("memory", 1024, "", 1)),
			Want:    [][]out{nil, {nm(25, "test_resource1")}, nil, nil, {nm(25, "test_resource2")}, nil},
		},
		{
			Name:    "test_arithmetic_transformer_missing: a missing operand gives no sample",
			Cfg:     target + `expr = "100.0 * $(memory.usage) / $(memory)"`,
			Batches: scenario(mem("memory.usage", 512, "", 0)),
			Want:    [][]out{nil, nil},
		},
		{
			Name:    "test_arithmetic_transformer_more_than_needed",
			Cfg:     target + `expr = "100.0 * $(memory.usage) / $(memory)"`,
			Batches: scenario(mem("memory", 1024, "", 0), mem("memory.usage", 512, "", 0), mem("cpu_util", 90, "", 0)),
			Want:    [][]out{nil, {nm(50, "test_resource1")}, nil, nil, {nm(50, "test_resource2")}, nil},
		},
		{
			Name:     "test_arithmetic_transformer_exception: a division by zero is counted",
			Cfg:      target + `expr = "$(memory) / 0"`,
			Batches:  scenario(mem("memory", 1024, "", 0), mem("memory.usage", 512, "", 0)),
			Want:     [][]out{nil, nil, nil, nil},
			Counters: map[string]uint64{"expr_failed": 2},
		},
		{
			Name:     "test_arithmetic_transformer_nan",
			Cfg:      target + `expr = "float('nan') * $(memory.usage) / $(memory)"`,
			Batches:  scenario(mem("memory", 1024, "", 0), mem("memory.usage", 512, "", 0)),
			Want:     [][]out{nil, nil, nil, nil},
			Counters: map[string]uint64{"expr_failed": 2},
		},
		{
			Name: "division by zero for some resources only",
			Cfg:  target + `expr = "100.0 * $(memory.usage) / $(memory)"`,
			Batches: [][]sample.Sample{{
				mem("memory", 0, "a", 0), mem("memory", 200, "b", 0), mem("memory.usage", 5, "a", 0), mem("memory.usage", 50, "b", 0),
			}},
			Want:     [][]out{{nm(25, "b")}},
			Counters: map[string]uint64{"expr_failed": 1},
		},
		{
			// test_arithmetic_transformer_cache_cleared: no name, unit or
			// type: the first meter's.
			Name: "cache cleared after each result",
			Cfg:  `expr = "$(memory.usage) + 2"`,
			Batches: [][]sample.Sample{
				{mem("memory.usage", 1024, "r", 0)}, {mem("memory.usage", 2048, "r", 60)},
			},
			Want: [][]out{{o("memory.usage", "MB", "cumulative", "r", 1026)}, {o("memory.usage", "MB", "cumulative", "r", 2050)}},
		},
		{
			Name: "operands more than window apart do not combine",
			Cfg:  target + "expr = \"100.0 * $(memory.usage) / $(memory)\"\nwindow = \"30s\"",
			Batches: [][]sample.Sample{
				{mem("memory", 1000, "r", 0)}, {mem("memory.usage", 100, "r", 45)}, {mem("memory", 200, "r", 50)},
				{mem("memory.usage", 1, "r", 0)},
			},
			Want:     [][]out{nil, nil, {nm(50, "r")}, nil},
			Counters: map[string]uint64{"stale_operand": 1},
		},
		{
			Name:    "metadata and fields of an operand",
			Cfg:     "name = \"x\"\nexpr = \"$(memory).volume * (2 if $(memory).resource_metadata.kind == 'big' else 1) + $(vcpus)\"",
			Batches: [][]sample.Sample{{withMD(mem("memory", 10, "r", 0), map[string]string{"kind": "big"}), mem("vcpus", 4, "r", 0)}},
			Want:    [][]out{{o("x", "MB", "cumulative", "r", 24)}},
		},
		{
			Name:    "samples of other meters pass by default, in place",
			Cfg:     "name = \"ratio\"\nexpr = \"$(a) / $(b)\"",
			Batches: [][]sample.Sample{{mem("a", 1, "r", 0), mem("c", 7, "r", 0), mem("b", 4, "r", 0)}},
			Want:    [][]out{{o("c", "MB", "cumulative", "r", 7), o("ratio", "MB", "cumulative", "r", 0.25)}},
		},
	})
}

func withMD(s sample.Sample, md map[string]string) sample.Sample { s.Metadata = md; return s }

// TestOutput: the new sample is the first meter's resource, project, user
// and metadata, at the latest operand's time, with a message id derived
// from the first meter's sample.
func TestOutput(t *testing.T) {
	t.Parallel()
	c := sdktest.Transformer(t, spec(fixed), "name = \"memory.util\"\nunit = \"%\"\nexpr = \"100 * $(memory.usage) / $(memory)\"")
	usage, total := mem("memory.usage", 256, "r", 10), mem("memory", 1024, "r", 5)
	usage.Metadata, usage.ProjectID = map[string]string{"host": "h1"}, "p1"
	got, err := c.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{usage, total}})
	require.NoError(t, err)
	require.Len(t, got.Samples, 1)
	s := got.Samples[0]
	require.Equal(t, 25.0, s.Volume)
	require.Equal(t, "p1", s.ProjectID)
	require.Equal(t, map[string]string{"host": "h1"}, s.Metadata)
	require.Equal(t, usage.Timestamp, s.Timestamp, "the latest operand's time")
	again, err := c.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{usage, total}})
	require.NoError(t, err)
	require.Equal(t, s.MessageID, again.Samples[0].MessageID, "a redelivery gives the same id")
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestExpiry: operands that wait longer than window (by the clock) are
// dropped and counted, so memory stays bounded when a meter stops coming.
func TestExpiry(t *testing.T) {
	t.Parallel()
	clk := &clock{t: xformtest.T0}
	c := sdktest.Transformer(t, spec(clk.now), "expr = \"$(a) + $(b)\"\nwindow = \"1m\"\nmax_resources = 2")
	send := func(ss ...sample.Sample) []out {
		got, err := c.Transform(t.Context(), &sample.Batch{Samples: ss})
		require.NoError(t, err)
		return xformtest.Brief(got.Samples)
	}
	send(mem("a", 1, "r1", 0), mem("a", 1, "r2", 0), mem("a", 1, "r3", 0)) // r1 evicted by r3
	clk.add(2 * time.Minute)
	require.Empty(t, send(mem("b", 1, "r2", 0)), "r2's a expired")
	counters, err := c.Counters(t.Context())
	require.NoError(t, err)
	require.Equal(t, uint64(1), counters["incomplete_evicted"])
	require.Equal(t, uint64(2), counters["incomplete_expired"])
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	xformtest.CheckConfig(t, spec(fixed), []xformtest.ConfigCase{
		{Name: "ok", Src: `expr = "$(memory.usage) / $(memory) * 100"`},
		{Name: "expr missing", Src: ``, Want: []string{"1: Missing required argument"}},
		{Name: "expr empty", Src: `expr = ""`, Want: []string{"1: Invalid value for expr"}, Detail: "empty expression"},
		{Name: "no meter (test_arithmetic_transformer_expr_misconfigured)", Src: `expr = "512.0 * 3"`, Want: []string{"1: Invalid value for expr"}, Detail: "at least one meter"},
		{Name: "unknown field of a meter", Src: `expr = "$(memory).vol"`, Want: []string{"1: Invalid value for expr"}, Detail: "column 11: a meter has the fields"},
		{Name: "bare name", Src: `expr = "$(memory) / total"`, Want: []string{"1: Invalid value for expr"}, Detail: "column 13: unknown name total"},
		{Name: "too many meters", Src: `expr = "` + manyMeters(33) + `"`, Want: []string{"1: Invalid value for expr"}, Detail: "more than 32 meters"},
		{Name: "bad window", Src: "expr = \"$(a)\"\nwindow = \"0s\"", Want: []string{"2: Invalid value for window"}},
		{Name: "bad max_resources", Src: "expr = \"$(a)\"\nmax_resources = 0", Want: []string{"2: Invalid value for max_resources"}},
		{Name: "map is not arithmetic's", Src: "expr = \"$(a)\"\nmap_from = \"x\"", Want: []string{"2: Unsupported argument"}},
	})
}

func manyMeters(n int) string {
	s := "$(m0)"
	for i := 1; i < n; i++ {
		s += " + $(m" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ")"
	}
	return s
}

func TestExample(t *testing.T) {
	t.Parallel()
	s := spec(fixed)
	sdktest.CheckExample(t, "example.hcl", s.Info(), s.Register())
}
