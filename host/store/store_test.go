package store

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/store/series"
	"github.com/altimeter/altimeter/sdk/sample"
)

var t0 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// testOptions are the options of the tests' stores: the clock two days
// after t0, every meter on the medium policy.
func testOptions() Options {
	o := Options{Now: func() time.Time { return t0.Add(48 * time.Hour) }}
	o.Series.Policies = series.DefaultPolicies()
	o.Series.Rules = []series.Rule{{Pattern: "*", Policy: "medium"}}
	return o
}

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, testOptions())
	require.NoError(t, err)
	return s
}

// fixture: 2 projects, 3 resources, meters cpu_util (every minute for 3 h)
// and disk (every 10 min); vm-1's flavor changes at t0+90m.
func fixture(t *testing.T, s *Store) []sample.Sample {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 9))
	type res struct{ id, project, user string }
	rs := []res{{"vm-1", "p-a", "u-1"}, {"vm-2", "p-a", "u-2"}, {"vm-3", "p-b", "u-3"}}
	var all []sample.Sample
	for i := 0; i < 180; i++ {
		ts := t0.Add(time.Duration(i) * time.Minute)
		for _, r := range rs {
			flavor := "m1.small"
			if r.id == "vm-1" && i >= 90 {
				flavor = "m1.large"
			}
			md := map[string]string{"flavor.name": flavor, "host": "c1"}
			all = append(all, sample.Sample{
				Name: "cpu_util", Type: sample.Gauge, Unit: "%", Volume: math.Round(rng.Float64()*1000) / 10,
				ResourceID: r.id, ProjectID: r.project, UserID: r.user, Source: "openstack", Timestamp: ts, Metadata: md,
			})
			if i%10 == 0 {
				all = append(all, sample.Sample{
					Name: "disk.read.bytes", Type: sample.Cumulative, Unit: "B", Volume: float64(i * 1000),
					ResourceID: r.id, ProjectID: r.project, UserID: r.user, Source: "openstack", Timestamp: ts,
					MessageID: fmt.Sprintf("00000000-0000-4000-8000-%012d", len(all)), Metadata: md,
				})
			}
		}
	}
	ctx := context.Background()
	for i := 0; i < len(all); i += 100 {
		require.NoError(t, s.Write(ctx, all[i:min(i+100, len(all))]))
	}
	return all
}

