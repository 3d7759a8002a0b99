package main

import (
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/xform/xformtest"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

var (
	smp   = xformtest.Sample
	brief = xformtest.Brief
	t0    = xformtest.T0
)

type out = xformtest.Out

var o = xformtest.O

func unit(s sample.Sample, u string) sample.Sample { s.Unit = u; return s }

func mono(s sample.Sample, d time.Duration) sample.Sample { s.MonotonicTime = d; return s }

const cpuUtil = `
meters = ["cpu"]
name   = "cpu_util"
unit   = "%"
type   = "gauge"
scale  = "100.0 / (10**9 * (resource_metadata.cpu_number or 1))"
`

// TestTransform runs Ceilometer's rate_of_change test cases (ceilometer/
// tests/unit/pipeline_base.py, Pike to Rocky) and the issue's own through
// the plugin over real gRPC: each case is batches in, samples out, and the
// counters at the end.
func TestTransform(t *testing.T) {
	t.Parallel()
	xformtest.Run(t, spec(), transformCases())
}

// transformCases are TestTransform's cases, which TestRawEquivalence also
// runs through both paths.
func transformCases() []xformtest.Case {
	md4 := map[string]string{"cpu_number": "4"}
	md2 := map[string]string{"cpu_number": "2"}
	weighted := map[string]string{"cpu_number": "4", "user_metadata.autoscaling_weight": "1.1"}
	gauge := func(v float64, rid string) out { return o("cpu_util", "%", "gauge", rid, v) }
	return []xformtest.Case{
		{
			Name: "conversion (test_rate_of_change_conversion)",
			Cfg:  cpuUtil,
			Batches: [][]sample.Sample{{
				smp("cpu", sample.Cumulative, 120e9, "r1", 0, md4), smp("cpu", sample.Cumulative, 120e9, "r2", 0, md2),
				smp("cpu", sample.Cumulative, 180e9, "r1", 60, md4), smp("cpu", sample.Cumulative, 180e9, "r2", 60, md2),
			}},
			Want:     [][]out{{gauge(25, "r1"), gauge(50, "r2")}},
			Counters: map[string]uint64{"first_sample": 2},
		},
		{
			Name: "metadata weight and missing keys in scale (test_rate_of_change_conversion_weight)",
			Cfg: `
meters = ["cpu"]
name   = "cpu_util"
unit   = "%"
type   = "gauge"
scale  = "(resource_metadata.user_metadata.autoscaling_weight or 1.0) * (resource_metadata.non.existent or 1.0) * (100.0 / (10**9 * (resource_metadata.cpu_number or 1)))"
`,
			Batches: [][]sample.Sample{{smp("cpu", sample.Cumulative, 120e9, "r1", 0, weighted), smp("cpu", sample.Cumulative, 180e9, "r1", 60, weighted)}},
			Want:    [][]out{{gauge(27.5, "r1")}},
		},
		{
			Name:     "cumulative reset: the new volume is the growth (negative_cumulative_delta)",
			Cfg:      cpuUtil,
			Batches:  [][]sample.Sample{{smp("cpu", sample.Cumulative, 180e9, "r1", 0, md4), smp("cpu", sample.Cumulative, 120e9, "r1", 60, md4)}},
			Want:     [][]out{{gauge(50, "r1")}},
			Counters: map[string]uint64{"counter_reset": 1, "first_sample": 1},
		},
		{
			Name:    "a gauge may fall (negative_gauge_delta)",
			Cfg:     cpuUtil,
			Batches: [][]sample.Sample{{smp("cpu", sample.Gauge, 180e9, "r1", 0, md4), smp("cpu", sample.Gauge, 120e9, "r1", 60, md4)}},
			Want:    [][]out{{gauge(-25, "r1")}},
		},
		{
			// Ceilometer emitted a rate of 0.0 here; an equal timestamp is
			// no interval, so this gives nothing and counts it.
			Name:     "equal timestamps give no output (zero_delay)",
			Cfg:      cpuUtil,
			Batches:  [][]sample.Sample{{smp("cpu", sample.Cumulative, 120e9, "r1", 0, md4), smp("cpu", sample.Cumulative, 121e9, "r1", 0, md4)}},
			Want:     [][]out{{}},
			Counters: map[string]uint64{"out_of_order": 1, "first_sample": 1},
		},
		{
			Name:     "first sample of a series (no_predecessor)",
			Cfg:      cpuUtil,
			Batches:  [][]sample.Sample{{smp("cpu", sample.Cumulative, 120e9, "r1", 0, md4)}},
			Want:     [][]out{{}},
			Counters: map[string]uint64{"first_sample": 1},
		},
		{
			Name: "monotonic time preferred to timestamps (precision)",
			Cfg:  cpuUtil,
			Batches: [][]sample.Sample{{
				mono(smp("cpu", sample.Cumulative, 125e9, "r1", 0, md4), 1000*time.Second),
				mono(smp("cpu", sample.Cumulative, 165e9, "r1", 12345, md4), 1010*time.Second),
			}},
			Want: [][]out{{gauge(100, "r1")}},
		},
		{
			Name:    "max caps the output (test_rate_of_change_max)",
			Cfg:     cpuUtil + "max = 100\n",
			Batches: [][]sample.Sample{{smp("cpu", sample.Cumulative, 125e9, "r1", 0, md4), smp("cpu", sample.Cumulative, 165e9+12345, "r1", 10, md4)}},
			Want:    [][]out{{gauge(100, "r1")}},
		},
		{
			Name: "an older sample is dropped and the series keeps its state (out_of_order)",
			Cfg:  cpuUtil,
			Batches: [][]sample.Sample{{
				smp("cpu", sample.Cumulative, 125e9, "r1", 10, md4), smp("cpu", sample.Cumulative, 120e9, "r1", 0, md4),
				smp("cpu", sample.Cumulative, 130e9, "r1", 20, md4),
			}},
			Want:     [][]out{{gauge(12.5, "r1")}},
			Counters: map[string]uint64{"out_of_order": 1, "first_sample": 1, "counter_reset": 0},
		},
		{
			Name: "out-of-order arrival across batches",
			Cfg:  cpuUtil,
			Batches: [][]sample.Sample{
				{smp("cpu", sample.Cumulative, 100e9, "r1", 0, md4), smp("cpu", sample.Cumulative, 140e9, "r1", 20, md4)},
				{smp("cpu", sample.Cumulative, 120e9, "r1", 10, md4)},
				{smp("cpu", sample.Cumulative, 180e9, "r1", 40, md4)},
			},
			Want:     [][]out{{gauge(50, "r1")}, {}, {gauge(50, "r1")}},
			Counters: map[string]uint64{"out_of_order": 1, "first_sample": 1},
		},
		{
			Name: "name and unit mapping (test_rate_of_change_mapping)",
			Cfg: `
meters        = ["disk.read.bytes", "disk.write.requests"]
map_from      = "disk\\.(read|write)\\.(bytes|requests)"
map_to        = "disk.$1.$2.rate"
unit_map_from = "(B|request)"
unit_map_to   = "$1/s"
type          = "gauge"
`,
			Batches: [][]sample.Sample{{
				unit(smp("disk.read.bytes", sample.Cumulative, 1000, "r1", 0, nil), "B"),
				unit(smp("disk.write.requests", sample.Cumulative, 1000, "r2", 0, nil), "request"),
				unit(smp("disk.read.bytes", sample.Cumulative, 1000+7*60*42, "r1", 7*60, nil), "B"),
				unit(smp("disk.write.requests", sample.Cumulative, 1000+7*60*42, "r2", 7*60, nil), "request"),
			}},
			Want: [][]out{{o("disk.read.bytes.rate", "B/s", "gauge", "r1", 42), o("disk.write.requests.rate", "request/s", "gauge", "r2", 42)}},
		},
		{
			Name: "unmatched samples pass in place; the type defaults to the input's",
			Cfg:  `meters = ["disk.*"]`,
			Batches: [][]sample.Sample{{
				smp("disk.read.bytes", sample.Cumulative, 0, "r1", 0, nil), smp("memory", sample.Gauge, 512, "r1", 0, nil),
				smp("disk.read.bytes", sample.Cumulative, 100, "r1", 10, nil),
			}},
			Want: [][]out{{o("memory", "ns", "gauge", "r1", 512), o("disk.read.bytes", "ns", "cumulative", "r1", 10)}},
		},
		{
			Name: "unmatched samples dropped",
			Cfg:  cpuUtil + `unmatched = "drop"`,
			Batches: [][]sample.Sample{{
				smp("memory", sample.Gauge, 512, "r1", 0, nil), smp("cpu", sample.Cumulative, 0, "r1", 0, md4),
				smp("cpu", sample.Cumulative, 4e9, "r1", 1, md4), smp("vcpus", sample.Gauge, 4, "r1", 1, nil),
			}},
			Want: [][]out{{gauge(100, "r1")}},
		},
		{
			Name: "a scale failing for some samples is counted and the batch goes on",
			Cfg:  "meters = [\"cpu\"]\nscale = \"100.0 / (10**9 * resource_metadata.cpu_number)\"",
			Batches: [][]sample.Sample{{
				smp("cpu", sample.Cumulative, 0, "zero", 0, map[string]string{"cpu_number": "0"}),
				smp("cpu", sample.Cumulative, 0, "text", 0, map[string]string{"cpu_number": "four"}),
				smp("cpu", sample.Cumulative, 0, "ok", 0, md4),
				smp("cpu", sample.Cumulative, 1e9, "zero", 1, map[string]string{"cpu_number": "0"}),
				smp("cpu", sample.Cumulative, 1e9, "text", 1, map[string]string{"cpu_number": "four"}),
				smp("cpu", sample.Cumulative, 1e9, "ok", 1, md4),
			}},
			Want:     [][]out{{o("cpu", "ns", "cumulative", "ok", 25)}},
			Counters: map[string]uint64{"scale_failed": 2, "first_sample": 3},
		},
	}
}

// TestRedelivery: a delivery retried after a publisher failed brings the
// same samples again; the rate it gave comes out again with the same
// message id (so the store keeps it once) and the series is not disturbed.
func TestRedelivery(t *testing.T) {
	t.Parallel()
	c := sdktest.Transformer(t, spec(), cpuUtil)
	md := map[string]string{"cpu_number": "2"}
	a, b := smp("cpu", sample.Cumulative, 0, "r1", 0, md), smp("cpu", sample.Cumulative, 2e9, "r1", 10, md)
	first, err := c.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{a, b}})
	require.NoError(t, err)
	require.Len(t, first.Samples, 1)
	again, err := c.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{a, b}})
	require.NoError(t, err)
	require.Len(t, again.Samples, 1, "a (older) is out of order, b is the redelivery")
	require.Equal(t, first.Samples[0].MessageID, again.Samples[0].MessageID)
	require.Equal(t, first.Samples[0].Volume, again.Samples[0].Volume)
	require.NotEqual(t, b.MessageID, first.Samples[0].MessageID)
	next, err := c.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{smp("cpu", sample.Cumulative, 6e9, "r1", 20, md)}})
	require.NoError(t, err)
	require.Equal(t, []out{gauge2(20)}, brief(next.Samples))
	counters, err := c.Counters(t.Context())
	require.NoError(t, err)
	require.Equal(t, uint64(1), counters["redelivered"])
}

