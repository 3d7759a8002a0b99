package series

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
)

// testLogger writes through t.Log.
func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Info, Output: tWriter{t}})
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// clock is a settable Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func openTest(t testing.TB, dir string, o Options) *DB {
	t.Helper()
	if o.RetainEvery == 0 {
		o.RetainEvery = -1
	}
	db, err := Open(dir, o, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func key(meter, res, project string) Key {
	return Key{Meter: meter, Type: "gauge", Unit: "%", ResourceID: res, ProjectID: project, UserID: "u", Source: "openstack"}
}

const (
	sec  = int64(1_000_000)
	min1 = 60 * sec
	hour = 60 * min1
	t0   = int64(1_700_000_000) * sec / hour * hour // an hour boundary
)

func scanAll(t testing.TB, db *DB, id ID, start, end int64, desc bool) []Point {
	t.Helper()
	var out []Point
	require.NoError(t, db.Scan(context.Background(), id, start, end, desc, func(p Point) bool {
		out = append(out, p)
		return true
	}))
	return out
}

func TestWriteScan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, t.TempDir(), Options{ChunkWindow: time.Hour})
	var in []Input
	for i := range 300 {
		in = append(in, Input{Key: key("cpu", "vm1", "p1"), T: t0 + int64(i)*min1, V: float64(i), Recorded: t0 + int64(i)*min1 + 5})
		in = append(in, Input{Key: key("cpu", "vm2", "p1"), T: t0 + int64(i)*min1, V: -float64(i), MessageID: fmt.Sprintf("m-%d", i), Recorded: t0})
	}
	res, err := db.Write(ctx, in)
	require.NoError(t, err)
	require.Equal(t, 600, res.Written)
	require.Len(t, res.New, 600)
	require.NotEqual(t, res.IDs[0], res.IDs[1])

	list := db.SeriesList()
	require.Len(t, list, 2)
	require.Equal(t, Info{ID: res.IDs[0], Key: key("cpu", "vm1", "p1"), First: t0, Last: t0 + 299*min1, Count: 300}, list[0])
	id, ok := db.SeriesID(key("cpu", "vm2", "p1"))
	require.True(t, ok)
	require.Equal(t, res.IDs[1], id)

	check := func(t *testing.T) {
		all := scanAll(t, db, res.IDs[0], 0, 0, false)
		require.Len(t, all, 300)
		for i, p := range all {
			require.Equal(t, Point{T: t0 + int64(i)*min1, V: float64(i), Recorded: t0 + int64(i)*min1 + 5}, p)
		}
		desc := scanAll(t, db, res.IDs[1], t0+10*min1, t0+20*min1, true)
		require.Len(t, desc, 10)
		require.Equal(t, Point{T: t0 + 19*min1, V: -19, MessageID: "m-19", Recorded: t0}, desc[0])
		require.Equal(t, t0+10*min1, desc[9].T)
		// Early stop.
		n := 0
		require.NoError(t, db.Scan(ctx, res.IDs[0], 0, 0, false, func(Point) bool { n++; return n < 3 }))
		require.Equal(t, 3, n)
		gid, p, ok, err := db.Lookup(ctx, "m-42", "")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, res.IDs[1], gid)
		require.Equal(t, Point{T: t0 + 42*min1, V: -42, MessageID: "m-42", Recorded: t0}, p)
		_, _, ok, err = db.Lookup(ctx, "nope", "")
		require.NoError(t, err)
		require.False(t, ok)
	}
	// Windows more than OutOfOrder behind the newest sample are packed.
	db.mu.RLock()
	open := slices.Clone(db.byID[res.IDs[0]].open)
	db.mu.RUnlock()
	require.Equal(t, []int64{t0 + 3*hour, t0 + 4*hour}, open)
	t.Run("packed", check)
	require.NoError(t, db.Compact(ctx))
	db.mu.RLock()
	require.Empty(t, db.byID[res.IDs[0]].open)
	db.mu.RUnlock()
	t.Run("compacted", check)
	size, err := db.DiskUsage()
	require.NoError(t, err)
	require.Positive(t, size)
}

