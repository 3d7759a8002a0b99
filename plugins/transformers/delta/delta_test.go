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
	smp = xformtest.Sample
	o   = xformtest.O
)

type out = xformtest.Out

// TestTransform runs Ceilometer's delta test cases (pipeline_base.py's
// test_delta_transformer*, Pike to Rocky) and the over real gRPC.
func TestTransform(t *testing.T) {
	t.Parallel()
	xformtest.Run(t, spec(), transformCases())
}

// transformCases are TestTransform's cases, which TestRawEquivalence also
// runs through both paths.
func transformCases() []xformtest.Case {
	const newMeter = "meters = [\"cpu\"]\nname = \"new_meter\"\n"
	v1, v2 := map[string]string{"version": "1.0"}, map[string]string{"version": "2.0"}
	return []xformtest.Case{
		{
			// test_delta_transformer: the deltas keep the current sample's
			// metadata; a fall is a negative delta.
			Name:    "deltas",
			Cfg:     newMeter,
			Batches: [][]sample.Sample{{smp("cpu", sample.Cumulative, 26, "r", 0, v1), smp("cpu", sample.Cumulative, 16, "r", 1, v2), smp("cpu", sample.Cumulative, 53, "r", 2, v1)}},
			Want:    [][]out{{o("new_meter", "ns", "delta", "r", -10), o("new_meter", "ns", "delta", "r", 37)}},
		},
		{
			// test_delta_transformer_out_of_order: the older sample is
			// dropped and the series keeps its state.
			Name: "out of order",
			Cfg:  newMeter,
			Batches: [][]sample.Sample{{
				smp("cpu", sample.Cumulative, 26, "r", 300, v1), smp("cpu", sample.Cumulative, 16, "r", 0, v2), smp("cpu", sample.Cumulative, 53, "r", 301, v1),
			}},
			Want:     [][]out{{o("new_meter", "ns", "delta", "r", 27)}},
			Counters: map[string]uint64{"out_of_order": 1, "first_sample": 1},
		},
		{
			// test_delta_transformer_growth_only: the fall gives nothing,
			// and the next delta is from the fallen value.
			Name:     "growth only",
			Cfg:      newMeter + "growth_only = true\n",
			Batches:  [][]sample.Sample{{smp("cpu", sample.Cumulative, 26, "r", 0, v1), smp("cpu", sample.Cumulative, 16, "r", 1, v2), smp("cpu", sample.Cumulative, 53, "r", 2, v1)}},
			Want:     [][]out{{o("new_meter", "ns", "delta", "r", 37)}},
			Counters: map[string]uint64{"negative_delta": 1},
		},
		{
			Name:    "an equal timestamp is a delta, as in Ceilometer",
			Cfg:     newMeter,
			Batches: [][]sample.Sample{{smp("cpu", sample.Cumulative, 10, "r", 0, nil), smp("cpu", sample.Cumulative, 15, "r", 0, nil)}},
			Want:    [][]out{{o("new_meter", "ns", "delta", "r", 5)}},
		},
		{
			Name: "series are per name and resource; across batches; names kept without a target",
			Cfg:  `meters = ["disk.*"]`,
			Batches: [][]sample.Sample{
				{smp("disk.read.bytes", sample.Cumulative, 100, "a", 0, nil), smp("disk.read.bytes", sample.Cumulative, 500, "b", 0, nil), smp("disk.write.bytes", sample.Cumulative, 7, "a", 0, nil)},
				{smp("disk.read.bytes", sample.Cumulative, 150, "a", 10, nil), smp("disk.write.bytes", sample.Cumulative, 9, "a", 10, nil), smp("disk.read.bytes", sample.Cumulative, 600, "b", 10, nil)},
			},
			Want: [][]out{nil, {
				o("disk.read.bytes", "ns", "delta", "a", 50), o("disk.write.bytes", "ns", "delta", "a", 2), o("disk.read.bytes", "ns", "delta", "b", 100),
			}},
			Counters: map[string]uint64{"first_sample": 3},
		},
		{
			Name:    "unmatched pass or drop",
			Cfg:     newMeter + "unmatched = \"drop\"\n",
			Batches: [][]sample.Sample{{smp("memory", sample.Gauge, 1, "r", 0, nil), smp("cpu", sample.Cumulative, 1, "r", 0, nil), smp("cpu", sample.Cumulative, 3, "r", 1, nil)}},
			Want:    [][]out{{o("new_meter", "ns", "delta", "r", 2)}},
		},
		{
			Name:    "unmatched samples pass in place",
			Cfg:     newMeter,
			Batches: [][]sample.Sample{{smp("cpu", sample.Cumulative, 1, "r", 0, nil), smp("memory", sample.Gauge, 1, "r", 0, nil), smp("cpu", sample.Cumulative, 3, "r", 1, nil)}},
			Want:    [][]out{{o("memory", "ns", "gauge", "r", 1), o("new_meter", "ns", "delta", "r", 2)}},
		},
	}
}

