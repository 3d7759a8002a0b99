package store

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// topN keeps what sorting everything offered and taking the first n gives,
// whatever the order of the offers, ties included.
func TestTopN(t *testing.T) {
	t.Parallel()
	type kv struct{ k, id int }
	less := func(a, b *kv) bool { // larger k first, then smaller id, as default order
		if a.k != b.k {
			return a.k > b.k
		}
		return a.id < b.id
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name            string
		n, offers, keys int
	}{
		{"empty", 5, 0, 1},
		{"fewer than n", 10, 7, 100},
		{"n of one", 1, 50, 100},
		{"many ties", 20, 500, 4},
		{"large", 100, 5000, 1000000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all := make([]kv, tc.offers)
			for i := range all {
				all[i] = kv{k: rng.IntN(tc.keys), id: i}
			}
			rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
			h := topN[kv]{n: tc.n, before: less}
			for _, x := range all {
				h.offer(x)
				require.LessOrEqual(t, len(h.items), tc.n)
			}
			want := slices.Clone(all)
			slices.SortFunc(want, func(a, b kv) int {
				if less(&a, &b) {
					return -1
				}
				return 1
			})
			want = want[:min(tc.n, len(want))]
			got := h.sorted()
			if len(want) == 0 {
				require.Empty(t, got)
				return
			}
			require.Equal(t, want, got)
		})
	}
}
