package index

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// up is a short form of a ResourceUpdate for the tables.
func up(id string, s int, state string, opts ...func(*ResourceUpdate)) ResourceUpdate {
	u := ResourceUpdate{ResourceID: id, ProjectID: "p1", UserID: "u1", Source: "openstack",
		Meter: "cpu", Type: "cumulative", Unit: "ns", T: at(s), Metadata: md(state)}
	for _, o := range opts {
		o(&u)
	}
	return u
}

func project(p string) func(*ResourceUpdate) { return func(u *ResourceUpdate) { u.ProjectID = p } }
func meter(name, typ, unit string) func(*ResourceUpdate) {
	return func(u *ResourceUpdate) { u.Meter, u.Type, u.Unit = name, typ, unit }
}
func metadata(m map[string]string) func(*ResourceUpdate) {
	return func(u *ResourceUpdate) { u.Metadata = m }
}

// ver is a Version as the tables write it (seconds; to -1 is open; a
// fraction of a second is written as nanoseconds through toNS).
type ver struct {
	from, to time.Time
	state    string
}

func v(from, to int, state string) ver {
	w := ver{from: at(from), state: state}
	if to >= 0 {
		w.to = at(to)
	}
	return w
}

func vers(hs []Version) []ver {
	out := make([]ver, len(hs))
	for i, h := range hs {
		out[i] = ver{from: h.From, to: h.To, state: h.Metadata["state"]}
	}
	return out
}

var cpu = MeterRef{Name: "cpu", Type: "cumulative", Unit: "ns"}