func gauge2(v float64) out { return o("cpu_util", "%", "gauge", "r1", v) }

// TestBounds covers the cache bounds with an injected clock: idle series
// expire (their next sample is a first sample: no rate from a stale
// value), and past max_series the least recently seen series goes.
func TestBounds(t *testing.T) {
	t.Parallel()
	c := defaults()
	c.IdleExpiry, c.MaxSeries = "10m", 2
	r, err := newRate(c, hclog.NewNullLogger())
	require.NoError(t, err)
	clock := t0
	r.now = func() time.Time { return clock }
	feed := func(ss ...sample.Sample) []out {
		got, err := r.Transform(t.Context(), ss)
		require.NoError(t, err)
		return brief(got)
	}
	g := func(rid string, v float64) out { return o("cpu", "ns", "cumulative", rid, v) }
	feed(smp("cpu", sample.Cumulative, 0, "a", 0, nil), smp("cpu", sample.Cumulative, 0, "b", 0, nil))
	clock = clock.Add(5 * time.Minute)
	require.Equal(t, []out{g("a", 1)}, feed(smp("cpu", sample.Cumulative, 10, "a", 10, nil)))
	// c evicts b, the least recently seen.
	feed(smp("cpu", sample.Cumulative, 0, "c", 0, nil))
	require.Equal(t, uint64(1), r.Counters()["series_evicted"])
	require.Empty(t, feed(smp("cpu", sample.Cumulative, 10, "b", 10, nil)), "b was forgotten: a first sample again")
	require.Equal(t, uint64(2), r.Counters()["series_evicted"], "b came back in place of a")
	// 11 minutes later the series have expired: no rate from stale values.
	clock = clock.Add(11 * time.Minute)
	require.Empty(t, feed(smp("cpu", sample.Cumulative, 20, "a", 20, nil), smp("cpu", sample.Cumulative, 20, "c", 20, nil)))
	require.Equal(t, uint64(2), r.Counters()["series_expired"], "b and c expired")
	require.Equal(t, 2, r.series.Cache.Len())
	require.Equal(t, []out{g("a", 1)}, feed(smp("cpu", sample.Cumulative, 30, "a", 30, nil)))
}

