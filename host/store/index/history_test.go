package index

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// span is a version as the tests write it: metadata label valid in
// [from, to); to -1 is open.
type span struct {
	from, to int64
	label    string
}

func md(label string) map[string]string { return map[string]string{"state": label} }

func spans(vs []version) []span {
	out := make([]span, len(vs))
	for i, v := range vs {
		out[i] = span{from: v.from, to: v.to, label: v.md["state"]}
		if v.to == openTo {
			out[i].to = -1
		}
	}
	return out
}

type upd struct {
	t     int64
	label string
}

// replay applies updates as Upsert does: the open version's seen is the
// largest time seen so far.
func replay(ups []upd) []version {
	var vs []version
	var last int64
	for i, u := range ups {
		if len(vs) > 0 {
			vs[len(vs)-1].seen = last
		}
		vs = applyVersion(vs, u.t, metadataHash(md(u.label)), md(u.label))
		if i == 0 || u.t > last {
			last = u.t
		}
	}
	return vs
}

func TestApplyVersion(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		ups  []upd
		want []span
	}{
		{"first", []upd{{10, "a"}}, []span{{10, -1, "a"}}},
		{"unchanged", []upd{{10, "a"}, {20, "a"}}, []span{{10, -1, "a"}}},
		{"in order change", []upd{{10, "a"}, {20, "b"}, {30, "c"}},
			[]span{{10, 20, "a"}, {20, 30, "b"}, {30, -1, "c"}}},
		{"back to old value", []upd{{10, "a"}, {20, "b"}, {30, "a"}},
			[]span{{10, 20, "a"}, {20, 30, "b"}, {30, -1, "a"}}},
		{"late change after last sighting", []upd{{10, "a"}, {30, "b"}, {20, "c"}},
			[]span{{10, 20, "a"}, {20, 30, "c"}, {30, -1, "b"}}},
		{"late change inside a span splits it", []upd{{10, "a"}, {30, "a"}, {20, "b"}},
			[]span{{10, 20, "a"}, {20, 21, "b"}, {21, -1, "a"}}},
		{"late change at the last sighting", []upd{{10, "a"}, {30, "a"}, {40, "c"}, {30, "b"}},
			[]span{{10, 30, "a"}, {30, 40, "b"}, {40, -1, "c"}}},
		{"late change at a span start", []upd{{10, "a"}, {30, "a"}, {10, "b"}},
			[]span{{10, 11, "b"}, {11, -1, "a"}}},
		{"same time, later write wins", []upd{{10, "a"}, {10, "b"}}, []span{{10, -1, "b"}}},
		{"before the first, same", []upd{{10, "a"}, {5, "a"}}, []span{{5, -1, "a"}}},
		{"before the first, different", []upd{{10, "a"}, {5, "b"}}, []span{{5, 10, "b"}, {10, -1, "a"}}},
		{"before the first, joins the next", []upd{{10, "a"}, {20, "b"}, {5, "b"}, {5, "a"}},
			[]span{{5, 20, "a"}, {20, -1, "b"}}},
		{"replacement merges neighbours", []upd{{10, "a"}, {20, "b"}, {30, "a"}, {20, "a"}},
			[]span{{10, -1, "a"}}},
		{"late confirmation extends a closed version", []upd{{10, "a"}, {30, "b"}, {20, "a"}, {25, "c"}},
			[]span{{10, 25, "a"}, {25, 30, "c"}, {30, -1, "b"}}},
		{"split of a split", []upd{{10, "a"}, {50, "a"}, {30, "b"}, {20, "c"}},
			[]span{{10, 20, "a"}, {20, 21, "c"}, {21, 30, "a"}, {30, 31, "b"}, {31, -1, "a"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, spans(replay(tc.ups)))
		})
	}
}

// TestApplyVersionRandom checks the invariants of the history on random,
// unordered updates: versions are sorted, contiguous, open at the end, with
// no equal neighbours, and every update finds its metadata at its time
// (the last write at a time wins).
func TestApplyVersionRandom(t *testing.T) {
	t.Parallel()
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, seed*7+1))
			n := 1 + rng.IntN(60)
			ups := make([]upd, n)
			for i := range ups {
				ups[i] = upd{t: int64(rng.IntN(40)) * 10, label: string(rune('a' + rng.IntN(3)))}
			}
			vs := replay(ups)
			checkVersions(t, vs)
			want := map[int64]string{}
			for _, u := range ups {
				want[u.t] = u.label
			}
			for tm, label := range want {
				i := versionAt(vs, tm)
				require.GreaterOrEqual(t, i, 0, "no version at %d in %v", tm, spans(vs))
				require.Equal(t, label, vs[i].md["state"], "at %d in %v (updates %v)", tm, spans(vs), ups)
			}
		})
	}
}

func checkVersions(t *testing.T, vs []version) {
	t.Helper()
	require.NotEmpty(t, vs)
	for i, v := range vs {
		require.Less(t, v.from, v.to, "version %d of %v", i, spans(vs))
		require.Equal(t, metadataHash(v.md), v.hash)
		if i > 0 {
			require.Equal(t, vs[i-1].to, v.from, "gap or overlap before version %d of %v", i, spans(vs))
			require.NotEqual(t, vs[i-1].hash, v.hash, "equal neighbours at %d of %v", i, spans(vs))
		}
	}
	require.Equal(t, int64(openTo), vs[len(vs)-1].to)
}

func TestMetadataHash(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		a, b map[string]string
		same bool
	}{
		{"nil and empty", nil, map[string]string{}, true},
		{"order independent", map[string]string{"a": "1", "b": "2"}, map[string]string{"b": "2", "a": "1"}, true},
		{"value differs", map[string]string{"a": "1"}, map[string]string{"a": "2"}, false},
		{"key and value boundary", map[string]string{"ab": "c"}, map[string]string{"a": "bc"}, false},
		{"swapped values", map[string]string{"a": "1", "b": "2"}, map[string]string{"a": "2", "b": "1"}, false},
		{"extra empty key", map[string]string{"a": "1"}, map[string]string{"a": "1", "": ""}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.same, metadataHash(tc.a) == metadataHash(tc.b))
		})
	}
}
