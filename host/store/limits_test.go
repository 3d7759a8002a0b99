package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/sample"
)

// A limit is a bound, not a size: a listing with a huge limit allocates for
// the rows it finds (issue 9, item 1: limit=150000000 ran the agent out of
// memory; math.MaxInt panicked in makeslice).
func TestLimitIsNotPreallocated(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	defer s.Close()
	fixture(t, s)
	ctx := context.Background()
	for _, limit := range []int{1 << 20, math.MaxInt} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rows, err := s.Samples(ctx, Filter{Meter: "disk.read.bytes"}, ListOptions{Limit: limit})
		runtime.ReadMemStats(&after)
		require.NoError(t, err)
		require.Len(t, rows, 3*18)
		// The 54 rows take a few KiB; a heap sized by 1<<20 rows took 240 MiB.
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "limit %d", limit)
	}
}

// A listing whose context ends stops within checkEvery samples, however
// costly each one is to match (issue 9, item 5: a query kept burning CPU
// after its client left).
func TestScanStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	defer s.Close()
	smps := make([]sample.Sample, 5000)
	for i := range smps {
		smps[i] = sample.Sample{Name: "m", Type: sample.Gauge, Unit: "u", Volume: float64(i), ResourceID: "r", ProjectID: "p",
			Timestamp: t0.Add(time.Duration(i) * time.Second), MessageID: fmt.Sprintf("m-%d", i)}
	}
	require.NoError(t, s.Write(context.Background(), smps))

	for _, ordered := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		o := ListOptions{Limit: 10_000, Match: func(*Sample) bool {
			if calls++; calls == 10 {
				cancel() // the client goes away while the scan runs
			}
			return true
		}}
		if ordered {
			o.OrderBy = []Order{{Field: "counter_volume"}}
		}
		_, err := s.Samples(ctx, Filter{Meter: "m"}, o)
		require.ErrorIs(t, err, context.Canceled, "ordered %v", ordered)
		require.LessOrEqual(t, calls, 10+checkEvery, "ordered %v: the scan went on after the context ended", ordered)
		cancel()
	}

	// Statistics over raw samples (a metadata group-by) stop too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Statistics(ctx, StatsQuery{Filter: Filter{Meter: "m"}, GroupBy: []string{"resource_metadata.x"}})
	require.ErrorIs(t, err, context.Canceled)
}

// Grouping past MaxGroups stops with ErrTooManyGroups, on both the
// per-series and the per-sample paths (issue 9, item 5: a groupby over
// 100k values took 23 s).
func TestStatisticsMaxGroups(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	defer s.Close()
	fixture(t, s)
	ctx := context.Background()
	for by, n := range map[string]int{"resource_id": 3, "resource_metadata.flavor.name": 2} {
		_, err := s.Statistics(ctx, StatsQuery{Filter: Filter{Meter: "cpu_util"}, GroupBy: []string{by}, MaxGroups: n - 1})
		require.ErrorIs(t, err, ErrTooManyGroups, by)
		require.ErrorIs(t, err, ErrInvalid, by)
		require.Contains(t, err.Error(), fmt.Sprintf("more than %d groups", n-1), by)
		st, err := s.Statistics(ctx, StatsQuery{Filter: Filter{Meter: "cpu_util"}, GroupBy: []string{by}, MaxGroups: n})
		require.NoError(t, err, by)
		require.Len(t, st, n, by)
	}
}