func TestUpsert(t *testing.T) {
	t.Parallel()
	ns := func(s int, n int) time.Time { return at(s).Add(time.Duration(n)) }
	cases := []struct {
		name    string
		batches [][]ResourceUpdate
		want    Resource
		history []ver
	}{
		{
			name:    "new resource",
			batches: [][]ResourceUpdate{{up("r", 10, "a")}},
			want: Resource{ResourceID: "r", ProjectID: "p1", UserID: "u1", Source: "openstack",
				First: at(10), Last: at(10), Metadata: md("a"), Meters: []MeterRef{cpu}},
			history: []ver{v(10, -1, "a")},
		},
		{
			name:    "unchanged metadata moves last only",
			batches: [][]ResourceUpdate{{up("r", 10, "a")}, {up("r", 20, "a")}, {up("r", 15, "a")}},
			want: Resource{ResourceID: "r", ProjectID: "p1", UserID: "u1", Source: "openstack",
				First: at(10), Last: at(20), Metadata: md("a"), Meters: []MeterRef{cpu}},
			history: []ver{v(10, -1, "a")},
		},
		{
			name:    "in order changes",
			batches: [][]ResourceUpdate{{up("r", 10, "a")}, {up("r", 20, "b")}, {up("r", 30, "c"), up("r", 40, "c")}},
			want: Resource{ResourceID: "r", ProjectID: "p1", UserID: "u1", Source: "openstack",
				First: at(10), Last: at(40), Metadata: md("c"), Meters: []MeterRef{cpu}},
			history: []ver{v(10, 20, "a"), v(20, 30, "b"), v(30, -1, "c")},
		},
		{
			name:    "late change after the last sighting of a closed version",
			batches: [][]ResourceUpdate{{up("r", 10, "a")}, {up("r", 30, "b")}, {up("r", 20, "c")}},
			want: Resource{ResourceID: "r", ProjectID: "p1", UserID: "u1", Source: "openstack",
				First: at(10), Last: at(30), Metadata: md("b"), Meters: []MeterRef{cpu}},
			history: []ver{v(10, 20, "a"), v(20, 30, "c"), v(30, -1, "b")},
		},
		{
			name:    "late change inside the open version splits it",
			batches: [][]ResourceUpdate{{up("r", 10, "a")}, {up("r", 30, "a")}, {up("r", 20, "b")}},
			want: Resource{ResourceID: "r", ProjectID: "p1", UserID: "u1", Source: "openstack",
				First: at(10), Last: at(30), Metadata: md("a"), Meters: []MeterRef{cpu}},
			history: []ver{v(10, 20, "a"), {at(20), ns(20, 1), "b"}, {ns(20, 1), time.Time{}, "a"}},
		},
		{
			name:    "late change at the last sample",
			batches: [][]ResourceUpdate{{up("r", 10, "a")}, {up("r", 30, "a")}, {up("r", 30, "b")}},
			want: Resource{ResourceID: "r", ProjectID: "p1", UserID: "u1", Source: "openstack",
				First: at(10), Last: at(30), Metadata: md("b"), Meters: []MeterRef{cpu}},
			history: []ver{v(10, 30, "a"), v(30, -1, "b")},
		},
		{
			name:    "earlier than the first sample",
			batches: [][]ResourceUpdate{{up("r", 10, "a")}, {up("r", 5, "b", project("p0"))}},
			want: Resource{ResourceID: "r", ProjectID: "p1", UserID: "u1", Source: "openstack",
				First: at(5), Last: at(10), Metadata: md("a"), Meters: []MeterRef{cpu}},
			history: []ver{v(5, 10, "b"), v(10, -1, "a")},
		},
		{
			name:    "earlier with the same metadata extends the first version",
			batches: [][]ResourceUpdate{{up("r", 10, "a")}, {up("r", 20, "b")}, {up("r", 5, "a")}},
			want: Resource{ResourceID: "r", ProjectID: "p1", UserID: "u1", Source: "openstack",
				First: at(5), Last: at(20), Metadata: md("b"), Meters: []MeterRef{cpu}},
			history: []ver{v(5, 20, "a"), v(20, -1, "b")},
		},
		{
			name:    "same time: the later write wins and neighbours merge",
			batches: [][]ResourceUpdate{{up("r", 10, "a")}, {up("r", 20, "b")}, {up("r", 30, "a")}, {up("r", 20, "a")}},
			want: Resource{ResourceID: "r", ProjectID: "p1", UserID: "u1", Source: "openstack",
				First: at(10), Last: at(30), Metadata: md("a"), Meters: []MeterRef{cpu}},
			history: []ver{v(10, -1, "a")},
		},
		{
			name:    "unsorted batch is applied in time order",
			batches: [][]ResourceUpdate{{up("r", 30, "c"), up("r", 10, "a"), up("r", 20, "b")}},
			want: Resource{ResourceID: "r", ProjectID: "p1", UserID: "u1", Source: "openstack",
				First: at(10), Last: at(30), Metadata: md("c"), Meters: []MeterRef{cpu}},
			history: []ver{v(10, 20, "a"), v(20, 30, "b"), v(30, -1, "c")},
		},
		{
			name: "attributes follow the latest sample",
			batches: [][]ResourceUpdate{
				{up("r", 10, "a", project("p1"))},
				{up("r", 5, "a", project("p0"))},
				{up("r", 20, "a", project("p2"))},
				{up("r", 15, "a", project("p3"))},
			},
			want: Resource{ResourceID: "r", ProjectID: "p2", UserID: "u1", Source: "openstack",
				First: at(5), Last: at(20), Metadata: md("a"), Meters: []MeterRef{cpu}},
			history: []ver{v(5, -1, "a")},
		},
		{
			name: "meters are a sorted set",
			batches: [][]ResourceUpdate{
				{up("r", 10, "a", meter("memory", "gauge", "MB")), up("r", 10, "a"), up("r", 11, "a")},
				{up("r", 12, "a", meter("memory", "gauge", "MB")), up("r", 12, "a", meter("memory", "gauge", "GB"))},
				{up("r", 13, "a", meter("", "", ""))},
			},
			want: Resource{ResourceID: "r", ProjectID: "p1", UserID: "u1", Source: "openstack",
				First: at(10), Last: at(13), Metadata: md("a"),
				Meters: []MeterRef{cpu, {"memory", "gauge", "GB"}, {"memory", "gauge", "MB"}}},
			history: []ver{v(10, -1, "a")},
		},
		{
			name:    "nil metadata is empty metadata",
			batches: [][]ResourceUpdate{{up("r", 10, "", metadata(nil))}, {up("r", 20, "", metadata(map[string]string{}))}},
			want: Resource{ResourceID: "r", ProjectID: "p1", UserID: "u1", Source: "openstack",
				First: at(10), Last: at(20), Metadata: map[string]string{}, Meters: []MeterRef{cpu}},
			history: []ver{v(10, -1, "")},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, path := openTest(t)
			check := func(db *DB, when string) {
				t.Helper()
				got, err := db.Resource(ctx, "r")
				require.NoError(t, err, when)
				require.Empty(t, cmp.Diff(tc.want, got), when)
				h, err := db.History(ctx, "r")
				require.NoError(t, err, when)
				require.Empty(t, cmp.Diff(tc.history, vers(h), cmp.AllowUnexported(ver{})), when)
			}
			for _, b := range tc.batches {
				require.NoError(t, db.Upsert(ctx, b))
			}
			check(db, "after the batches")
			for _, b := range tc.batches { // idempotent: the facade may replay
				require.NoError(t, db.Upsert(ctx, b))
			}
			check(db, "after replaying the batches")
			require.NoError(t, db.Close())
			db = openAt(t, path)
			check(db, "after reopening")
			for _, b := range tc.batches { // idempotent with a cold cache too
				require.NoError(t, db.Upsert(ctx, b))
			}
			check(db, "after replaying into the reopened database")
		})
	}
}

