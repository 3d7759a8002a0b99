package series

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func requireSameBuckets(t *testing.T, want, got []Bucket, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		w, g := want[i], got[i]
		require.Equal(t, w.Start, g.Start, what)
		require.Equal(t, w.Agg.Count, g.Agg.Count, what)
		require.Equal(t, w.Agg.Min, g.Agg.Min, what)
		require.Equal(t, w.Agg.Max, g.Agg.Max, what)
		require.Equal(t, w.Agg.FirstT, g.Agg.FirstT, what)
		require.Equal(t, w.Agg.LastT, g.Agg.LastT, what)
		require.Equal(t, w.Agg.Last, g.Agg.Last, what)
		require.InDelta(t, w.Agg.Sum, g.Agg.Sum, 1e-9*math.Max(1, math.Abs(w.Agg.Sum)), what)
		require.InDelta(t, w.Agg.SumSq, g.Agg.SumSq, 1e-9*math.Max(1, w.Agg.SumSq), what)
		require.InDelta(t, w.Agg.StdDev(), g.Agg.StdDev(), 1e-6*math.Max(1, w.Agg.StdDev()), what)
	}
}

func TestRollupEqualsRaw(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{t: time.UnixMicro(t0 + 2*hour)}
	fine := Policy{Name: "fine", Archives: []Archive{{10 * time.Second, 100000}, {5 * time.Minute, 10000}}, RawRetention: time.Hour}
	pols := append(DefaultPolicies(), fine)
	db := openTest(t, t.TempDir(), Options{
		Policies: pols, Now: clk.Now, ChunkWindow: 20 * time.Minute,
		Rules: []Rule{{Pattern: "b*", Policy: "fine"}, {Pattern: "*", Policy: "medium"}},
	})
	r := rand.New(rand.NewPCG(3, 4))
	var in []Input
	for i := range 40 {
		for _, m := range []string{"a", "b.x"} {
			k := key(m, fmt.Sprintf("res%02d", i), fmt.Sprintf("p%d", i%4))
			tt := t0 - 6*hour + r.Int64N(min1)
			for tt < t0+hour {
				in = append(in, Input{Key: k, T: tt, V: math.Round(r.NormFloat64()*1000) / 8, Recorded: tt})
				tt += r.Int64N(3*min1) + 1
			}
		}
	}
	slices.SortFunc(in, func(a, b Input) int { return cmp.Compare(a.T, b.T) })
	// Write in batches of 500 with local shuffling (out of order within
	// minutes), packing now and then.
	for i := 0; i < len(in); i += 500 {
		b := in[i:min(i+500, len(in))]
		r.Shuffle(len(b), func(x, y int) { b[x], b[y] = b[y], b[x] })
		res, err := db.Write(ctx, b)
		require.NoError(t, err)
		require.Equal(t, len(b), res.Written)
		if i%5000 == 0 {
			require.NoError(t, db.Compact(ctx))
		}
	}
	ida, _ := db.SeriesID(key("a", "res07", "p3"))
	idb, _ := db.SeriesID(key("b.x", "res07", "p3"))
	idb2, _ := db.SeriesID(key("b.x", "res08", "p0"))
	sels := map[string]Selector{
		"meter a":    {Meter: "a"},
		"meter b":    {Meter: "b.x"},
		"project a":  {Meter: "a", Project: "p1"},
		"project b":  {Meter: "b.x", Project: "p2"},
		"series a":   {IDs: []ID{ida}},
		"series b":   {IDs: []ID{idb}},
		"two series": {IDs: []ID{idb, idb2, ida}},
		"none":       {Meter: "zz"},
		"no series":  {IDs: []ID{}},
		"empty proj": {Meter: "a", Project: "nope"},
	}
	type rng struct{ start, end, period int64 }
	ranges := []rng{
		{t0 - 6*hour, t0 + hour, hour},
		{t0 - 6*hour, t0 + hour, 0},
		{t0 - 5*hour, t0, 5 * min1},
		{t0 - 5*hour, t0, min1},
		{t0 - 3*hour, t0 - hour, 10 * sec},
		{t0 - 5*hour + 17*sec, t0 - 7, hour},
		{t0 - 4*hour, t0 + hour, 7 * min1},
		{0, 0, hour},
		{0, 0, 0},
		{t0 - 2*hour, 0, 2 * hour},
	}
	before := db.rollupAnswers.Load()
	for name, sel := range sels {
		for _, q := range ranges {
			what := fmt.Sprintf("%s %+v", name, q)
			got, err := db.Stats(ctx, sel, q.start, q.end, q.period)
			require.NoError(t, err, what)
			db.mu.Lock()
			db.forceRaw = true
			db.mu.Unlock()
			want, err := db.Stats(ctx, sel, q.start, q.end, q.period)
			db.mu.Lock()
			db.forceRaw = false
			db.mu.Unlock()
			require.NoError(t, err, what)
			requireSameBuckets(t, want, got, what)
			if name != "none" && name != "no series" && name != "empty proj" {
				require.NotEmpty(t, want, what)
			}
		}
	}
	require.Greater(t, db.rollupAnswers.Load()-before, int64(40), "roll-ups answered most aligned queries")

	// Brute force for one case, independent of both paths.
	got, err := db.Stats(ctx, Selector{Meter: "a", Project: "p1"}, t0-5*hour, t0, hour)
	require.NoError(t, err)
	want := map[int64]*Agg{}
	for _, x := range in {
		if x.Key.Meter == "a" && x.Key.ProjectID == "p1" && x.T >= t0-5*hour && x.T < t0 {
			b := t0 - 5*hour + floorTo(x.T-(t0-5*hour), hour)
			if want[b] == nil {
				want[b] = &Agg{}
			}
			want[b].Add(x.T, x.V)
		}
	}
	require.Len(t, got, len(want))
	for _, b := range got {
		require.Equal(t, want[b.Start].Count, b.Agg.Count)
		require.InDelta(t, want[b.Start].Sum, b.Agg.Sum, 1e-6)
	}
}

func TestPercentiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := Policy{Name: "pct", Archives: []Archive{{time.Minute, 100}}, Aggregates: []string{"mean", "p50", "p90"}}
	db := openTest(t, t.TempDir(), Options{Policies: []Policy{p}, Rules: []Rule{}})
	var in []Input
	for i := range 11 {
		in = append(in, Input{Key: key("lat", "r", "p"), T: t0 + int64(i)*sec, V: float64(10 - i)})
	}
	_, err := db.Write(ctx, in)
	require.NoError(t, err)
	got, err := db.Stats(ctx, Selector{Meter: "lat"}, t0, t0+min1, 0)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, map[string]float64{"p50": 5, "p90": 9}, got[0].Agg.Pct)
	require.Equal(t, 5.0, got[0].Agg.Mean())
	require.Equal(t, 0.0, got[0].Agg.Last)
	require.Equal(t, 10.0, got[0].Agg.Max)
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	vs := []float64{1, 2, 3, 4}
	for p, want := range map[float64]float64{0.5: 2.5, 1: 4, 0.01: 1.03, 0.75: 3.25} {
		require.InDelta(t, want, percentile(vs, p), 1e-12, "p=%v", p)
	}
	require.Equal(t, 7.0, percentile([]float64{7}, 0.9))
}

// bruteStats aggregates in's samples of series k with start <= T < end
// into hourly buckets from start, as Stats does.
func bruteStats(in []Input, k Key, start, end int64) map[int64]*Agg {
	want := map[int64]*Agg{}
	for _, x := range in {
		if x.Key == k && x.T >= start && x.T < end {
			b := start + floorTo(x.T-start, hour)
			if want[b] == nil {
				want[b] = &Agg{}
			}
			want[b].Add(x.T, x.V)
		}
	}
	return want
}

