package promapi

import (
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/store/series"
)

// The engine's unsorted selections merge series with equal labels as the
// sorted ones do, keeping the catalog's order of first appearance.
func TestMergeUnsorted(t *testing.T) {
	a, b, c := labels.FromStrings("r", "a"), labels.FromStrings("r", "b"), labels.FromStrings("r", "c")
	in := []mapped{
		{lset: b, parts: []part{{id: 1}}},
		{lset: a, parts: []part{{id: 2}}},
		{lset: b, parts: []part{{id: 3}}},
		{lset: c, parts: []part{{id: 4}}},
		{lset: a, parts: []part{{id: 5}}},
	}
	got, ok := mergeUnsorted(in)
	require.True(t, ok)
	require.Equal(t, []mapped{
		{lset: b, parts: []part{{id: 1}, {id: 3}}},
		{lset: a, parts: []part{{id: 2}, {id: 5}}},
		{lset: c, parts: []part{{id: 4}}},
	}, got)
	// No duplicates: the same list.
	got, ok = mergeUnsorted([]mapped{{lset: c, parts: []part{{id: 4}}}, {lset: a, parts: []part{{id: 2}}}})
	require.True(t, ok)
	require.Equal(t, []mapped{{lset: c, parts: []part{{id: 4}}}, {lset: a, parts: []part{{id: 2}}}}, got)
}

// A cached label set serves only the key it was built for.
func TestLabelCache(t *testing.T) {
	c := newLabelCache()
	k := series.Key{Meter: "cpu", ResourceID: "vm1"}
	c.put(7, &k, labels.FromStrings("resource_id", "vm1"))
	l, ok := c.get(7, &k)
	require.True(t, ok)
	require.Equal(t, "vm1", l.Get("resource_id"))
	other := series.Key{Meter: "cpu", ResourceID: "vm2"}
	_, ok = c.get(7, &other)
	require.False(t, ok, "an id reused by another series is not served the old labels")
	_, ok = c.get(8, &k)
	require.False(t, ok)
}