func TestUpsertInvalid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		u    ResourceUpdate
		msg  string
	}{
		{"no resource id", ResourceUpdate{T: at(0)}, "update 1: invalid request: empty resource id"},
		{"zero time", ResourceUpdate{ResourceID: "x"}, `update 1 (resource "x"): invalid request: time 0001-01-01T00:00:00Z outside 1678..2261`},
		{"far future", ResourceUpdate{ResourceID: "x", T: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}, "outside 1678..2261"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, _ := openTest(t)
			err := db.Upsert(ctx, []ResourceUpdate{up("ok", 1, "a"), tc.u})
			require.ErrorIs(t, err, ErrInvalid)
			require.ErrorContains(t, err, tc.msg)
			_, err = db.Resource(ctx, "ok")
			require.ErrorIs(t, err, ErrNotFound, "a rejected batch writes nothing")
		})
	}
}

// TestUpsertModel upserts random, unordered updates of a few resources in
// random batches (reopening the database now and then, so both the cached
// and the cold paths run) and checks the stored history against the pure
// algorithm and against every update: the version valid at an update's
// time has its metadata (the last write at a time wins).
func TestUpsertModel(t *testing.T) {
	t.Parallel()
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, path := openTest(t)
			rng := rand.New(rand.NewPCG(seed, 99))
			ids := []string{"r0", "r1", "r2"}
			var all []ResourceUpdate
			for batch := range 30 {
				var b []ResourceUpdate
				for range 1 + rng.IntN(8) {
					id := ids[rng.IntN(len(ids))]
					b = append(b, up(id, rng.IntN(60), string(rune('a'+rng.IntN(3)))))
				}
				require.NoError(t, db.Upsert(ctx, b))
				all = append(all, b...)
				if batch%10 == 9 {
					require.NoError(t, db.Close())
					db = openAt(t, path)
				}
			}
			for _, id := range ids {
				var mine []ResourceUpdate
				for _, u := range all {
					if u.ResourceID == id {
						mine = append(mine, u)
					}
				}
				if len(mine) == 0 {
					continue
				}
				h, err := db.History(ctx, id)
				require.NoError(t, err)
				last := map[time.Time]string{}
				for _, u := range mine {
					last[u.T] = u.Metadata["state"]
				}
				for tm, state := range last {
					i := slices.IndexFunc(h, func(v Version) bool {
						return !tm.Before(v.From) && (v.To.IsZero() || tm.Before(v.To))
					})
					require.GreaterOrEqual(t, i, 0, "%s: no version at %s", id, tm)
					require.Equal(t, state, h[i].Metadata["state"], "%s at %s: %v", id, tm, vers(h))
				}
				r, err := db.Resource(ctx, id)
				require.NoError(t, err)
				require.Equal(t, h[len(h)-1].Metadata, r.Metadata, "latest metadata is the open version's")
				require.Equal(t, h[0].From, r.First)
			}
		})
	}
}

