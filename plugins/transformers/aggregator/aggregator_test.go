package main

import (
	"sort"
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

func fixed() time.Time { return xformtest.T0.Add(time.Second) }

// swiftSamples are _do_test_aggregator's six samples: one resource, delta
// volumes, two users and two projects in every combination.
func swiftSamples() []sample.Sample {
	mk := func(vol float64, user, project, version string, sec float64) sample.Sample {
		s := smp("storage.objects.incoming.bytes", sample.Delta, vol, "test_resource", sec, map[string]string{"version": version})
		s.Unit, s.UserID, s.ProjectID = "B", user, project
		return s
	}
	return []sample.Sample{
		mk(26, "test_user", "test_proj", "1.0", 0), mk(16, "test_user", "test_proj", "2.0", 0.1),
		mk(53, "test_user_bis", "test_proj_bis", "1.0", 0.2), mk(42, "test_user_bis", "test_proj_bis", "2.0", 0.3),
		mk(15, "test_user", "test_proj_bis", "2.0", 0.4), mk(2, "test_user_bis", "test_proj", "3.0", 0.5),
	}
}

type merged struct {
	Volume                 float64
	User, Project, Version string
}

// TestPolicies runs test_aggregator_metadata, _user_last_and_metadata_last,
// _user_first_and_metadata_last, _all_first, _all_last, _all_mixed and
// _metadata_default over real gRPC: the groups Ceilometer's key makes and
// what each merge policy keeps.
func TestPolicies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, cfg string
		want      []merged // sorted by volume, as Ceilometer's tests sort
	}{
		{"metadata last", `resource_metadata = "last"`, []merged{
			{2, "test_user_bis", "test_proj", "3.0"}, {15, "test_user", "test_proj_bis", "2.0"},
			{42, "test_user", "test_proj", "2.0"}, {95, "test_user_bis", "test_proj_bis", "2.0"},
		}},
		{"metadata first", `resource_metadata = "first"`, []merged{
			{2, "test_user_bis", "test_proj", "3.0"}, {15, "test_user", "test_proj_bis", "2.0"},
			{42, "test_user", "test_proj", "1.0"}, {95, "test_user_bis", "test_proj_bis", "1.0"},
		}},
		{"user last and metadata last", "resource_metadata = \"last\"\nuser_id = \"last\"", []merged{
			{44, "test_user_bis", "test_proj", "3.0"}, {110, "test_user", "test_proj_bis", "2.0"},
		}},
		{"user first and metadata last", "resource_metadata = \"last\"\nuser_id = \"first\"", []merged{
			{44, "test_user", "test_proj", "3.0"}, {110, "test_user_bis", "test_proj_bis", "2.0"},
		}},
		{"all first", "resource_metadata = \"first\"\nuser_id = \"first\"\nproject_id = \"first\"", []merged{
			{154, "test_user", "test_proj", "1.0"},
		}},
		{"all last", "resource_metadata = \"last\"\nuser_id = \"last\"\nproject_id = \"last\"", []merged{
			{154, "test_user_bis", "test_proj", "3.0"},
		}},
		{"all mixed", "resource_metadata = \"drop\"\nuser_id = \"first\"\nproject_id = \"last\"", []merged{
			{154, "test_user", "test_proj", ""},
		}},
		{"metadata default", "user_id = \"last\"\nproject_id = \"last\"", []merged{
			{154, "test_user_bis", "test_proj", "3.0"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := sdktest.Transformer(t, spec(fixed), tc.cfg+"\nname = \"aggregated-bytes\"\n")
			got, err := c.Transform(t.Context(), &sample.Batch{Samples: swiftSamples()})
			require.NoError(t, err)
			var m []merged
			for _, s := range got.Samples {
				require.Equal(t, "aggregated-bytes", s.Name)
				require.Equal(t, sample.Delta, s.Type)
				m = append(m, merged{s.Volume, s.UserID, s.ProjectID, s.Metadata["version"]})
				if tc.name == "all mixed" {
					require.Empty(t, s.Metadata)
				}
			}
			sort.Slice(m, func(i, j int) bool { return m[i].Volume < m[j].Volume })
			require.Equal(t, tc.want, m)
		})
	}
}

