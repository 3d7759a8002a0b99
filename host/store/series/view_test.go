package series

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestViewScanMatchesScan reads random ranges of series that mix packed
// chunks and head samples (equal times in both included) through one View,
// in ID, reverse, random and repeated order, with early stops, and
// compares every answer with
// DB.Scan's; then writes and packs more and checks that the View still
// answers from its snapshot.
func TestViewScanMatchesScan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, t.TempDir(), Options{ChunkWindow: time.Hour, OutOfOrder: 10 * time.Hour})
	rng := rand.New(rand.NewPCG(7, 8))
	const nSeries = 40
	write := func(from, to int64, skip func(s int) bool) {
		var in []Input
		for s := range nSeries {
			if skip(s) {
				continue
			}
			for ts := from; ts < to; ts += min1 * (1 + rng.Int64N(15)) {
				x := Input{Key: key("cpu", fmt.Sprintf("vm%02d", s), "p1"), T: ts, V: float64(rng.IntN(1000)) / 10, Recorded: t0 + rng.Int64N(3)*sec}
				if rng.IntN(3) == 0 {
					x.MessageID = fmt.Sprintf("m-%d-%d-%d", s, ts, rng.IntN(1e6))
				}
				in = append(in, x)
			}
		}
		_, err := db.Write(ctx, in)
		require.NoError(t, err)
	}
	// Chunks over five hours for most series, then head samples, some in
	// packed windows (late ones, some at a chunk sample's time under
	// another message id), some in new windows; some series have only
	// chunks, some only head samples.
	write(t0, t0+5*hour, func(s int) bool { return s%7 == 3 })
	require.NoError(t, db.Compact(ctx))
	write(t0+3*hour, t0+7*hour, func(s int) bool { return s%5 == 1 && s%7 != 3 })
	ids := make([]ID, 0, nSeries)
	for _, in := range db.SeriesList() {
		ids = append(ids, in.ID)
	}
	require.Len(t, ids, nSeries)

	type query struct {
		id         ID
		start, end int64
		stop       int // stop after this many points; 0: never
	}
	randQuery := func(id ID) query {
		q := query{id: id}
		switch rng.IntN(4) {
		case 0: // unbounded
		case 1: // inside one window
			q.start = t0 + rng.Int64N(7*hour)
			q.end = q.start + rng.Int64N(20*min1)
		default:
			q.start = t0 - hour + rng.Int64N(9*hour)
			q.end = q.start + rng.Int64N(5*hour)
		}
		if rng.IntN(4) == 0 {
			q.stop = 1 + rng.IntN(10)
		}
		return q
	}
	// want is what DB.Scan answers now.
	want := func(q query, desc bool) []Point {
		all := scanAll(t, db, q.id, q.start, q.end, desc)
		if q.stop > 0 && len(all) > q.stop {
			all = all[:q.stop]
		}
		return all
	}
	got := func(v *View, q query, desc bool) []Point {
		var out []Point
		scan := v.Scan
		if desc {
			scan = v.ScanDesc
		}
		require.NoError(t, scan(ctx, q.id, q.start, q.end, func(p Point) bool {
			out = append(out, p)
			return q.stop == 0 || len(out) < q.stop
		}))
		if desc {
			eps := make([]int64, len(out))
			for i, p := range out {
				eps[i] = p.Recorded
			}
			rec, err := v.RecordTimes(eps)
			require.NoError(t, err)
			for i := range out {
				out[i].Recorded = rec[i]
			}
		}
		return out
	}
	noRecorded := func(ps []Point) []Point {
		ps = slices.Clone(ps)
		for i := range ps {
			ps[i].Recorded = 0
		}
		return ps
	}
	orders := map[string]func() []ID{
		"ascending": func() []ID { return ids },
		"descending": func() []ID {
			r := slices.Clone(ids)
			slices.Reverse(r)
			return r
		},
		"random": func() []ID {
			r := slices.Clone(ids)
			rng.Shuffle(len(r), func(i, j int) { r[i], r[j] = r[j], r[i] })
			return r
		},
		"repeated": func() []ID {
			var r []ID
			for _, id := range ids {
				r = append(r, id, id, id)
			}
			return r
		},
	}
	v, err := db.View()
	require.NoError(t, err)
	defer v.Close()
	type answer struct {
		q    query
		desc bool
		want []Point
	}
	var answers []answer
	for name, order := range orders {
		for round := range 6 {
			// Same range for every series of a round, as a query does, or
			// one range each.
			same := randQuery(0)
			for i, id := range order() {
				q := same
				q.id = id
				if round%2 == 1 {
					q = randQuery(id)
				}
				desc := rng.IntN(5) == 0
				w := want(q, desc)
				g := got(v, q, desc)
				if !desc {
					w = noRecorded(w)
				}
				require.Equal(t, w, g, "%s round %d query %d: %+v desc %v", name, round, i, q, desc)
				answers = append(answers, answer{q, desc, w})
			}
		}
	}
	// Writes and packing after the View opened are not seen through it.
	write(t0+2*hour, t0+9*hour, func(s int) bool { return s%3 == 0 })
	require.NoError(t, db.Compact(ctx))
	changed := 0
	for _, a := range answers {
		g := got(v, a.q, a.desc)
		require.Equal(t, a.want, g, "after writes: %+v desc %v", a.q, a.desc)
		w := want(a.q, a.desc)
		if !a.desc {
			w = noRecorded(w)
		}
		if !slices.Equal(w, a.want) {
			changed++
		}
	}
	require.Positive(t, changed, "the later writes changed no answer: the check above proves nothing")
}

// TestBlockCacheBesideMemtables: Pebble counts its memtables against the
// block cache; once they have grown to MemTableSize, a cache of CacheSize
// alone (as large) held no block, and a View read every block from disk
// again, decompressing it. The cache made leaves CacheSize to blocks.
func TestBlockCacheBesideMemtables(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, t.TempDir(), Options{MemTableSize: 1 << 20, CacheSize: 1 << 20, NoSync: true})
	// Enough writes for the memtables to rotate up to their full size.
	const nSeries = 200
	for w := int64(0); w < 40; w++ {
		var in []Input
		for s := range nSeries {
			for i := range int64(10) {
				ts := t0 + (w*10+i)*min1
				in = append(in, Input{Key: key("cpu", fmt.Sprintf("vm%03d", s), "p1"), T: ts, V: float64(ts%997) / 10, Recorded: ts})
			}
		}
		_, err := db.Write(ctx, in)
		require.NoError(t, err)
	}
	require.NoError(t, db.Compact(ctx))
	scanAll := func() {
		v, err := db.View()
		require.NoError(t, err)
		defer func() { require.NoError(t, v.Close()) }()
		for _, in := range db.SeriesList() {
			require.NoError(t, v.Scan(ctx, in.ID, 0, 0, func(Point) bool { return true }))
		}
	}
	scanAll()
	before := db.pdb.Metrics().BlockCache
	scanAll()
	after := db.pdb.Metrics().BlockCache
	require.Positive(t, after.Size, "the block cache holds blocks")
	hits, misses := after.Hits-before.Hits, after.Misses-before.Misses
	require.Greater(t, hits, 4*misses, "the second read of the same blocks hits the cache: %d hits, %d misses", hits, misses)
}