func TestStoreReadsWhatItWrote(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := openTest(t, dir)
	all := fixture(t, s)
	// A redelivered batch changes nothing.
	require.NoError(t, s.Write(ctx, all[:300]))

	t.Run("samples newest first with pages", func(t *testing.T) {
		var got []Sample
		marker := ""
		for {
			page, err := s.Samples(ctx, Filter{Meter: "cpu_util", ResourceID: "vm-2"}, ListOptions{Limit: 50, Marker: marker})
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			marker = page[len(page)-1].MessageID
		}
		require.Len(t, got, 180)
		for i := 1; i < len(got); i++ {
			require.True(t, got[i-1].Timestamp.After(got[i].Timestamp))
		}
		require.Equal(t, t0.Add(179*time.Minute), got[0].Timestamp)
	})
	t.Run("sample by canonical and by explicit id", func(t *testing.T) {
		page, err := s.Samples(ctx, Filter{ResourceID: "vm-1"}, ListOptions{Limit: 500})
		require.NoError(t, err)
		require.Len(t, page, 180+18)
		for _, row := range page[:40] {
			got, err := s.Sample(ctx, row.MessageID, "")
			require.NoError(t, err, row.MessageID)
			require.Equal(t, row, got)
			_, err = s.Sample(ctx, row.MessageID, "p-b")
			require.ErrorIs(t, err, ErrNotFound)
		}
		_, err = s.Sample(ctx, "00000000-0000-4000-8000-999999999999", "")
		require.ErrorIs(t, err, ErrNotFound)
	})
	t.Run("metadata as of the sample time", func(t *testing.T) {
		rows, err := s.Samples(ctx, Filter{Meter: "cpu_util", ResourceID: "vm-1", Metadata: map[string]string{"flavor.name": "m1.small"}}, ListOptions{})
		require.NoError(t, err)
		require.Len(t, rows, 90)
		for _, r := range rows {
			require.Equal(t, "m1.small", r.Metadata["flavor.name"])
			require.True(t, r.Timestamp.Before(t0.Add(90*time.Minute)))
		}
	})
	t.Run("project scope", func(t *testing.T) {
		rows, err := s.Samples(ctx, Filter{ProjectID: "p-b"}, ListOptions{Limit: 10000})
		require.NoError(t, err)
		require.Len(t, rows, 180+18)
		ms, err := s.Meters(ctx, Filter{ProjectID: "p-a"}, ListOptions{})
		require.NoError(t, err)
		require.Len(t, ms, 4)
		rs, err := s.Resources(ctx, Filter{ProjectID: "p-a"}, ListOptions{})
		require.NoError(t, err)
		require.Len(t, rs, 2)
		_, err = s.Resource(ctx, "vm-3", "p-a")
		require.ErrorIs(t, err, ErrNotFound)
		r, err := s.Resource(ctx, "vm-1", "p-a")
		require.NoError(t, err)
		require.Equal(t, "m1.large", r.Metadata["flavor.name"])
		require.Equal(t, []string{"cpu_util", "disk.read.bytes"}, r.Meters)
		require.Equal(t, t0, r.FirstSample)
		require.Equal(t, t0.Add(179*time.Minute), r.LastSample)
	})
	t.Run("meters page by meter_id", func(t *testing.T) {
		first, err := s.Meters(ctx, Filter{}, ListOptions{Limit: 4})
		require.NoError(t, err)
		require.Len(t, first, 4)
		rest, err := s.Meters(ctx, Filter{}, ListOptions{Marker: first[3].MeterID})
		require.NoError(t, err)
		require.Len(t, rest, 2)
		require.Equal(t, "disk.read.bytes", rest[0].Name)
	})
	t.Run("unique meters: the limit and the marker count names", func(t *testing.T) {
		all, err := s.Meters(ctx, Filter{}, ListOptions{UniqueNames: true})
		require.NoError(t, err)
		require.Equal(t, []string{"cpu_util", "disk.read.bytes"}, []string{all[0].Name, all[1].Name})
		require.Len(t, all, 2)
		first, err := s.Meters(ctx, Filter{}, ListOptions{UniqueNames: true, Limit: 1})
		require.NoError(t, err)
		require.Len(t, first, 1)
		require.Equal(t, "cpu_util", first[0].Name)
		// The marker of a unique listing is its meter_id, None+<name>.
		rest, err := s.Meters(ctx, Filter{}, ListOptions{UniqueNames: true, Limit: 1, Marker: MeterID("None", "cpu_util")})
		require.NoError(t, err)
		require.Len(t, rest, 1)
		require.Equal(t, "disk.read.bytes", rest[0].Name)
	})

	require.NoError(t, s.Close())
	s = openTest(t, dir)
	defer s.Close()
	rows, err := s.Samples(ctx, Filter{}, ListOptions{Limit: 10000})
	require.NoError(t, err)
	require.Len(t, rows, len(all), "restart keeps everything, and nothing twice")
}

