package index

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// spanRow reads resource_span as stored, without the flush a read does.
func spanRow(t *testing.T, db *DB, rid string) (first, last int64) {
	t.Helper()
	require.NoError(t, db.r.QueryRow(`SELECT s.first_ns, s.last_ns FROM resource r JOIN resource_span s ON s.id = r.id
WHERE r.resource_id = ?`, rid).Scan(&first, &last))
	return first, last
}

func TestSpansAreWrittenLazily(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openTest(t)
	require.NoError(t, db.Upsert(ctx, []ResourceUpdate{up("r1", 10, "a"), up("r2", 10, "a")}))

	// Only the times move: nothing is written, the times are listed.
	require.NoError(t, db.Upsert(ctx, []ResourceUpdate{up("r1", 20, "a"), up("r2", 12, "a"), up("r1", 15, "a")}))
	f, l := spanRow(t, db, "r1")
	require.Equal(t, [2]int64{at(10).UnixNano(), at(10).UnixNano()}, [2]int64{f, l})
	require.Len(t, db.spans, 2)

	// A read writes them first.
	r, err := db.Resource(ctx, "r1")
	require.NoError(t, err)
	require.Equal(t, at(20), r.Last)
	r, err = db.Resource(ctx, "r2")
	require.NoError(t, err)
	require.Equal(t, [2]time.Time{at(10), at(12)}, [2]time.Time{r.First, r.Last})
	f, l = spanRow(t, db, "r1")
	require.Equal(t, [2]int64{at(10).UnixNano(), at(20).UnixNano()}, [2]int64{f, l})
	require.Empty(t, db.spans)

	// An update that needs SQL (a new meter for r1) writes the listed
	// times of other resources too, and its own.
	require.NoError(t, db.Upsert(ctx, []ResourceUpdate{up("r2", 30, "a")}))
	require.NoError(t, db.Upsert(ctx, []ResourceUpdate{up("r1", 40, "a", meter("mem", "gauge", "MB"))}))
	_, l = spanRow(t, db, "r2")
	require.Equal(t, at(30).UnixNano(), l)
	_, l = spanRow(t, db, "r1")
	require.Equal(t, at(40).UnixNano(), l)
	require.Empty(t, db.spans)

	// Expiry sees the listed times: r1 moved past the cut in memory only.
	require.NoError(t, db.Upsert(ctx, []ResourceUpdate{up("r1", 100, "a")}))
	n, err := db.ExpireResources(ctx, at(50))
	require.NoError(t, err)
	require.Equal(t, int64(1), n) // r2 only
	_, err = db.Resource(ctx, "r1")
	require.NoError(t, err)
}

func TestSpansCleanMark(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	db, err := Open(ctx, path, testLogger(t))
	require.NoError(t, err)
	require.False(t, db.SpansClean(), "a new database has no mark")
	require.NoError(t, db.ExpandSpans(ctx, nil))
	require.True(t, db.SpansClean())
	require.NoError(t, db.Upsert(ctx, []ResourceUpdate{up("r1", 10, "a")}))
	require.NoError(t, db.Upsert(ctx, []ResourceUpdate{up("r1", 20, "a")}))
	require.NoError(t, db.Close())

	// Closed cleanly: the listed time was written and the mark set.
	db, err = Open(ctx, path, testLogger(t))
	require.NoError(t, err)
	require.True(t, db.SpansClean())
	f, l := spanRow(t, db, "r1")
	require.Equal(t, at(20).UnixNano(), l)
	require.Equal(t, at(10).UnixNano(), f)

	// A crash: the process ends without Close, its listed time is lost
	// (the first update after an open loads the resource and writes).
	require.NoError(t, db.Upsert(ctx, []ResourceUpdate{up("r1", 25, "a")}))
	require.NoError(t, db.Upsert(ctx, []ResourceUpdate{up("r1", 30, "a")}))
	require.NoError(t, db.r.Close())
	require.NoError(t, db.w.Close())
	db, err = Open(ctx, path, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.False(t, db.SpansClean())
	_, l = spanRow(t, db, "r1")
	require.Equal(t, at(25).UnixNano(), l, "the lost time")

	// Widening restores it; times inside the span change nothing, unknown
	// resources are skipped.
	require.NoError(t, db.ExpandSpans(ctx, map[string][2]int64{
		"r1":    {at(15).UnixNano(), at(30).UnixNano()},
		"ghost": {at(1).UnixNano(), at(2).UnixNano()},
	}))
	require.True(t, db.SpansClean())
	r, err := db.Resource(ctx, "r1")
	require.NoError(t, err)
	require.Equal(t, [2]int64{at(10).UnixNano(), at(30).UnixNano()}, [2]int64{r.First.UnixNano(), r.Last.UnixNano()})
	_, err = db.Resource(ctx, "ghost")
	require.ErrorIs(t, err, ErrNotFound)
}