// fixture writes the resources the filter tests read.
func fixture(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	mdf := func(flavor, host string) map[string]string { return map[string]string{"flavor": flavor, "host": host} }
	ups := []ResourceUpdate{
		// vm1: small on h1, later moved to h2.
		{ResourceID: "vm1", ProjectID: "pa", UserID: "ua", Source: "openstack", Meter: "cpu", Type: "cumulative", Unit: "ns", T: at(100), Metadata: mdf("small", "h1")},
		{ResourceID: "vm1", ProjectID: "pa", UserID: "ua", Source: "openstack", Meter: "cpu", Type: "cumulative", Unit: "ns", T: at(200), Metadata: mdf("small", "h2")},
		// vm2: large on h1, project pa, user ub.
		{ResourceID: "vm2", ProjectID: "pa", UserID: "ub", Source: "openstack", Meter: "memory", Type: "gauge", Unit: "MB", T: at(150), Metadata: mdf("large", "h1")},
		{ResourceID: "vm2", ProjectID: "pa", UserID: "ub", Source: "openstack", Meter: "cpu", Type: "cumulative", Unit: "ns", T: at(300), Metadata: mdf("large", "h1")},
		// vm3: small on h2 in project pb, source other.
		{ResourceID: "vm3", ProjectID: "pb", UserID: "ua", Source: "other", Meter: "cpu", Type: "cumulative", Unit: "ns", T: at(400), Metadata: mdf("small", "h2")},
		// host1: no metadata, meter without a type.
		{ResourceID: "host1", ProjectID: "", UserID: "", Source: "hardware", Meter: "hardware.cpu.util", Unit: "%", T: at(50)},
	}
	require.NoError(t, db.Upsert(ctx, ups))
}