// TestMetadata: a delta carries the current sample's metadata and
// identity (test_delta_transformer's resource_metadata checks).
func TestMetadata(t *testing.T) {
	t.Parallel()
	c := sdktest.Transformer(t, spec(), `name = "new_meter"`)
	a := smp("cpu", sample.Cumulative, 26, "r", 0, map[string]string{"version": "1.0"})
	b := smp("cpu", sample.Cumulative, 16, "r", 1, map[string]string{"version": "2.0"})
	b.UserID, b.ProjectID = "u2", "p2"
	got, err := c.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{a, b}})
	require.NoError(t, err)
	require.Len(t, got.Samples, 1)
	d := got.Samples[0]
	require.Equal(t, map[string]string{"version": "2.0"}, d.Metadata)
	require.Equal(t, "u2", d.UserID)
	require.Equal(t, "p2", d.ProjectID)
	require.Equal(t, b.Timestamp, d.Timestamp)
	require.NotEqual(t, b.MessageID, d.MessageID)
}

// TestRedelivery: a retried delivery gives the same delta with the same
// message id, and the series goes on from where it was.
func TestRedelivery(t *testing.T) {
	t.Parallel()
	c := sdktest.Transformer(t, spec(), `name = "cpu.delta"`)
	batch := []sample.Sample{smp("cpu", sample.Cumulative, 10, "r", 0, nil), smp("cpu", sample.Cumulative, 25, "r", 10, nil)}
	first, err := c.Transform(t.Context(), &sample.Batch{Samples: batch})
	require.NoError(t, err)
	again, err := c.Transform(t.Context(), &sample.Batch{Samples: batch})
	require.NoError(t, err)
	require.Equal(t, xformtest.Brief(first.Samples), xformtest.Brief(again.Samples))
	require.Equal(t, first.Samples[0].MessageID, again.Samples[0].MessageID)
	next, err := c.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{smp("cpu", sample.Cumulative, 30, "r", 20, nil)}})
	require.NoError(t, err)
	require.Equal(t, []out{o("cpu.delta", "ns", "delta", "r", 5)}, xformtest.Brief(next.Samples))
}

// TestIdle: a series idle past idle_expiry starts again, so no delta spans
// the gap with a stale value.
func TestIdle(t *testing.T) {
	t.Parallel()
	c := spec().Defaults
	c.IdleExpiry = "15m"
	d, err := newDelta(c, hclog.NewNullLogger())
	require.NoError(t, err)
	clock := xformtest.T0
	d.now = func() time.Time { return clock }
	got, err := d.Transform(t.Context(), []sample.Sample{smp("cpu", sample.Cumulative, 1, "r", 0, nil)})
	require.NoError(t, err)
	require.Empty(t, got)
	clock = clock.Add(16 * time.Minute)
	got, err = d.Transform(t.Context(), []sample.Sample{smp("cpu", sample.Cumulative, 100, "r", 960, nil)})
	require.NoError(t, err)
	require.Empty(t, got)
	require.Equal(t, uint64(1), d.Counters()["series_expired"])
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	xformtest.CheckConfig(t, spec(), []xformtest.ConfigCase{
		{Name: "defaults", Src: ``},
		{Name: "everything", Src: "meters = [\"cpu\"]\nname = \"cpu.delta\"\ngrowth_only = true\nunmatched = \"drop\"\nidle_expiry = \"30m\"\nmax_series = 10"},
		{Name: "unit is not delta's", Src: `unit = "ns"`, Want: []string{"1: Unsupported argument"}},
		{Name: "bad idle", Src: `idle_expiry = "1y"`, Want: []string{"1: Invalid value for idle_expiry"}},
		{Name: "bad max_series", Src: `max_series = -1`, Want: []string{"1: Invalid value for max_series"}},
		{Name: "bad map", Src: "map_from = \"(\"\nmap_to = \"x\"", Want: []string{"1: Invalid value for map_from"}},
		{Name: "wrong type", Src: `growth_only = "yes"`, Want: []string{"1: Incorrect attribute value type"}},
	})
}

func TestExample(t *testing.T) {
	t.Parallel()
	s := spec()
	sdktest.CheckExample(t, "example.hcl", s.Info(), s.Register())
}
