package series

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/stretchr/testify/require"
)

// bucketStarts lists the roll-up buckets stored for one scope and granularity.
func bucketStarts(t *testing.T, db *DB, scope ID, gran int64) []int64 {
	t.Helper()
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: rollupKey(scope, gran, MinTime-gran), UpperBound: rollupKey(scope, gran, MaxTime)})
	require.NoError(t, err)
	defer it.Close()
	var out []int64
	for ok := it.First(); ok; ok = it.Next() {
		ag, err := decodeAgg(it.Value())
		require.NoError(t, err)
		out = append(out, floorTo(ag.FirstT, gran))
	}
	return out
}

func span(from, to, step int64) []int64 {
	var out []int64
	for x := from; x < to; x += step {
		out = append(out, x)
	}
	return out
}

func TestRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := t0 + 7*min1 + 13*sec
	clk := &clock{t: time.UnixMicro(now)}
	pol := Policy{Name: "r", Archives: []Archive{{time.Minute, 60}, {10 * time.Minute, 36}}, RawRetention: 2 * time.Hour}
	db := openTest(t, t.TempDir(), Options{Policies: []Policy{pol}, Rules: []Rule{}, Now: clk.Now, ChunkWindow: 30 * time.Minute})
	k := key("ret", "vm", "p")
	var in []Input
	for tt := now - 8*hour; tt < now; tt += min1 {
		in = append(in, Input{Key: k, T: tt, V: 1, MessageID: fmt.Sprintf("id-%d", tt), Recorded: now - 5})
	}
	res, err := db.Write(ctx, in)
	require.NoError(t, err)
	require.Equal(t, len(in), res.Written)
	id := res.IDs[0]
	db.mu.RLock()
	sc := db.scopes[scopeKey{kind: scopeMeter, meter: "ret"}]
	db.mu.RUnlock()

	first, last := in[0].T, in[len(in)-1].T
	require.Equal(t, span(floorTo(first, min1), last+1, min1), bucketStarts(t, db, sc.id, min1))
	// Stats over the last 6h in 10m buckets, before retention (raw for the
	// series) and after (roll-ups for the expired part, raw for the rest).
	statsOf := func(sel Selector) []Bucket {
		st, err := db.Stats(ctx, sel, floorTo(now-6*hour, 10*min1)+10*min1, 0, 10*min1)
		require.NoError(t, err)
		return st
	}
	beforeSeries := statsOf(Selector{IDs: []ID{id}})
	beforeMeter := statsOf(Selector{Meter: "ret"})
	require.Len(t, beforeSeries, 36)
	require.NoError(t, db.Retain(ctx))
	require.Equal(t, beforeSeries, statsOf(Selector{IDs: []ID{id}}))
	require.Equal(t, beforeMeter, statsOf(Selector{Meter: "ret"}))

	// Raw: whole 30m windows that ended by now-2h are gone, nothing else.
	cut := floorTo(now-2*hour, 30*min1)
	var wantT []int64
	for _, x := range in {
		if x.T >= cut {
			wantT = append(wantT, x.T)
		}
	}
	var gotT []int64
	for _, p := range scanAll(t, db, id, 0, 0, false) {
		gotT = append(gotT, p.T)
	}
	require.Equal(t, wantT, gotT)
	info, _ := db.Series(id)
	require.Equal(t, Info{ID: id, Key: k, First: wantT[0], Last: in[len(in)-1].T, Count: int64(len(wantT))}, info)
	for _, x := range in {
		_, _, ok, err := db.Lookup(ctx, x.MessageID, "")
		require.NoError(t, err)
		require.Equal(t, x.T >= cut, ok, "message id of t=%d", x.T)
	}
	// Roll-ups: buckets that ended by now-span are gone, per scope.
	min1Cut := floorTo(now-hour, min1)
	require.Equal(t, span(min1Cut, last+1, min1), bucketStarts(t, db, sc.id, min1))
	tenCut := floorTo(now-6*hour, 10*min1)
	require.Equal(t, span(tenCut, floorTo(last, 10*min1)+1, 10*min1), bucketStarts(t, db, sc.id, 10*min1))
	require.Equal(t, span(tenCut, cut, 10*min1), bucketStarts(t, db, id, 10*min1), "per-series archive holds the expired samples")
	require.Empty(t, bucketStarts(t, db, id, min1), "no per-series archive within raw retention")

	require.Equal(t, 1, countPrefix(t, db, pEpoch), "the record time is kept")

	// Idempotent, and the clock moving on removes the next window.
	require.NoError(t, db.Retain(ctx))
	require.Len(t, scanAll(t, db, id, 0, 0, false), len(wantT))
	clk.Set(time.UnixMicro(now + 30*min1))
	require.NoError(t, db.Retain(ctx))
	require.Len(t, scanAll(t, db, id, 0, 0, false), len(wantT)-30)

	// Raw all expired, the 10m archives still hold the history.
	clk.Set(time.UnixMicro(now + 4*hour))
	require.NoError(t, db.Retain(ctx))
	require.Empty(t, scanAll(t, db, id, 0, 0, false))
	info, _ = db.Series(id)
	require.Zero(t, info.Count)
	histStart := floorTo(now-2*hour, 10*min1) // kept by the 10m archives until now+4h-6h
	var wantN int64
	for _, x := range in {
		if x.T >= histStart {
			wantN++
		}
	}
	for _, sel := range []Selector{{IDs: []ID{id}}, {Meter: "ret"}, {Meter: "ret", Project: "p"}} {
		st, err := db.Stats(ctx, sel, histStart, 0, 0)
		require.NoError(t, err)
		require.Len(t, st, 1, "%+v", sel)
		require.Equal(t, wantN, st[0].Agg.Count, "%+v", sel)
	}

	// Everything expired: the series stays, with Count 0.
	clk.Set(time.UnixMicro(now + 100*hour))
	require.NoError(t, db.Retain(ctx))
	require.Empty(t, scanAll(t, db, id, 0, 0, false))
	info, ok := db.Series(id)
	require.True(t, ok)
	require.Zero(t, info.Count)
	require.Empty(t, bucketStarts(t, db, sc.id, 10*min1))
	require.Zero(t, countPrefix(t, db, pEpoch), "record times older than raw retention + 1h + 1d go")
}