func TestResources(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	fixture(t, db)
	ctx := context.Background()
	cases := []struct {
		name string
		f    ResourceFilter
		want []string
	}{
		{"all", ResourceFilter{}, []string{"host1", "vm1", "vm2", "vm3"}},
		{"resource", ResourceFilter{ResourceID: "vm2"}, []string{"vm2"}},
		{"unknown resource", ResourceFilter{ResourceID: "nope"}, nil},
		{"project", ResourceFilter{ProjectID: "pa"}, []string{"vm1", "vm2"}},
		{"user", ResourceFilter{UserID: "ua"}, []string{"vm1", "vm3"}},
		{"source", ResourceFilter{Source: "hardware"}, []string{"host1"}},
		{"meter", ResourceFilter{Meter: "cpu"}, []string{"vm1", "vm2", "vm3"}},
		{"meter memory", ResourceFilter{Meter: "memory"}, []string{"vm2"}},
		{"start overlaps last", ResourceFilter{Start: at(300)}, []string{"vm2", "vm3"}},
		{"start after all", ResourceFilter{Start: at(401)}, nil},
		{"end is exclusive", ResourceFilter{End: at(100)}, []string{"host1"}},
		{"window", ResourceFilter{Start: at(160), End: at(350)}, []string{"vm1", "vm2"}},
		{"latest metadata", ResourceFilter{Metadata: map[string]string{"host": "h2"}}, []string{"vm1", "vm3"}},
		{"old metadata does not match", ResourceFilter{Metadata: map[string]string{"host": "h1", "flavor": "small"}}, nil},
		{"two keys", ResourceFilter{Metadata: map[string]string{"host": "h2", "flavor": "small"}}, []string{"vm1", "vm3"}},
		{"metadata and project", ResourceFilter{ProjectID: "pa", Metadata: map[string]string{"flavor": "small"}}, []string{"vm1"}},
		{"value with quotes and wildcards", ResourceFilter{Metadata: map[string]string{"host": `h%' OR 1=1 --`}}, nil},
		{"marker", ResourceFilter{Marker: "vm1"}, []string{"vm2", "vm3"}},
		{"marker and limit", ResourceFilter{Marker: "host1", Limit: 2}, []string{"vm1", "vm2"}},
		{"marker not stored", ResourceFilter{Marker: "vm10"}, []string{"vm2", "vm3"}},
		{"everything", ResourceFilter{ProjectID: "pa", UserID: "ua", Source: "openstack", Meter: "cpu",
			Start: at(0), End: at(1000), Metadata: map[string]string{"host": "h2"}, Limit: 10}, []string{"vm1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs, err := db.Resources(ctx, tc.f)
			require.NoError(t, err)
			var got []string
			for _, r := range rs {
				got = append(got, r.ResourceID)
			}
			require.Equal(t, tc.want, got)
		})
	}

	t.Run("negative limit", func(t *testing.T) {
		t.Parallel()
		_, err := db.Resources(ctx, ResourceFilter{Limit: -1})
		require.ErrorIs(t, err, ErrInvalid)
	})
	t.Run("full row", func(t *testing.T) {
		t.Parallel()
		r, err := db.Resource(ctx, "vm2")
		require.NoError(t, err)
		want := Resource{ResourceID: "vm2", ProjectID: "pa", UserID: "ub", Source: "openstack",
			First: at(150), Last: at(300), Metadata: map[string]string{"flavor": "large", "host": "h1"},
			Meters: []MeterRef{cpu, {"memory", "gauge", "MB"}}}
		require.Empty(t, cmp.Diff(want, r))
	})
	t.Run("not found", func(t *testing.T) {
		t.Parallel()
		_, err := db.Resource(ctx, "nope")
		require.ErrorIs(t, err, ErrNotFound)
		_, err = db.History(ctx, "nope")
		require.ErrorIs(t, err, ErrNotFound)
	})
}

func TestResourcesPagination(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	ctx := context.Background()
	var ups []ResourceUpdate
	var want []string
	for i := range 53 {
		id := fmt.Sprintf("res-%03d", i)
		want = append(want, id)
		ups = append(ups, up(id, i, "a", project(fmt.Sprint("p", i%2))))
	}
	require.NoError(t, db.Upsert(ctx, ups))
	for _, limit := range []int{1, 10, 53, 100} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			t.Parallel()
			var got []string
			marker := ""
			for pages := 0; ; pages++ {
				require.Less(t, pages, 60, "pagination does not end")
				rs, err := db.Resources(ctx, ResourceFilter{Marker: marker, Limit: limit})
				require.NoError(t, err)
				require.LessOrEqual(t, len(rs), limit)
				if len(rs) == 0 {
					break
				}
				for _, r := range rs {
					got = append(got, r.ResourceID)
					require.Equal(t, []MeterRef{cpu}, r.Meters)
				}
				marker = rs[len(rs)-1].ResourceID
			}
			require.Equal(t, want, got)
		})
	}
	t.Run("with a filter", func(t *testing.T) {
		t.Parallel()
		rs, err := db.Resources(ctx, ResourceFilter{ProjectID: "p1", Marker: "res-010", Limit: 3})
		require.NoError(t, err)
		require.Len(t, rs, 3)
		require.Equal(t, []string{"res-011", "res-013", "res-015"},
			[]string{rs[0].ResourceID, rs[1].ResourceID, rs[2].ResourceID})
	})
}