// Statistics past MaxBuckets are refused with ErrTooManyBuckets: period=1
// over ten years before anything is read or allocated, on each path (the
// whole-meter roll-ups, whole series, raw samples); and the buckets that
// fill across groups are counted too.
func TestStatisticsMaxBuckets(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	defer s.Close()
	fixture(t, s)
	ctx := context.Background()
	tenYears := Filter{Meter: "cpu_util", Start: t0.AddDate(-5, 0, 0), End: t0.AddDate(5, 0, 0)}
	for name, q := range map[string]StatsQuery{
		"whole meter":          {Filter: tenYears},
		"one project":          {Filter: Filter{Meter: "cpu_util", ProjectID: "p-a", Start: tenYears.Start, End: tenYears.End}},
		"by resource":          {Filter: tenYears, GroupBy: []string{"resource_id"}},
		"by metadata":          {Filter: tenYears, GroupBy: []string{"resource_metadata.flavor.name"}},
		"range of the samples": {Filter: Filter{Meter: "cpu_util"}},
	} {
		q.Period, q.MaxBuckets = time.Second, 300 // 540 samples, 360 of p-a, over 10800 seconds
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := s.Statistics(ctx, q)
		runtime.ReadMemStats(&after)
		require.ErrorIs(t, err, ErrTooManyBuckets, name)
		require.ErrorIs(t, err, ErrInvalid, name)
		require.Contains(t, err.Error(), "more than 300 buckets", name)
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "%s: refused before buckets were made", name)
	}

	// A wide range over a burst of samples is not refused for its empty
	// periods: 200 samples half a second apart make 100 buckets.
	burst := make([]sample.Sample, 200)
	for i := range burst {
		burst[i] = sample.Sample{Name: "burst", Type: sample.Gauge, Unit: "u", Volume: float64(i), ResourceID: "r", ProjectID: "p",
			Timestamp: t0.Add(time.Duration(i) * time.Second / 2)}
	}
	require.NoError(t, s.Write(ctx, burst))
	for _, by := range [][]string{nil, {"resource_id"}, {"resource_metadata.x"}} {
		st, err := s.Statistics(ctx, StatsQuery{Filter: Filter{Meter: "burst", Start: tenYears.Start, End: tenYears.End}, GroupBy: by, Period: time.Second, MaxBuckets: 150})
		require.NoError(t, err, by)
		require.Len(t, st, 100, by)
		_, err = s.Statistics(ctx, StatsQuery{Filter: Filter{Meter: "burst", Start: tenYears.Start, End: tenYears.End}, GroupBy: by, Period: time.Second, MaxBuckets: 99})
		require.ErrorIs(t, err, ErrTooManyBuckets, by)
		require.Contains(t, err.Error(), "200 samples from", by)
	}

	// 3 resources x 180 minutes: the range has 180 periods, the answer 540
	// buckets by resource; by flavor 180 (m1.small) and 90 (m1.large).
	for by, n := range map[string]int{"resource_id": 540, "resource_metadata.flavor.name": 270} {
		q := StatsQuery{Filter: Filter{Meter: "cpu_util"}, Period: time.Minute, GroupBy: []string{by}, MaxBuckets: n - 1}
		_, err := s.Statistics(ctx, q)
		require.ErrorIs(t, err, ErrTooManyBuckets, by)
		require.Contains(t, err.Error(), fmt.Sprintf("more than %d buckets (groups times periods", n-1), by)
		q.MaxBuckets = n
		st, err := s.Statistics(ctx, q)
		require.NoError(t, err, by)
		require.Len(t, st, n, by)
	}
}

// A batch with a sample the store cannot hold writes nothing: neither its
// valid samples nor the time series of the bad one (issue 9, item 8: a
// timestamp after 2262-04-11 was stored in the series without its index
// entry).
func TestRefusedBatchWritesNothing(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	good := sample.Sample{Name: "m", Type: sample.Gauge, Unit: "u", Volume: 1, ResourceID: "r-good", ProjectID: "p", Timestamp: t0, MessageID: "good"}
	for _, ts := range []time.Time{
		time.Date(2262, 4, 11, 23, 47, 16, 0, time.UTC), // past int64 nanoseconds
		time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC),     // the index's first impossible time
		time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
		{}, // Go's zero time
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
	} {
		bad := good
		bad.ResourceID, bad.MessageID, bad.Timestamp = "r-bad", "bad", ts
		err := s.Write(ctx, []sample.Sample{good, bad})
		require.ErrorIs(t, err, ErrInvalid, "%s", ts)
		require.Contains(t, err.Error(), "write sample 1", "%s", ts)
		rows, err := s.Samples(ctx, Filter{Meter: "m"}, ListOptions{})
		require.NoError(t, err)
		require.Empty(t, rows, "%s: a refused batch left samples", ts)
		rs, err := s.Resources(ctx, Filter{}, ListOptions{})
		require.NoError(t, err)
		require.Empty(t, rs, "%s: a refused batch left resources", ts)
		ms, err := s.Meters(ctx, Filter{}, ListOptions{})
		require.NoError(t, err)
		require.Empty(t, ms, "%s: a refused batch left series", ts)
	}
	last := good
	last.Timestamp = MaxTime.Add(-time.Microsecond)
	require.NoError(t, s.Write(ctx, []sample.Sample{last}), "the last time the store holds")
	_, err := s.Sample(ctx, "good", "")
	require.NoError(t, err)
	require.True(t, errors.Is(CheckTime(MaxTime), ErrInvalid) && CheckTime(MinTime) == nil)
}

// KeptSince is now minus the raw retention of the meter's policy.
func TestKeptSince(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	defer s.Close()
	require.Equal(t, t0.Add(48*time.Hour).Add(-7*24*time.Hour), s.KeptSince("cpu_util"))
}