func countPrefix(t *testing.T, db *DB, p byte) int {
	t.Helper()
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{p}, UpperBound: []byte{p + 1}})
	require.NoError(t, err)
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n
}

func TestBackgroundLoop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := t0
	clk := &clock{t: time.UnixMicro(now)}
	db := openTest(t, t.TempDir(), Options{Now: clk.Now, RetainEvery: 10 * time.Millisecond, ChunkWindow: 10 * time.Minute})
	res, err := db.Write(ctx, []Input{{Key: key("bg", "r", "p"), T: now - 3*hour, V: 1}, {Key: key("bg", "r", "p"), T: now - 3*hour + sec, V: 2}})
	require.NoError(t, err)
	// The idle window (wall clock past it by OutOfOrder) gets packed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		db.mu.RLock()
		n := len(db.byID[res.IDs[0]].open)
		db.mu.RUnlock()
		if n == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "window not packed in time")
		time.Sleep(5 * time.Millisecond)
	}
	require.Len(t, scanAll(t, db, res.IDs[0], 0, 0, false), 2)
	require.NoError(t, db.Close())
}

// TestScanRollup: a View reads a series' per-series roll-ups, which hold
// exactly the samples retention removed, disjoint from its raw samples.
func TestScanRollup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := t0 + 7*min1 + 13*sec
	clk := &clock{t: time.UnixMicro(now)}
	pol := Policy{Name: "r", Archives: []Archive{{time.Minute, 60}, {10 * time.Minute, 36}}, RawRetention: 2 * time.Hour}
	db := openTest(t, t.TempDir(), Options{Policies: []Policy{pol}, Rules: []Rule{}, Now: clk.Now, ChunkWindow: 30 * time.Minute})
	var in []Input
	for tt := now - 5*hour; tt < now; tt += min1 {
		in = append(in, Input{Key: key("sr", "vm", "p"), T: tt, V: float64(tt / min1), Recorded: now})
	}
	res, err := db.Write(ctx, in)
	require.NoError(t, err)
	id := res.IDs[0]
	require.NoError(t, db.Retain(ctx))
	v, err := db.View()
	require.NoError(t, err)
	defer v.Close()
	as, before := v.SeriesArchives(id)
	require.Equal(t, []Archive{{10 * time.Minute, 36}}, as)
	require.Equal(t, now-2*hour, before)
	require.Equal(t, now-2*hour, v.RolledBefore())
	as, _ = v.SeriesArchives(id + 1000)
	require.Empty(t, as)
	var rawFirst int64
	require.NoError(t, v.Scan(ctx, id, 0, 0, func(p Point) bool { rawFirst = p.T; return false }))
	var count int64
	prevLast := int64(-1 << 62)
	require.NoError(t, v.ScanRollup(ctx, id, 10*time.Minute, 0, 0, func(b Bucket) bool {
		require.Equal(t, b.Start, floorTo(b.Agg.FirstT, 10*min1))
		require.Greater(t, b.Agg.FirstT, prevLast)
		require.Less(t, b.Agg.LastT, rawFirst)
		require.Less(t, b.Agg.LastT, before)
		require.Equal(t, float64(b.Agg.LastT/min1), b.Agg.Last)
		prevLast = b.Agg.LastT
		count += b.Agg.Count
		return true
	}))
	var raw int64
	require.NoError(t, v.Scan(ctx, id, 0, 0, func(Point) bool { raw++; return true }))
	require.Equal(t, int64(len(in)), count+raw, "roll-ups and raw samples partition the series")
	require.NotZero(t, count)
	// A bounded scan starts at the bucket holding start.
	var starts []int64
	require.NoError(t, v.ScanRollup(ctx, id, 10*time.Minute, in[0].T+25*min1, in[0].T+45*min1, func(b Bucket) bool {
		starts = append(starts, b.Start)
		return true
	}))
	require.Equal(t, span(floorTo(in[0].T+25*min1, 10*min1), in[0].T+45*min1, 10*min1), starts)
	require.Error(t, v.ScanRollup(ctx, id, 0, 0, 0, func(Bucket) bool { return true }))
}