func TestMatchingIntervals(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	ctx := context.Background()
	mdf := func(flavor, host string) map[string]string { return map[string]string{"flavor": flavor, "host": host} }
	require.NoError(t, db.Upsert(ctx, []ResourceUpdate{
		{ResourceID: "vm1", T: at(10), Metadata: mdf("small", "h1")},
		{ResourceID: "vm1", T: at(20), Metadata: mdf("small", "h2")}, // flavor unchanged: joined
		{ResourceID: "vm1", T: at(30), Metadata: mdf("large", "h2")},
		{ResourceID: "vm1", T: at(40), Metadata: mdf("small", "h1")},
		{ResourceID: "vm2", T: at(15), Metadata: mdf("large", "h1")},
		{ResourceID: "vm3", T: at(15), Metadata: mdf("small", "h3")},
	}))
	iv := func(from, to int) Interval {
		i := Interval{From: at(from)}
		if to >= 0 {
			i.To = at(to)
		}
		return i
	}
	cases := []struct {
		name string
		ids  []string
		md   map[string]string
		want map[string][]Interval
	}{
		{"one key over all resources", nil, map[string]string{"flavor": "small"}, map[string][]Interval{
			"vm1": {iv(10, 30), iv(40, -1)},
			"vm3": {iv(15, -1)},
		}},
		{"two keys", nil, map[string]string{"flavor": "small", "host": "h1"}, map[string][]Interval{
			"vm1": {iv(10, 20), iv(40, -1)},
		}},
		{"restricted to ids", []string{"vm1", "vm2", "nope"}, map[string]string{"host": "h1"}, map[string][]Interval{
			"vm1": {iv(10, 20), iv(40, -1)},
			"vm2": {iv(15, -1)},
		}},
		{"no match", nil, map[string]string{"flavor": "tiny"}, map[string][]Interval{}},
		{"no metadata matches the whole history", []string{"vm1", "vm2"}, nil, map[string][]Interval{
			"vm1": {iv(10, -1)},
			"vm2": {iv(15, -1)},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := db.MatchingIntervals(ctx, tc.ids, tc.md)
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(tc.want, got))
		})
	}
}

