package index

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
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
	t.Logf("%d of 61 batches kept the cache", kept)
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
