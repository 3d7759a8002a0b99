package series

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSameResourceSeries writes, one after another, samples of keys that
// share the resource but differ in one other field each: every key is its
// own series (the write's successor guess and same-resource scan compare
// whole keys), in the same batch and in later ones, in the same order and
// reversed (the guesses from the last write then miss).
func TestSameResourceSeries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, t.TempDir(), Options{})
	base := key("m", "res", "p")
	keys := []Key{base}
	for i := range 7 {
		k := base
		switch i {
		case 0:
			k.Meter = "m2"
		case 1:
			k.Type = "delta"
		case 2:
			k.Unit = "B"
		case 3:
			k.ProjectID = "p2"
		case 4:
			k.UserID = "u2"
		case 5:
			k.Source = "s2"
		case 6:
			k.ResourceID = "res2"
		}
		keys = append(keys, k)
	}
	for round := range 3 {
		var in []Input
		for j, k := range keys {
			in = append(in, Input{Key: k, T: t0 + int64(round)*min1, V: float64(j), Recorded: t0})
		}
		if round == 1 {
			slices.Reverse(keys)
			slices.Reverse(in)
		}
		res, err := db.Write(ctx, in)
		require.NoError(t, err)
		require.Equal(t, len(keys), res.Written)
		seen := map[ID]bool{}
		for j, k := range keys {
			id, ok := db.SeriesID(k)
			require.True(t, ok, "key %d", j)
			require.Equal(t, id, res.IDs[j], "key %d", j)
			require.False(t, seen[id], "key %d shares a series", j)
			seen[id] = true
		}
	}
}