func TestExpireResources(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, path := openTest(t)
	require.NoError(t, db.Upsert(ctx, []ResourceUpdate{
		up("old", 10, "a"), up("old", 20, "b"), // last 20
		up("edge", 30, "a"),                    // last == cut: kept
		up("new", 10, "a"), up("new", 40, "b"), // first before the cut, last after
	}))
	n, err := db.ExpireResources(ctx, at(30))
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	check := func(db *DB) {
		t.Helper()
		rs, err := db.Resources(ctx, ResourceFilter{})
		require.NoError(t, err)
		require.Len(t, rs, 2)
		require.Equal(t, "edge", rs[0].ResourceID)
		require.Equal(t, "new", rs[1].ResourceID)
		_, err = db.History(ctx, "old")
		require.ErrorIs(t, err, ErrNotFound)
		m, err := db.MatchingIntervals(ctx, nil, md("b"))
		require.NoError(t, err)
		require.Equal(t, map[string][]Interval{"new": {{From: at(40)}}}, m, "history of old is gone")
		h, err := db.History(ctx, "new")
		require.NoError(t, err)
		require.Equal(t, []ver{v(10, 40, "a"), v(40, -1, "b")}, vers(h), "history of kept resources is kept")
		var rows int
		require.NoError(t, db.r.QueryRow(`SELECT (SELECT count(*) FROM resource_meter) + (SELECT count(*) FROM metadata_version) + (SELECT count(*) FROM metadata_kv) + (SELECT count(*) FROM resource_span) + (SELECT count(*) FROM resource)`).Scan(&rows))
		require.Equal(t, 2+3+3+2+2, rows, "no orphan rows")
	}
	check(db)
	n, err = db.ExpireResources(ctx, at(30))
	require.NoError(t, err)
	require.Zero(t, n)
	require.NoError(t, db.Close())
	db = openAt(t, path)
	check(db)

	// An expired resource that reports again starts afresh.
	require.NoError(t, db.Upsert(ctx, []ResourceUpdate{up("old", 50, "c")}))
	r, err := db.Resource(ctx, "old")
	require.NoError(t, err)
	require.Equal(t, at(50), r.First)
	h, err := db.History(ctx, "old")
	require.NoError(t, err)
	require.Equal(t, []ver{v(50, -1, "c")}, vers(h))
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("bad path", func(t *testing.T) {
		t.Parallel()
		_, err := Open(ctx, t.TempDir()+"/a?b", testLogger(t))
		require.ErrorIs(t, err, ErrInvalid)
	})
	t.Run("missing directory", func(t *testing.T) {
		t.Parallel()
		_, err := Open(ctx, t.TempDir()+"/no/such/dir/index.db", testLogger(t))
		require.Error(t, err)
	})
	t.Run("newer schema", func(t *testing.T) {
		t.Parallel()
		db, path := openTest(t)
		_, err := db.w.Exec(`INSERT INTO schema_migrations (version, applied_ns) VALUES (?, 0)`, SchemaVersion+1)
		require.NoError(t, err)
		require.NoError(t, db.Close())
		_, err = Open(ctx, path, testLogger(t))
		require.ErrorContains(t, err, "newer than this binary")
	})
	t.Run("wal and close twice", func(t *testing.T) {
		t.Parallel()
		db, _ := openTest(t)
		var mode string
		require.NoError(t, db.r.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
		require.Equal(t, "wal", mode)
		var sync int
		require.NoError(t, db.w.QueryRow(`PRAGMA synchronous`).Scan(&sync))
		require.Equal(t, 1, sync, "NORMAL")
		require.NoError(t, db.Close())
		require.NoError(t, db.Close())
	})
}

// TestConcurrent writes resources and events from several goroutines while
// others read; run it with -race.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openTest(t)
	const writers, rounds, perRound = 3, 20, 10
	errs := make(chan error, 2*writers+2)
	done := make(chan struct{})
	for w := range writers {
		go func() {
			for r := range rounds {
				var ups []ResourceUpdate
				var evs []sample.Event
				for i := range perRound {
					ups = append(ups, up(fmt.Sprintf("w%d-%d", w, i), r, fmt.Sprint(r%3)))
					evs = append(evs, sample.Event{MessageID: fmt.Sprintf("w%d-%d-%d", w, r, i), EventType: "t", Generated: at(r)})
				}
				if err := db.Upsert(ctx, ups); err != nil {
					errs <- err
					return
				}
				if _, err := db.InsertEvents(ctx, evs, nil); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				if _, err := db.Resources(ctx, ResourceFilter{Metadata: md("1"), Limit: 5}); err != nil {
					errs <- err
					return
				}
				if _, err := db.Events(ctx, EventFilter{EventType: "t", Limit: 5}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range writers {
		require.NoError(t, <-errs)
	}
	close(done)
	for range 2 {
		require.NoError(t, <-errs)
	}
	rs, err := db.Resources(ctx, ResourceFilter{})
	require.NoError(t, err)
	require.Len(t, rs, writers*perRound)
	for _, r := range rs {
		require.Equal(t, at(rounds-1), r.Last)
		h, err := db.History(ctx, r.ResourceID)
		require.NoError(t, err)
		require.Len(t, h, rounds, "a new version each round")
	}
	evs, err := db.Events(ctx, EventFilter{})
	require.NoError(t, err)
	require.Len(t, evs, writers*rounds*perRound)
}