// TestStatisticsPaths checks that roll-ups and raw samples give the same
// answer, and both the answer computed here from the input.
func TestStatisticsPaths(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	all := fixture(t, s)

	type key struct {
		group string
		start time.Time
	}
	want := map[key]*series.Agg{}
	for _, sm := range all {
		if sm.Name != "cpu_util" {
			continue
		}
		k := key{sm.ProjectID, t0.Add(sm.Timestamp.Sub(t0).Truncate(time.Hour))}
		if want[k] == nil {
			want[k] = &series.Agg{}
		}
		want[k].Add(sm.Timestamp.UnixMicro(), sm.Volume)
	}
	q := StatsQuery{Filter: Filter{Meter: "cpu_util", Start: t0, End: t0.Add(3 * time.Hour)}, Period: time.Hour, GroupBy: []string{"project_id"},
		Aggregates: []Aggregate{{Func: "count"}, {Func: "sum"}, {Func: "min"}, {Func: "max"}, {Func: "avg"}, {Func: "stddev"}}}
	rolled, err := s.Statistics(ctx, q)
	require.NoError(t, err)
	q.Aggregates = append(q.Aggregates, Aggregate{Func: "cardinality", Param: "resource_id"}) // forces the raw path
	raw, err := s.Statistics(ctx, q)
	require.NoError(t, err)
	require.Len(t, rolled, 6)
	require.Len(t, raw, 6)
	for i := range rolled {
		a, b := rolled[i], raw[i]
		w := want[key{a.GroupBy["project_id"], a.PeriodStart}]
		require.NotNil(t, w, a.PeriodStart)
		for _, got := range []Statistics{a, b} {
			require.Equal(t, w.Count, got.Count)
			require.InDelta(t, w.Sum, got.Sum, 1e-6)
			require.Equal(t, w.Min, got.Min)
			require.Equal(t, w.Max, got.Max)
			require.InDelta(t, w.StdDev(), got.Aggregate["stddev"], 1e-6)
			require.Equal(t, a.PeriodStart.Add(time.Hour), got.PeriodEnd)
		}
		want := 2.0
		if a.GroupBy["project_id"] == "p-b" {
			want = 1
		}
		require.Equal(t, want, b.Aggregate["cardinality/resource_id"])
	}

	// The whole meter over an explicit range: the per-meter roll-ups,
	// without listing series; the same as the groups added up.
	whole, err := s.Statistics(ctx, StatsQuery{Filter: Filter{Meter: "cpu_util", Start: t0, End: t0.Add(3 * time.Hour)}, Period: time.Hour})
	require.NoError(t, err)
	require.Len(t, whole, 3)
	for _, w := range whole {
		var n int64
		var sum float64
		for _, g := range rolled {
			if g.PeriodStart.Equal(w.PeriodStart) {
				n += g.Count
				sum += g.Sum
			}
		}
		require.Equal(t, n, w.Count)
		require.InDelta(t, sum, w.Sum, 1e-6)
		require.Equal(t, "%", w.Unit)
	}
	one, err := s.Statistics(ctx, StatsQuery{Filter: Filter{Meter: "cpu_util", ProjectID: "p-b", Start: t0, End: t0.Add(3 * time.Hour)}})
	require.NoError(t, err)
	require.Len(t, one, 1)
	require.Equal(t, int64(180), one[0].Count)
	require.Equal(t, t0.Add(3*time.Hour), one[0].PeriodEnd)

	// Unaligned range and period: raw path inside the engine; same sums.
	odd, err := s.Statistics(ctx, StatsQuery{Filter: Filter{Meter: "cpu_util", Start: t0.Add(7 * time.Minute)}, Period: 25 * time.Minute})
	require.NoError(t, err)
	var n int64
	for _, st := range odd {
		n += st.Count
		require.Equal(t, time.Duration(0), st.PeriodStart.Sub(t0.Add(7*time.Minute)).Truncate(25*time.Minute)-st.PeriodStart.Sub(t0.Add(7*time.Minute)))
	}
	require.Equal(t, int64(3*(180-7)), n)

	// Group by metadata valid at each sample's time.
	byFlavor, err := s.Statistics(ctx, StatsQuery{Filter: Filter{Meter: "cpu_util", ResourceID: "vm-1"}, GroupBy: []string{"resource_metadata.flavor.name"}})
	require.NoError(t, err)
	require.Len(t, byFlavor, 2)
	require.Equal(t, "m1.large", byFlavor[0].GroupBy["resource_metadata.flavor.name"])
	require.Equal(t, int64(90), byFlavor[0].Count)
	require.Equal(t, int64(90), byFlavor[1].Count)

	for _, bad := range []StatsQuery{
		{Filter: Filter{}},
		{Filter: Filter{Meter: "cpu_util"}, GroupBy: []string{"flavor"}},
		{Filter: Filter{Meter: "cpu_util"}, Aggregates: []Aggregate{{Func: "median"}}},
		{Filter: Filter{Meter: "cpu_util"}, Aggregates: []Aggregate{{Func: "cardinality"}}},
		{Filter: Filter{Meter: "cpu_util"}, Period: time.Millisecond},
	} {
		_, err := s.Statistics(ctx, bad)
		require.ErrorIs(t, err, ErrInvalid)
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	ev := func(id, typ, project string, at time.Duration) sample.Event {
		return sample.Event{MessageID: id, EventType: typ, Generated: t0.Add(at), Traits: []sample.Trait{
			{Name: "tenant_id", Type: sample.TraitText, Text: project},
			{Name: "memory_mb", Type: sample.TraitInt, Int: 512},
		}}
	}
	evs := []sample.Event{
		ev("e1", "compute.instance.create.end", "p-a", 0),
		ev("e2", "compute.instance.delete.end", "p-a", time.Minute),
		ev("e3", "volume.create.end", "p-b", 2*time.Minute),
	}
	require.NoError(t, s.WriteEvents(ctx, evs))
	require.NoError(t, s.WriteEvents(ctx, evs[:1]), "a redelivered event is skipped")
	require.ErrorIs(t, s.WriteEvents(ctx, []sample.Event{{EventType: "x", Generated: t0}}), ErrInvalid)

	all, err := s.Events(ctx, EventFilter{})
	require.NoError(t, err)
	require.Len(t, all, 3)
	mine, err := s.Events(ctx, EventFilter{Project: "p-a", EventType: "compute.instance.*"})
	require.NoError(t, err)
	require.Len(t, mine, 2)
	_, err = s.Event(ctx, "e3", "p-a")
	require.ErrorIs(t, err, ErrNotFound)
	got, err := s.Event(ctx, "e3", "p-b")
	require.NoError(t, err)
	require.Equal(t, "volume.create.end", got.EventType)
	types, err := s.EventTypes(ctx, "p-b", ListOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"volume.create.end"}, types)
	require.Equal(t, "p-a", EventProject(evs[0]))
}

