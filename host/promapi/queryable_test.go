package promapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
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
	_, ok = c.get(1<<40, &k)
	require.False(t, ok)

	// Ids past the indexed range are cached too; a put replaces.
	far := series.ID(maxCachedLabels + 5)
	c.put(far, &other, labels.FromStrings("resource_id", "vm2"))
	c.put(7, &other, labels.FromStrings("resource_id", "vm2"))
	for _, id := range []series.ID{7, far} {
		l, ok := c.get(id, &other)
		require.True(t, ok, "id %d", id)
		require.Equal(t, "vm2", l.Get("resource_id"))
	}
	require.Equal(t, 2, c.n)

	// Full, it starts over: the cache stays bounded.
	c.n = maxCachedLabels
	c.put(9, &k, labels.FromStrings("resource_id", "vm1"))
	require.Equal(t, 1, c.n)
	_, ok = c.get(7, &other)
	require.False(t, ok)
	_, ok = c.get(9, &k)
	require.True(t, ok)
	one := c.bytes
	require.Positive(t, one)
	c.put(9, &k, labels.FromStrings("resource_id", "vm1"))
	require.Equal(t, one, c.bytes, "a replaced entry's bytes are not counted twice")

	// Large label sets: bounded by bytes before the entry count is reached.
	c.maxBytes = 1 << 20
	long := strings.Repeat("x", 16<<10)
	for i := range 2 * c.maxBytes / len(long) {
		lk := series.Key{Meter: "cpu", ResourceID: fmt.Sprint(long, i)}
		c.put(series.ID(i+1), &lk, labels.FromStrings("resource_id", lk.ResourceID))
		require.LessOrEqual(t, c.bytes, c.maxBytes)
	}
	require.Less(t, c.n, c.maxBytes/len(long))
}

// The adapter's iterator moves as Prometheus's list iterator does: Next,
// Seek forward only, no effect when already at or after t, ValNone at
// the end.
func TestPointIterator(t *testing.T) {
	pts := fpoints{{t: 10, v: 1}, {t: 20, v: 2}, {t: 20, v: 2.5}, {t: 35, v: 3}, {t: 50, v: 4}}
	var samples sampleList
	for _, p := range pts {
		samples = append(samples, fSample{t: p.t, f: p.v})
	}
	type op struct {
		seek bool
		t    int64
	}
	for _, ops := range [][]op{
		{{}, {}, {}, {}, {}, {}, {}},
		{{seek: true, t: 5}, {seek: true, t: 20}, {}, {seek: true, t: 15}, {seek: true, t: 36}, {}, {seek: true, t: 60}, {}},
		{{seek: true, t: 51}, {seek: true, t: 0}, {}},
		{{}, {seek: true, t: 10}, {seek: true, t: 11}, {seek: true, t: 50}, {}},
	} {
		got := &pointIterator{pts: pts, i: -1}
		want := storage.NewListSeriesIterator(samples)
		for i, o := range ops {
			var g, w chunkenc.ValueType
			if o.seek {
				g, w = got.Seek(o.t), want.Seek(o.t)
			} else {
				g, w = got.Next(), want.Next()
			}
			require.Equal(t, w, g, "op %d %+v", i, o)
			if w == chunkenc.ValNone {
				continue
			}
			wt, wv := want.At()
			gt, gv := got.At()
			require.Equal(t, [2]float64{float64(wt), wv}, [2]float64{float64(gt), gv}, "op %d %+v", i, o)
			require.Equal(t, want.AtT(), got.AtT())
		}
	}
	e := &pointIterator{i: -1}
	require.Equal(t, chunkenc.ValNone, e.Next())
	require.Equal(t, chunkenc.ValNone, e.Seek(0))
}

// sampleList is storage.Samples for Prometheus's list iterator.
type sampleList []chunks.Sample

func (l sampleList) Get(i int) chunks.Sample { return l[i] }
func (l sampleList) Len() int                { return len(l) }

// fSample is a float sample for Prometheus's list iterator.
type fSample struct {
	t int64
	f float64
}

func (s fSample) T() int64                      { return s.t }
func (s fSample) ST() int64                     { return 0 }
func (s fSample) F() float64                    { return s.f }
func (s fSample) H() *histogram.Histogram       { return nil }
func (s fSample) FH() *histogram.FloatHistogram { return nil }
func (s fSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s fSample) Copy() chunks.Sample           { return s }