// Stats of one series reads its head samples where the catalog lists an
// open window in the range, and only its chunks elsewhere: before and
// after packing, over ranges inside, across and outside the open windows,
// it matches a brute-force aggregate.
func TestStatsSeriesHeadAndChunks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{t: time.UnixMicro(t0 + 3*hour)}
	db := openTest(t, t.TempDir(), Options{Now: clk.Now, ChunkWindow: 20 * time.Minute, OutOfOrder: 30 * time.Minute})
	k := key("cpu", "r1", "p")
	var in []Input
	for tt := t0 - 2*hour; tt < t0+2*hour; tt += min1 {
		in = append(in, Input{Key: k, T: tt, V: float64(tt/min1%97) / 4, Recorded: tt})
	}
	_, err := db.Write(ctx, in)
	require.NoError(t, err)
	id, _ := db.SeriesID(k)
	db.mu.RLock()
	open := slices.Clone(db.byID[id].open)
	db.mu.RUnlock()
	require.NotEmpty(t, open, "the newest windows stay in the head")
	require.Greater(t, open[0], t0-2*hour, "the oldest windows are packed")
	check := func(what string) {
		t.Helper()
		for _, r := range [][2]int64{
			{t0 - 2*hour, t0 + 2*hour}, // chunks and head
			{t0 - 2*hour, t0},          // chunks only
			{open[0], t0 + 2*hour},     // head only, before packing
			{t0 + hour + 7*min1, t0 + 2*hour},
			{t0 - 2*hour + 13*min1, t0 + hour + 13*min1},
		} {
			got, err := db.Stats(ctx, Selector{IDs: []ID{id}}, r[0], r[1], hour)
			require.NoError(t, err)
			want := bruteStats(in, k, r[0], r[1])
			require.Len(t, got, len(want), "%s %v", what, r)
			for _, b := range got {
				require.Equal(t, want[b.Start].Count, b.Agg.Count, "%s %v bucket %d", what, r, b.Start)
				require.Equal(t, want[b.Start].Sum, b.Agg.Sum, "%s %v bucket %d", what, r, b.Start)
			}
		}
	}
	check("before packing")
	require.NoError(t, db.Compact(ctx))
	db.mu.RLock()
	require.Empty(t, db.byID[id].open)
	db.mu.RUnlock()
	check("after packing")
}

// A Stats of one series that runs while its head windows are packed
// counts every sample: it reads the catalog's open windows before its
// snapshot, and packing closes a window only after committing its chunk.
// The hook packs every window just before Stats reads the catalog.
func TestStatsSeriesWhilePacking(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{t: time.UnixMicro(t0)}
	db := openTest(t, t.TempDir(), Options{Now: clk.Now, ChunkWindow: time.Minute, OutOfOrder: 24 * time.Hour})
	k := key("cpu", "r1", "p")
	var in []Input
	for i := range 600 {
		tt := t0 + int64(i)*sec
		in = append(in, Input{Key: k, T: tt, V: 1, Recorded: tt})
	}
	_, err := db.Write(ctx, in)
	require.NoError(t, err)
	id, _ := db.SeriesID(k)
	db.mu.RLock()
	require.Len(t, db.byID[id].open, 10, "nothing packed yet")
	db.mu.RUnlock()
	var packErr error
	db.statsCatalog = func() {
		db.writeMu.Lock()
		defer db.writeMu.Unlock()
		packErr = db.packWhere(ctx, func(*series, int64) bool { return true })
	}
	got, err := db.Stats(ctx, Selector{IDs: []ID{id}}, t0, t0+hour, 0)
	require.NoError(t, err)
	require.NoError(t, packErr)
	require.Len(t, got, 1)
	require.Equal(t, int64(len(in)), got[0].Agg.Count)
	db.mu.RLock()
	require.Empty(t, db.byID[id].open, "the hook packed every window")
	db.mu.RUnlock()
}
