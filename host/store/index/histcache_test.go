package index

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/sample"
)

// TestHistoryCache reads every resource's history after each batch of
// random updates (in and out of order, changing and repeating metadata)
// and compares it with a read that bypasses the cache; an update that only
// confirms the current metadata keeps the cache, a caller's changes to an
// answer do not reach the next one, and expiry empties it.
func TestHistoryCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openTest(t)
	rng := rand.New(rand.NewPCG(5, 6))
	ids := []string{"r0", "r1", "r2", "r3"}
	fresh := func(id string) []Version {
		db.hist.invalidate()
		h, err := db.History(ctx, id)
		require.NoError(t, err)
		return h
	}
	kept := 0
	for batch := range 60 {
		var b []ResourceUpdate
		for range 1 + rng.IntN(6) {
			b = append(b, up(ids[rng.IntN(len(ids))], rng.IntN(80), string(rune('a'+rng.IntN(3)))))
		}
		// Fill the cache, then write.
		for _, id := range ids {
			_, _ = db.History(ctx, id)
		}
		gen := db.hist.gen
		require.NoError(t, db.Upsert(ctx, b))
		if db.hist.gen == gen {
			kept++
		}
		for _, id := range ids {
			got, err := db.History(ctx, id)
			if err != nil {
				require.ErrorIs(t, err, ErrNotFound)
				continue
			}
			require.Equal(t, fresh(id), got, "batch %d resource %s", batch, id)
		}
	}

	// Confirming the current metadata writes no version: the cache stays.
	h, err := db.History(ctx, "r0")
	require.NoError(t, err)
	state := h[len(h)-1].Metadata["state"]
	gen := db.hist.gen
	require.NoError(t, db.Upsert(ctx, []ResourceUpdate{up("r0", 500, state)}))
	require.Equal(t, gen, db.hist.gen, "an update that changes no history dropped the cache")
	kept++
	t.Logf("%d of 61 batches dropped no answer", kept)
	h[len(h)-1].Metadata["state"] = "scribbled"
	h2, err := db.History(ctx, "r0")
	require.NoError(t, err)
	require.Equal(t, state, h2[len(h2)-1].Metadata["state"], "a caller's change reached the cache")

	// Expiry removes resources: their histories go from the cache too.
	_, err = db.ExpireResources(ctx, at(10_000))
	require.NoError(t, err)
	for _, id := range ids {
		_, err := db.History(ctx, id)
		require.ErrorIs(t, err, ErrNotFound, fmt.Sprint(id))
	}
}

// TestHistoryCacheBytes fills the cache past its memory bound: it keeps
// what fits, its count of bytes matches its answers, and it holds far more
// than the 8,192 resources its former count allowed.
func TestHistoryCacheBytes(t *testing.T) {
	t.Parallel()
	var c historyCache
	_, gen, _ := c.get("x")
	md := map[string]string{"state": "active", "flavor": "m1.small", "host": "compute-1"}
	for i := range 300_000 {
		c.put(fmt.Sprintf("resource-%06d", i), gen, []Version{{Metadata: md}})
	}
	sum := 0
	for id, vs := range c.m {
		sum += historySize(id, vs)
	}
	require.Equal(t, sum, c.bytes)
	require.LessOrEqual(t, c.bytes, maxCachedHistoryBytes)
	require.Greater(t, len(c.m), 50_000)
	require.Less(t, len(c.m), 300_000, "the bound evicted nothing")
	// Replacing an answer does not count it twice.
	id := "resource-299999"
	if _, ok := c.m[id]; !ok {
		c.put(id, gen, []Version{{Metadata: md}})
	}
	before := c.bytes
	c.put(id, gen, []Version{{Metadata: md}})
	require.Equal(t, before, c.bytes)
	c.invalidate()
	require.Zero(t, c.bytes)
}

// TestHistoryCacheDropsTouchedOnly: a write that changes one resource's
// metadata history drops that resource's answer only; the others are
// still answered from the cache. Expiry drops the expired ones, events
// none.
func TestHistoryCacheDropsTouchedOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openTest(t)
	require.NoError(t, db.Upsert(ctx, []ResourceUpdate{up("r0", 1, "a"), up("r1", 1, "a"), up("r2", 1, "a")}))
	require.NoError(t, db.Upsert(ctx, []ResourceUpdate{up("r2", 3000, "a")}))
	for _, id := range []string{"r0", "r1", "r2"} {
		_, err := db.History(ctx, id)
		require.NoError(t, err)
	}
	cached := func(id string) bool {
		db.hist.mu.Lock()
		defer db.hist.mu.Unlock()
		_, ok := db.hist.m[id]
		return ok
	}
	require.NoError(t, db.Upsert(ctx, []ResourceUpdate{up("r1", 2, "b")}))
	require.False(t, cached("r1"), "the changed history's answer stays")
	require.True(t, cached("r0"), "an unchanged history's answer went")
	h, err := db.History(ctx, "r1")
	require.NoError(t, err)
	require.Len(t, h, 2)
	require.Equal(t, "b", h[1].Metadata["state"])

	_, err = db.InsertEvents(ctx, []sample.Event{{MessageID: "e1", EventType: "compute.instance.exists", Generated: at(5)}}, nil)
	require.NoError(t, err)
	_, err = db.ExpireEvents(ctx, at(10))
	require.NoError(t, err)
	require.True(t, cached("r0"), "events dropped a history")

	_, err = db.ExpireResources(ctx, at(1000))
	require.NoError(t, err)
	require.False(t, cached("r0"), "an expired resource's answer stays")
	require.True(t, cached("r2"), "expiry dropped a resource it kept")
	_, err = db.History(ctx, "r0")
	require.ErrorIs(t, err, ErrNotFound)
}

// TestHistoryCacheReaderRace: a reader that began before a drop of its
// resource does not store its answer, one of another resource does, and
// past maxDroppedIDs the readers in flight lose theirs while the cache
// keeps its entries.
func TestHistoryCacheReaderRace(t *testing.T) {
	t.Parallel()
	var c historyCache
	v := []Version{{Metadata: map[string]string{"state": "a"}}}
	_, g, _ := c.get("x")
	c.drop([]string{"x"})
	c.put("x", g, v)
	c.put("y", g, v)
	_, _, okX := c.get("x")
	_, _, okY := c.get("y")
	require.False(t, okX, "an answer read before its resource's drop was kept")
	require.True(t, okY)
	_, g, _ = c.get("z")
	ids := make([]string, maxDroppedIDs+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("other-%d", i)
	}
	c.drop(ids)
	c.put("z", g, v)
	_, _, okZ := c.get("z")
	_, _, okY = c.get("y")
	require.False(t, okZ, "an answer read before a pruned drop was kept")
	require.True(t, okY, "pruning the drops emptied the cache")
	require.LessOrEqual(t, len(c.dropped), maxDroppedIDs)
	_, g, _ = c.get("z")
	c.put("z", g, v)
	_, _, okZ = c.get("z")
	require.True(t, okZ)
}
