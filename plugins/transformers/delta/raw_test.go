package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/xform/xformtest"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/transformer"
)

// newPaths builds two instances from cfg that share a clock and make the
// same ids for inputs without one.
func newPaths(t testing.TB, cfg string, clock *time.Time) xformtest.Paths {
	mk := func() transformer.Transformer {
		d, ok := xformtest.New(t, spec(), cfg).(*delta)
		require.True(t, ok)
		d.now = func() time.Time { return *clock }
		n := 0
		d.ids.Random = func() string { n++; return fmt.Sprintf("random-%d", n) }
		return d
	}
	return xformtest.Paths{Decode: mk(), Raw: mk()}
}

// TestRawEquivalence: TransformRaw gives what Transform gives, batch after
// batch, with the same counters, for TestTransform's cases.
func TestRawEquivalence(t *testing.T) {
	t.Parallel()
	for _, tc := range transformCases() {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			clock := xformtest.T0
			p := newPaths(t, tc.Cfg, &clock)
			for i, b := range tc.Batches {
				got := p.Feed(t, xformtest.Encode(t, b, sample.Event{MessageID: "e", EventType: "x.y"}))
				want := tc.Want[i]
				if want == nil {
					want = []xformtest.Out{}
				}
				require.Equal(t, want, xformtest.Brief(got.Samples), "batch %d", i)
			}
			p.SameCounters(t)
		})
	}
}

var fuzzConfigs = []string{
	"meters = [\"cpu\"]\nname = \"cpu.delta\"\ngrowth_only = true\n",
	"meters = [\"cpu\", \"disk.*\"]\nunmatched = \"drop\"\nmap_from = \"(.*)\"\nmap_to = \"$1.delta\"",
	"meters = [\"!memory\"]",
}

// FuzzTransformRaw: TransformRaw and Transform give the same outputs and
// counters for any sequence of batches (xformtest.FuzzFeed).
func FuzzTransformRaw(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xff, 11, 12, 13, 14, 15})
	for _, tc := range transformCases() {
		f.Add(xformtest.FuzzSeed(f, tc.Batches))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		clock := xformtest.T0
		xformtest.FuzzFeed(t, newPaths(t, fuzzConfigs[int(data[0]>>1)%len(fuzzConfigs)], &clock), data, &clock)
	})
}