func TestDedup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, t.TempDir(), Options{})
	k := key("mem", "vm1", "p1")
	res, err := db.Write(ctx, []Input{
		{Key: k, T: t0, V: 1, MessageID: "a"},
		{Key: k, T: t0, V: 2, MessageID: "b"},     // same T, other id: stored
		{Key: k, T: t0 + 1, V: 3, MessageID: "a"}, // id earlier in batch
		{Key: k, T: t0 + 2, V: 4},
		{Key: k, T: t0 + 2, V: 5}, // (series, T) earlier in batch
		{Key: k, T: t0 + 1, V: 6}, // late, new
	})
	require.NoError(t, err)
	require.Equal(t, []bool{true, true, false, true, false, true}, res.New)
	require.Equal(t, 4, res.Written)
	require.Equal(t, 2, res.Duplicates)

	again := func(t *testing.T) {
		res, err := db.Write(ctx, []Input{
			{Key: k, T: t0 + 5, V: 1, MessageID: "a"},
			{Key: k, T: t0 + 2, V: 9},
			{Key: k, T: t0, V: 9}, // (t0) exists with ids; empty id dedups by (series, T)
			{Key: k, T: t0 + 1, V: 9},
			{Key: k, T: t0 - 2*hour, V: 9},                 // too old
			{Key: k, T: t0 - 2*hour, V: 9, MessageID: "b"}, // too old, but a known id
		})
		require.NoError(t, err)
		require.Equal(t, []bool{false, false, false, false, false, false}, res.New)
		require.Equal(t, WriteResult{Duplicates: 5, TooOld: 1, New: res.New, Old: []bool{false, false, false, false, true, false}, IDs: res.IDs}, res)
		pts := scanAll(t, db, res.IDs[0], 0, 0, false)
		require.Equal(t, []float64{1, 2, 6, 4}, []float64{pts[0].V, pts[1].V, pts[2].V, pts[3].V})
		require.Len(t, pts, 4)
	}
	t.Run("head", again)
	require.NoError(t, db.Compact(ctx))
	t.Run("chunk", again)
}

func TestOutOfOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, t.TempDir(), Options{ChunkWindow: 10 * time.Minute, OutOfOrder: time.Hour})
	r := rand.New(rand.NewPCG(1, 2))
	k := key("net", "vm", "p")
	var want []Point
	// 600 samples over 5h at 30s, written in shuffled groups of 40 whose
	// times stay within the out-of-order window; Compact in between packs
	// windows that later samples must merge into.
	var all []Input
	for i := range 600 {
		tt := t0 + int64(i)*30*sec
		all = append(all, Input{Key: k, T: tt, V: r.Float64(), Recorded: tt + 1})
	}
	for g := 0; g < len(all); g += 40 {
		grp := slices.Clone(all[g : g+40])
		r.Shuffle(len(grp), func(i, j int) { grp[i], grp[j] = grp[j], grp[i] })
		for h := 0; h < len(grp); h += 7 {
			res, err := db.Write(ctx, grp[h:min(h+7, len(grp))])
			require.NoError(t, err)
			require.Zero(t, res.Duplicates+res.TooOld)
		}
		if g%120 == 0 {
			require.NoError(t, db.Compact(ctx))
		}
	}
	for _, x := range all {
		want = append(want, Point{T: x.T, V: x.V, Recorded: x.Recorded})
	}
	id, _ := db.SeriesID(k)
	require.Equal(t, want, scanAll(t, db, id, 0, 0, false))
	// A late sample into a packed window, within the out-of-order window.
	late := Input{Key: k, T: t0 + 600*30*sec - 50*min1 + 7, V: 42}
	res, err := db.Write(ctx, []Input{late})
	require.NoError(t, err)
	require.Equal(t, 1, res.Written)
	got := scanAll(t, db, id, late.T, late.T+1, false)
	require.Equal(t, []Point{{T: late.T, V: 42}}, got)
	info, _ := db.Series(id)
	require.Equal(t, int64(601), info.Count)
}

func TestRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := openTest(t, dir, Options{ChunkWindow: 30 * time.Minute})
	var in []Input
	for i := range 500 {
		in = append(in, Input{Key: key("disk", fmt.Sprintf("vm%d", i%5), "p"), T: t0 + int64(i)*sec*10, V: float64(i), MessageID: fmt.Sprintf("id%d", i), Recorded: int64(1000 + i/100)})
	}
	for i := 0; i < len(in); i += 100 {
		_, err := db.Write(ctx, in[i:i+100])
		require.NoError(t, err)
	}
	before := db.SeriesList()
	stats, err := db.Stats(ctx, Selector{Meter: "disk"}, t0, t0+2*hour, hour)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.NoError(t, db.Close()) // twice is fine

	db2 := openTest(t, dir, Options{ChunkWindow: time.Hour}) // window is fixed at creation
	require.Equal(t, int64(30*min1), db2.window)
	require.Equal(t, before, db2.SeriesList())
	stats2, err := db2.Stats(ctx, Selector{Meter: "disk"}, t0, t0+2*hour, hour)
	require.NoError(t, err)
	require.Equal(t, stats, stats2)
	res, err := db2.Write(ctx, in)
	require.NoError(t, err)
	require.Equal(t, 500, res.Duplicates)
	// New writes get new epochs; old record times still resolve.
	res, err = db2.Write(ctx, []Input{{Key: key("disk", "vm0", "p"), T: t0 + 10*hour, V: 1, Recorded: 777}})
	require.NoError(t, err)
	require.Equal(t, 1, res.Written)
	pts := scanAll(t, db2, res.IDs[0], 0, 0, true)
	require.Equal(t, int64(777), pts[0].Recorded)
	require.Equal(t, in[len(in)-5].Recorded, pts[1].Recorded)
	before[0].Count++
	before[0].Last = t0 + 10*hour
	for _, s := range before {
		require.Len(t, scanAll(t, db2, s.ID, 0, 0, false), int(s.Count))
	}
	require.Equal(t, before, db2.SeriesList())
	_, err = db.Write(ctx, in)
	require.ErrorIs(t, err, ErrClosed)
}

func TestValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, t.TempDir(), Options{})
	good := Input{Key: key("m", "r", "p"), T: t0, V: 1}
	cases := map[string]func(*Input){
		"no meter":    func(x *Input) { x.Key.Meter = "" },
		"no resource": func(x *Input) { x.Key.ResourceID = "" },
		"bad type":    func(x *Input) { x.Key.Type = "counter" },
		"nan":         func(x *Input) { x.V = math.NaN() },
		"inf":         func(x *Input) { x.V = math.Inf(-1) },
		"time":        func(x *Input) { x.T = math.MaxInt64 },
		"long id":     func(x *Input) { x.MessageID = string(make([]byte, MaxMessageID+1)) },
	}
	for name, mut := range cases {
		bad := good
		mut(&bad)
		_, err := db.Write(ctx, []Input{good, bad})
		require.Error(t, err, name)
	}
	require.Empty(t, db.SeriesList(), "a failed batch writes nothing")

	badOpts := map[string]Options{
		"rule policy":  {Rules: []Rule{{Pattern: "*", Policy: "nope"}}},
		"pattern":      {Rules: []Rule{{Pattern: "[", Policy: "low"}}},
		"aggregate":    {Policies: []Policy{{Name: "x", Archives: []Archive{{time.Minute, 1}}, Aggregates: []string{"median"}}}, Rules: []Rule{}},
		"percentile":   {Policies: []Policy{{Name: "x", Archives: []Archive{{time.Minute, 1}}, Aggregates: []string{"p101"}}}, Rules: []Rule{}},
		"no archives":  {Policies: []Policy{{Name: "x"}}, Rules: []Rule{}},
		"granularity":  {Policies: []Policy{{Name: "x", Archives: []Archive{{time.Nanosecond, 1}}}}, Rules: []Rule{}},
		"dup policy":   {Policies: []Policy{{Name: "x", Archives: []Archive{{time.Minute, 1}}}, {Name: "x", Archives: []Archive{{time.Minute, 1}}}}, Rules: []Rule{}},
		"out of order": {OutOfOrder: -time.Second},
	}
	for name, o := range badOpts {
		_, err := Open(t.TempDir(), o, testLogger(t))
		require.Error(t, err, name)
	}
	_, err := db.Stats(ctx, Selector{}, 0, 0, 0)
	require.Error(t, err)
	_, err = db.Stats(ctx, Selector{Meter: "m"}, 0, 0, -1)
	require.Error(t, err)
	_, err = db.Stats(ctx, Selector{IDs: []ID{999}}, 0, 0, 0)
	require.Error(t, err)
}

func TestConcurrentWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, t.TempDir(), Options{ChunkWindow: 10 * time.Minute})
	// 8 writers, each writing the same 50 batches (so most inputs are
	// duplicates of another writer's), racing with readers.
	batch := func(k int) []Input {
		var in []Input
		for i := range 100 {
			x := Input{Key: key("conc", fmt.Sprintf("r%d", i%10), "p"), T: t0 + int64(k)*min1 + int64(i/10)*sec, V: float64(i)}
			if i%2 == 0 {
				x.MessageID = fmt.Sprintf("%d/%d", k, i)
			}
			in = append(in, x)
		}
		return in
	}
	var wg sync.WaitGroup
	written := make([]int, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 50 {
				res, err := db.Write(ctx, batch(k))
				if err != nil {
					t.Error(err)
					return
				}
				if res.Written+res.Duplicates+res.TooOld != 100 {
					t.Errorf("counts %+v", res)
				}
				written[w] += res.Written
			}
		}()
	}
	stop := make(chan struct{})
	var rg sync.WaitGroup
	rg.Add(1)
	go func() {
		defer rg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, s := range db.SeriesList() {
				if err := db.Scan(ctx, s.ID, 0, 0, false, func(Point) bool { return true }); err != nil {
					t.Error(err)
					return
				}
			}
			if _, err := db.Stats(ctx, Selector{Meter: "conc"}, 0, 0, hour); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	rg.Wait()
	total := 0
	for _, n := range written {
		total += n
	}
	// Every sample exactly once, whoever wrote it (or TooOld for a writer
	// far behind: then another writer stored it).
	require.Equal(t, 50*100, total)
	var n int64
	for _, s := range db.SeriesList() {
		n += s.Count
		require.Len(t, scanAll(t, db, s.ID, 0, 0, false), int(s.Count))
	}
	require.Equal(t, int64(5000), n)
	st, err := db.Stats(ctx, Selector{Meter: "conc"}, 0, 0, 0)
	require.NoError(t, err)
	require.Equal(t, int64(5000), st[0].Agg.Count)
}

func TestMessageIDFilterRebuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, t.TempDir(), Options{NoSync: true})
	const n = idFilterMinCap + 5000 // forces one rebuild
	mk := func(i int) Input {
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i) // canonical UUIDs
		if i%3 == 0 {
			id = fmt.Sprintf("raw-%d", i)
		}
		return Input{Key: key("ids", fmt.Sprintf("r%d", i%100), "p"), T: t0 + int64(i/100)*sec, V: 1, MessageID: id}
	}
	for i := 0; i < n; i += 1000 {
		var in []Input
		for j := i; j < min(i+1000, n); j++ {
			in = append(in, mk(j))
		}
		res, err := db.Write(ctx, in)
		require.NoError(t, err)
		require.Equal(t, len(in), res.Written)
	}
	db.mu.RLock()
	require.Greater(t, db.ids.cap, idFilterMinCap, "rebuilt larger")
	db.mu.RUnlock()
	// Every id is a duplicate now, whether the filter or the index says so.
	for _, i := range []int{0, 1, 2, 4999, n - 1} {
		res, err := db.Write(ctx, []Input{mk(i)})
		require.NoError(t, err)
		require.Equal(t, 1, res.Duplicates, "input %d", i)
		gid, p, ok, err := db.Lookup(ctx, mk(i).MessageID, "")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, res.IDs[0], gid)
		require.Equal(t, mk(i).MessageID, p.MessageID)
	}
}