func TestTransform(t *testing.T) {
	t.Parallel()
	vol := func(name string, typ sample.Type, v float64) sample.Sample {
		s := smp(name, typ, v, "r", v, nil)
		s.Unit = "B"
		return s
	}
	anon := func(v float64) sample.Sample {
		s := smp("storage.objects.outgoing.bytes", sample.Delta, v, "test_resource", v, nil)
		s.UserID, s.ProjectID = "", ""
		return s
	}
	xformtest.Run(t, spec(fixed), []xformtest.Case{
		{
			// test_aggregator_meter_type: gauges average, cumulatives keep
			// the last, deltas add up.
			Name: "meter types",
			Cfg:  "size = 9",
			Batches: [][]sample.Sample{{
				vol("testgauge", sample.Gauge, 1), vol("testgauge", sample.Gauge, 2), vol("testgauge", sample.Gauge, 3),
				vol("testcumulative", sample.Cumulative, 1), vol("testcumulative", sample.Cumulative, 2), vol("testcumulative", sample.Cumulative, 3),
				vol("testdelta", sample.Delta, 1), vol("testdelta", sample.Delta, 2), vol("testdelta", sample.Delta, 3),
			}},
			Want: [][]out{{
				o("testgauge", "B", "gauge", "r", 2), o("testcumulative", "B", "cumulative", "r", 3), o("testdelta", "B", "delta", "r", 6),
			}},
			Counters: map[string]uint64{"released_on_size": 1},
		},
		{
			// test_aggregator_sized_flush: two users, two groups, released
			// once two samples came in.
			Name:    "sized flush",
			Cfg:     "size = 2",
			Batches: [][]sample.Sample{swiftSamples()[0:1], swiftSamples()[2:3]},
			Want: [][]out{nil, {
				o("storage.objects.incoming.bytes", "B", "delta", "test_resource", 26),
				o("storage.objects.incoming.bytes", "B", "delta", "test_resource", 53),
			}},
		},
		{
			// test_aggregator_without_authentication: no user or project is
			// one group.
			Name:    "without authentication",
			Cfg:     "size = 2",
			Batches: [][]sample.Sample{{anon(26)}, {anon(16)}},
			Want:    [][]out{nil, {o("storage.objects.outgoing.bytes", "ns", "delta", "test_resource", 42)}},
		},
		{
			Name:     "the host's flush lets the groups go",
			Cfg:      "size = 100",
			Batches:  [][]sample.Sample{{vol("g", sample.Gauge, 2), vol("g", sample.Gauge, 4)}},
			Want:     [][]out{nil},
			Flushed:  []out{o("g", "B", "gauge", "r", 3)},
			Counters: map[string]uint64{"released_on_flush": 1},
		},
		{
			Name: "target and scale, as Ceilometer's aggregator applied them",
			Cfg:  "size = 2\nname = \"disk.kb\"\nunit = \"KB\"\ntype = \"gauge\"\nscale = \"volume / 1024\"",
			Batches: [][]sample.Sample{{
				vol("disk", sample.Cumulative, 1024), vol("disk", sample.Cumulative, 4096),
			}},
			// The second is cumulative: it replaces the first (1 KB) with
			// 4 KB; the merged sample is a gauge of two samples: 2 KB.
			Want: [][]out{{o("disk.kb", "KB", "gauge", "r", 2)}},
		},
		{
			Name: "max_groups lets the held groups go before opening one more",
			Cfg:  "size = 100\nmax_groups = 2",
			Batches: [][]sample.Sample{{
				vol("a", sample.Delta, 1), vol("b", sample.Delta, 2), vol("a", sample.Delta, 3), vol("c", sample.Delta, 4),
			}},
			Want:     [][]out{{o("a", "B", "delta", "r", 4), o("b", "B", "delta", "r", 2)}},
			Flushed:  []out{o("c", "B", "delta", "r", 4)},
			Counters: map[string]uint64{"released_on_max_groups": 1},
		},
		{
			Name:     "a failing scale drops the sample and counts it",
			Cfg:      "size = 2\nscale = \"volume / float(resource_metadata.div)\"",
			Batches:  [][]sample.Sample{{vol("d", sample.Delta, 10), vol("d", sample.Delta, 20)}},
			Want:     [][]out{nil},
			Counters: map[string]uint64{"scale_failed": 2},
		},
		{
			Name:    "unmatched samples go on at once",
			Cfg:     "meters = [\"a\"]\nsize = 2",
			Batches: [][]sample.Sample{{vol("a", sample.Delta, 1), vol("b", sample.Delta, 5), vol("a", sample.Delta, 2)}},
			Want:    [][]out{{o("b", "B", "delta", "r", 5), o("a", "B", "delta", "r", 3)}},
		},
	})
}