// TestRestart: a new process has no cache, so its first sample of each
// series gives nothing, however old the series is; the second gives the
// rate over the interval it saw.
func TestRestart(t *testing.T) {
	t.Parallel()
	md := map[string]string{"cpu_number": "1"}
	before := sdktest.Transformer(t, spec(), cpuUtil)
	_, err := before.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{smp("cpu", sample.Cumulative, 0, "r1", 0, md), smp("cpu", sample.Cumulative, 5e9, "r1", 10, md)}})
	require.NoError(t, err)
	after := sdktest.Transformer(t, spec(), cpuUtil) // the restarted process
	got, err := after.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{smp("cpu", sample.Cumulative, 100e9, "r1", 1000, md)}})
	require.NoError(t, err)
	require.Empty(t, got.Samples, "no rate from a value the new process never saw")
	got, err = after.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{smp("cpu", sample.Cumulative, 105e9, "r1", 1010, md)}})
	require.NoError(t, err)
	require.Equal(t, []out{o("cpu_util", "%", "gauge", "r1", 50)}, brief(got.Samples))
}

func defaults() config { return spec().Defaults }

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	xformtest.CheckConfig(t, spec(), []xformtest.ConfigCase{
		{Name: "defaults", Src: ``},
		{Name: "ceilometer cpu_util", Src: cpuUtil + "max = 100\nidle_expiry = \"2h\"\nmax_series = 5000\nunmatched = \"drop\""},
		{Name: "unknown field in scale", Src: "\nscale = \"100.0 / (10**9 * cpu_number)\"", Want: []string{"2: Invalid value for scale"}, Detail: "column 18: unknown name cpu_number"},
		{Name: "constant division by zero", Src: `scale = "volume + 1 / (2 - 2)"`, Want: []string{"1: Invalid value for scale"}, Detail: "column 12: division by zero"},
		{Name: "python operator it cannot take", Src: `scale = "volume << 1"`, Want: []string{"1: Invalid value for scale"}, Detail: "bit shifts are not supported"},
		{Name: "scale gives a string", Src: `scale = "unit"`, Want: []string{"1: Invalid value for scale"}, Detail: "gives a str, not a number"},
		{Name: "bad idle", Src: `idle_expiry = "soon"`, Want: []string{"1: Invalid value for idle_expiry"}},
		{Name: "idle too short", Src: `idle_expiry = "1ms"`, Want: []string{"1: Invalid value for idle_expiry"}},
		{Name: "max_series zero", Src: `max_series = 0`, Want: []string{"1: Invalid value for max_series"}},
		{Name: "max_series huge", Src: `max_series = 100000000`, Want: []string{"1: Invalid value for max_series"}},
		{Name: "bad unmatched", Src: `unmatched = "keep"`, Want: []string{"1: Invalid value for unmatched"}},
		{Name: "unit map alone", Src: `unit_map_from = "B"`, Want: []string{"1: Invalid value for unit_map_to"}},
		{Name: "name with map", Src: "name = \"x\"\nmap_from = \"a\"\nmap_to = \"b\"", Want: []string{"1: Invalid value for name"}},
		{Name: "bad type", Src: `type = "counter"`, Want: []string{"1: Invalid value for type"}},
		{Name: "infinite max", Src: `max = 1e999`, Want: []string{"1: Invalid value for max"}},
		{Name: "bad glob", Src: `meters = ["["]`, Want: []string{"1: Invalid value for meters"}},
		{Name: "unknown attribute", Src: `target = {}`, Want: []string{"1: Unsupported argument"}},
	})
}

func TestExample(t *testing.T) {
	t.Parallel()
	s := spec()
	sdktest.CheckExample(t, "example.hcl", s.Info(), s.Register())
}