// TestSamplesPointPath checks the default-order listing, which keeps points
// and builds rows for the kept ones only (with one read view), against the
// path that builds every row (taken when a Match predicate is set), over
// filters, limits, time bounds, metadata and pages, ties included (the
// resources report at the same times).
func TestSamplesPointPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A clock that moves: each write has its own record time.
	var tick atomic.Int64
	o := Options{Now: func() time.Time { return t0.Add(48*time.Hour + time.Duration(tick.Add(1))*time.Second) }}
	o.Series.Policies = series.DefaultPolicies()
	o.Series.Rules = []series.Rule{{Pattern: "*", Policy: "medium"}}
	s, err := Open(ctx, t.TempDir(), o)
	require.NoError(t, err)
	defer s.Close()
	fixture(t, s)
	all := func(*Sample) bool { return true }
	filters := []Filter{
		{},
		{ResourceID: "vm-1"},
		{Meter: "disk.read.bytes"},
		{ProjectID: "p-a"},
		{Meter: "cpu_util", Start: t0.Add(30 * time.Minute), End: t0.Add(95 * time.Minute)},
		{ResourceID: "vm-1", Metadata: map[string]string{"flavor.name": "m1.large"}},
		{Metadata: map[string]string{"flavor.name": "m1.small"}, End: t0.Add(100 * time.Minute)},
	}
	for fi, f := range filters {
		for _, limit := range []int{1, 7, 100, 10000} {
			marker, pages := "", 0
			for {
				got, err := s.Samples(ctx, f, ListOptions{Limit: limit, Marker: marker})
				require.NoError(t, err)
				want, err := s.Samples(ctx, f, ListOptions{Limit: limit, Marker: marker, Match: all})
				require.NoError(t, err)
				require.Equal(t, want, got, "filter %d limit %d page %d", fi, limit, pages)
				if len(got) == 0 || pages == 5 {
					break
				}
				require.False(t, got[0].RecordedAt.IsZero())
				marker = got[len(got)-1].MessageID
				pages++
			}
			require.Positive(t, pages, "filter %d limit %d: no rows", fi, limit)
		}
	}
}