// clock is a settable clock for the plugin under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestTimedFlush is test_aggregator_timed_flush and
// _timed_flush_no_matching_samples with an injected clock: the groups go
// once their first sample is retention_time old, at the next batch (the
// host calls Transform only with samples; any sample will do).
func TestTimedFlush(t *testing.T) {
	t.Parallel()
	clk := &clock{t: xformtest.T0}
	c := sdktest.Transformer(t, spec(clk.now), "meters = [\"storage.*\"]\nsize = 900\nretention_time = \"60s\"")
	in := swiftSamples()[0]
	got, err := c.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{in}})
	require.NoError(t, err)
	require.Empty(t, got.Samples)
	other := smp("unrelated-sample", sample.Gauge, 1, "x", 1, nil)
	clk.add(30 * time.Second)
	got, err = c.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{other}})
	require.NoError(t, err)
	require.Equal(t, []out{o("unrelated-sample", "ns", "gauge", "x", 1)}, xformtest.Brief(got.Samples))
	clk.add(91 * time.Second)
	got, err = c.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{other}})
	require.NoError(t, err)
	require.Equal(t, []out{o("unrelated-sample", "ns", "gauge", "x", 1), o("storage.objects.incoming.bytes", "B", "delta", "test_resource", 26)},
		xformtest.Brief(got.Samples))
	counters, err := c.Counters(t.Context())
	require.NoError(t, err)
	require.Equal(t, uint64(1), counters["released_on_time"])

	// Nothing held: time passing releases nothing.
	clk.add(time.Hour)
	got, err = c.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{other}})
	require.NoError(t, err)
	require.Len(t, got.Samples, 1)
}

// TestTimestampPolicy: timestamp = "last" keeps the newest sample's time
// (the aggregator-to-rate_of_change test relied on it).
func TestTimestampPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy string
		want   time.Time
	}{{"first", xformtest.T0}, {"last", xformtest.T0.Add(time.Second)}} {
		c := sdktest.Transformer(t, spec(fixed), "size = 2\ntimestamp = \""+tc.policy+"\"")
		got, err := c.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{
			smp("cpu", sample.Cumulative, 0, "r", 0, nil), smp("cpu", sample.Cumulative, 1, "r", 1, nil),
		}})
		require.NoError(t, err)
		require.Len(t, got.Samples, 1)
		require.Equal(t, tc.want, got.Samples[0].Timestamp, tc.policy)
		require.Equal(t, 1.0, got.Samples[0].Volume)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	xformtest.CheckConfig(t, spec(fixed), []xformtest.ConfigCase{
		{Name: "defaults", Src: ``},
		{Name: "retention only", Src: `retention_time = "60s"`},
		{Name: "size 0 with retention", Src: "size = 0\nretention_time = \"5m\""},
		{Name: "size 0 alone", Src: `size = 0`, Want: []string{"1: Invalid value for size"}, Detail: "needs a retention_time"},
		{Name: "negative size", Src: `size = -1`, Want: []string{"1: Invalid value for size"}},
		{Name: "retention as seconds", Src: `retention_time = "60"`, Want: []string{"1: Invalid value for retention_time"}},
		{Name: "metadata policy", Src: `resource_metadata = "invalid"`, Want: []string{"1: Invalid value for resource_metadata"}, Detail: `"first", "last" or "drop"`},
		{Name: "user policy drop", Src: `user_id = "drop"`, Want: []string{"1: Invalid value for user_id"}},
		{Name: "project policy", Src: `project_id = "any"`, Want: []string{"1: Invalid value for project_id"}},
		{Name: "timestamp policy", Src: `timestamp = "middle"`, Want: []string{"1: Invalid value for timestamp"}},
		{Name: "max_groups", Src: `max_groups = 0`, Want: []string{"1: Invalid value for max_groups"}},
		{Name: "scale", Src: `scale = "volume // "`, Want: []string{"1: Invalid value for scale"}},
	})
}

func TestExample(t *testing.T) {
	t.Parallel()
	s := spec(fixed)
	sdktest.CheckExample(t, "example.hcl", s.Info(), s.Register())
}
