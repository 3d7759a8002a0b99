package promapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/altimeter/altimeter/host/store/index"
	"github.com/altimeter/altimeter/host/store/series"
	"github.com/altimeter/altimeter/internal/metric"
)

// Source is what the query API reads: the embedded store's series catalog,
// a multi-series read view, resource metadata history and roll-up
// statistics (host/store.Store implements it).
type Source interface {
	MeterNames() []string
	SelectSeries(meter string, match func(*series.Key) bool) []series.Info
	View() (*series.View, error)
	History(ctx context.Context, resourceID string) ([]index.Version, error)
	SeriesStats(ctx context.Context, sel series.Selector, start, end, period int64) ([]series.Bucket, error)
}

// Errors the adapter returns; the API maps them to Prometheus error types.
var (
	// ErrTooManySeries means a selector matched more series than MaxSeries.
	ErrTooManySeries = errors.New("too many series")
	// ErrTooManySamples means a query read more samples than MaxReadSamples.
	ErrTooManySamples = errors.New("too many samples")
)

// queryable is a storage.Queryable over a Source for one request: its
// project, when set, confines every selection (on top of the matcher the
// API injects into every selector), and its budget bounds what one query
// reads.
type queryable struct {
	src       Source
	mapping   *metric.Mapping
	labels    *labelCache
	project   string
	maxSeries int
	budget    *readBudget
}

// labelCache holds the label sets of stored series without metadata, by
// series id, so that a query over 10,000 series does not map and build
// them all again. An entry is used only while its key is the series' (an
// id a deleted series left could come back under another key after a
// restart). Series ids are dense from 1: below maxCachedLabels an entry
// is found by index (a selection walks ids in order, so its lookups read
// memory in order, where a map's are random), above it in a map. It is
// bounded by entries and by their bytes (long resource ids or metadata
// values make large label sets); past either bound it starts over.
type labelCache struct {
	mu    sync.Mutex
	byID  []*cachedLabels
	far   map[series.ID]*cachedLabels
	n     int // entries in both
	bytes int // their size, as entrySize counts it
	// maxBytes bounds bytes (maxCachedLabelBytes; smaller in tests).
	maxBytes int
}

// cachedLabels is an entry; never changed once stored.
type cachedLabels struct {
	key  series.Key
	lset labels.Labels
}

func newLabelCache() *labelCache { return &labelCache{maxBytes: maxCachedLabelBytes} }

// maxCachedLabels and maxCachedLabelBytes bound the cache; when either is
// reached it starts over.
const (
	maxCachedLabels     = 1 << 20
	maxCachedLabelBytes = 256 << 20
)

// entrySize is what an entry holds: its strings (the key's and the
// labels', counted apart though they may share memory) and a fixed
// overhead for the headers.
func (e *cachedLabels) entrySize() int {
	k := &e.key
	n := 256 + len(k.Meter) + len(k.Type) + len(k.Unit) + len(k.ResourceID) + len(k.ProjectID) + len(k.UserID) + len(k.Source)
	e.lset.Range(func(l labels.Label) { n += len(l.Name) + len(l.Value) })
	return n
}

func (c *labelCache) get(id series.ID, k *series.Key) (labels.Labels, bool) {
	var e *cachedLabels
	c.mu.Lock()
	if id < series.ID(len(c.byID)) {
		e = c.byID[id]
	} else if id >= maxCachedLabels {
		e = c.far[id]
	}
	c.mu.Unlock()
	if e == nil || e.key != *k {
		return labels.EmptyLabels(), false
	}
	return e.lset, true
}

func (c *labelCache) put(id series.ID, k *series.Key, lset labels.Labels) {
	e := &cachedLabels{key: *k, lset: lset}
	size := e.entrySize()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n >= maxCachedLabels || c.bytes+size > c.maxBytes {
		c.byID, c.far, c.n, c.bytes = nil, nil, 0, 0
	}
	var old *cachedLabels
	if id >= maxCachedLabels {
		if c.far == nil {
			c.far = map[series.ID]*cachedLabels{}
		}
		old, c.far[id] = c.far[id], e
	} else {
		if n := int(id) + 1; n > len(c.byID) {
			c.byID = append(c.byID, make([]*cachedLabels, n-len(c.byID))...)
		}
		old, c.byID[id] = c.byID[id], e
	}
	if old != nil {
		c.bytes -= old.entrySize()
	} else {
		c.n++
	}
	c.bytes += size
}

// readBudget counts the samples one query reads, across its queriers.
type readBudget struct {
	left int64
}

func (b *readBudget) take(n int) error {
	b.left -= int64(n)
	if b.left < 0 {
		return ErrTooManySamples
	}
	return nil
}

func (q *queryable) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{q: q, mint: mint, maxt: maxt}, nil
}

// querier reads [mint, maxt] (ms, inclusive). It opens its read view on
// first use and closes it in Close; the engine uses a querier from one
// goroutine.
type querier struct {
	q          *queryable
	mint, maxt int64
	view       *series.View
}

func (qr *querier) Close() error {
	if qr.view == nil {
		return nil
	}
	err := qr.view.Close()
	qr.view = nil
	return err
}

// part is a time slice of one stored series: [from, to) in µs, the whole
// series when both are zero (a metadata label splits a series at the
// boundaries of its metadata versions).
type part struct {
	id       series.ID
	from, to int64
}

// mapped is one Prometheus series: labels and the stored parts it reads
// (several when series differ only in fields the mapping leaves out, such
// as source, or in meter names that map to one metric name).
type mapped struct {
	lset  labels.Labels
	parts []part
}

// meterMatchers splits off the __name__ matchers and returns the meters
// whose metric name passes them.
func (qr *querier) meters(ms []*labels.Matcher) []string {
	var out []string
	for _, m := range qr.q.src.MeterNames() {
		name := metric.Name(m)
		ok := true
		for _, mt := range ms {
			if mt.Name == model.MetricNameLabel && !mt.Matches(name) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

// keyValue returns the value of a fixed label on a series key, and whether
// the label is a fixed one.
func keyValue(k *series.Key, name string) (string, bool) {
	switch name {
	case metric.LabelName:
		return metric.Name(k.Meter), true
	case metric.LabelResourceID:
		return k.ResourceID, true
	case metric.LabelProjectID:
		return k.ProjectID, true
	case metric.LabelUserID:
		return k.UserID, true
	case metric.LabelUnit:
		return k.Unit, true
	case metric.LabelType:
		return k.Type, true
	}
	return "", false
}

// selectMapped returns the series matching ms with their parts,
// overlapping [mint, maxt]: sorted by labels when sorted is set, else in
// the order of the store's catalog.
func (qr *querier) selectMapped(ctx context.Context, ms []*labels.Matcher, sorted bool) ([]mapped, error) {
	minUS, maxUS := usOf(qr.mint), usOf(qr.maxt)+999
	var infos []series.Info
	for _, meter := range qr.meters(ms) {
		got := qr.q.src.SelectSeries(meter, func(k *series.Key) bool {
			if qr.q.project != "" && k.ProjectID != qr.q.project {
				return false
			}
			for _, m := range ms {
				if v, fixed := keyValue(k, m.Name); fixed {
					if !m.Matches(v) {
						return false
					}
				} else if !qr.q.mapping.IsMetadataLabel(m.Name) && !m.Matches("") {
					// A label no series has: it matches only the empty value.
					return false
				}
			}
			return true
		})
		if infos == nil {
			infos = got // most selectors name one meter: no copy
		} else {
			infos = append(infos[:len(infos):len(infos)], got...)
		}
		if len(infos) > qr.q.maxSeries {
			return nil, fmt.Errorf("%w: the selector matches more than %d stored series; narrow it", ErrTooManySeries, qr.q.maxSeries)
		}
	}
	out := make([]mapped, 0, len(infos))
	// The parts of series without metadata, one each, from one slab (a
	// merge appends to a full slice, which copies).
	slab := make([]part, 0, len(infos))
	one := func(id series.ID) []part {
		slab = append(slab, part{id: id})
		return slab[len(slab)-1 : len(slab) : len(slab)]
	}
	var buf []metric.Label
	var ls labels.ScratchBuilder
	build := func(k *series.Key, md map[string]string) labels.Labels {
		buf = qr.q.mapping.Labels(buf[:0], &metric.Series{
			Meter: k.Meter, Type: k.Type, Unit: k.Unit, ResourceID: k.ResourceID,
			ProjectID: k.ProjectID, UserID: k.UserID, Metadata: md,
		})
		ls.Reset()
		for _, l := range buf {
			ls.Add(l.Name, l.Value)
		}
		return ls.Labels()
	}
	// The labels of a series without metadata, cached by id.
	base := func(in *series.Info) labels.Labels {
		if qr.q.labels == nil {
			return build(&in.Key, nil)
		}
		if l, ok := qr.q.labels.get(in.ID, &in.Key); ok {
			return l
		}
		l := build(&in.Key, nil)
		qr.q.labels.put(in.ID, &in.Key, l)
		return l
	}
	matches := func(lset labels.Labels) bool {
		for _, m := range ms {
			if !m.Matches(lset.Get(m.Name)) {
				return false
			}
		}
		return true
	}
	hist := map[string][]index.Version{}
	for i := range infos {
		in := &infos[i]
		if in.Count > 0 && in.Last < minUS {
			continue
		}
		if in.Count == 0 || in.First > maxUS {
			// Raw samples are not in range, but roll-ups of the samples
			// raw retention removed may be (they are older than the raw
			// ones).
			v, err := qr.openView()
			if err != nil {
				return nil, err
			}
			if as, before := v.SeriesArchives(in.ID); len(as) == 0 || minUS >= before {
				continue
			}
		}
		if !qr.q.mapping.HasMetadata() {
			out = append(out, mapped{lset: base(in), parts: one(in.ID)})
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		vs, ok := hist[in.Key.ResourceID]
		if !ok {
			var err error
			if vs, err = qr.q.src.History(ctx, in.Key.ResourceID); err != nil {
				return nil, err
			}
			hist[in.Key.ResourceID] = vs
		}
		if len(vs) == 0 {
			if l := base(in); matches(l) {
				out = append(out, mapped{lset: l, parts: one(in.ID)})
			}
			continue
		}
		for j, v := range vs {
			from, to := v.From.UnixMicro(), int64(0)
			if j == 0 {
				from = 0 // samples older than the first version carry it
			}
			if !v.To.IsZero() {
				to = v.To.UnixMicro()
			}
			if (to != 0 && to <= minUS) || from > maxUS {
				continue
			}
			if l := build(&in.Key, v.Metadata); matches(l) {
				out = append(out, mapped{lset: l, parts: []part{{id: in.ID, from: from, to: to}}})
			}
		}
	}
	if !sorted {
		if merged, ok := mergeUnsorted(out); ok {
			return merged, nil
		}
	}
	slices.SortStableFunc(out, func(a, b mapped) int { return labels.Compare(a.lset, b.lset) })
	// Merge series whose labels are equal.
	merged := out[:0]
	for _, m := range out {
		if n := len(merged); n > 0 && labels.Equal(merged[n-1].lset, m.lset) {
			merged[n-1].parts = append(merged[n-1].parts, m.parts...)
			continue
		}
		merged = append(merged, m)
	}
	return merged, nil
}

// mergeUnsorted merges the series of out whose labels are equal, keeping
// the order of their first appearance, by label hash; false (and out
// untouched) when two different label sets share a hash.
func mergeUnsorted(out []mapped) ([]mapped, bool) {
	first := make(map[uint64]int, len(out))
	dup := false
	for i := range out {
		h := out[i].lset.Hash()
		j, ok := first[h]
		if !ok {
			first[h] = i
			continue
		}
		if !labels.Equal(out[j].lset, out[i].lset) {
			return out, false
		}
		dup = true
	}
	if !dup {
		return out, true
	}
	merged := make([]mapped, 0, len(first))
	at := make(map[uint64]int, len(first))
	for _, m := range out {
		h := m.lset.Hash()
		if j, ok := at[h]; ok {
			merged[j].parts = append(merged[j].parts, m.parts...)
			continue
		}
		at[h] = len(merged)
		merged = append(merged, m)
	}
	return merged, true
}

func (qr *querier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := qr.mint, qr.maxt
	if hints != nil {
		mint, maxt = max(mint, hints.Start), min(maxt, hints.End)
	}
	sel, err := qr.selectMapped(ctx, ms, sortSeries)
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	if !sortSeries {
		// In the order of the stored series, as the store's keys are:
		// the read view's seeks then move forward (as the engine asks
		// PromQL's own TSDB, it may get series in any order).
		slices.SortFunc(sel, func(a, b mapped) int { return cmp.Compare(a.parts[0].id, b.parts[0].id) })
	}
	if hints != nil && hints.Func == "series" {
		// Only labels are wanted (/api/v1/series).
		return &seriesSet{qr: qr, ctx: ctx, list: sel, labelsOnly: true}
	}
	set := &seriesSet{qr: qr, ctx: ctx, list: sel, mint: mint, maxt: maxt}
	if hints != nil {
		set.roll = rollupUse{step: hints.Step, rng: hints.Range, fn: hints.Func}
	}
	return set
}

// openView opens the querier's read view on first use.
func (qr *querier) openView() (*series.View, error) {
	if qr.view == nil {
		v, err := qr.q.src.View()
		if err != nil {
			return nil, err
		}
		qr.view = v
	}
	return qr.view, nil
}

// read returns the samples of m in [mint, maxt] ms, sorted by time, one
// per millisecond (the latest stored sample of a millisecond wins, as the
// store is µs-precise).
func (qr *querier) read(ctx context.Context, m *mapped, mint, maxt int64, roll rollupUse, dst fpoints) (fpoints, error) {
	view, err := qr.openView()
	if err != nil {
		return nil, err
	}
	lo, hi := usOf(mint), usOf(maxt)+1000 // [lo, hi) µs covers [mint, maxt] ms
	dst = dst[:0]
	for _, p := range m.parts {
		start, end := lo, hi
		if p.from > start {
			start = p.from
		}
		if p.to != 0 && p.to < end {
			end = p.to
		}
		if start >= end {
			continue
		}
		mark := len(dst)
		rawFirst := end
		err := view.Scan(ctx, p.id, start, end, func(pt series.Point) bool {
			if len(dst) == mark {
				rawFirst = pt.T
			}
			dst = append(dst, fpoint{t: floorDiv(pt.T, 1000), v: pt.V})
			return true
		})
		if err != nil {
			return nil, err
		}
		// What raw retention removed before the first raw sample comes
		// from the series' own roll-ups.
		if start < rawFirst && start < view.RolledBefore() {
			if dst, err = qr.readRollups(ctx, view, p.id, start, rawFirst, roll, dst, mark); err != nil {
				return nil, err
			}
		}
	}
	if len(m.parts) > 1 {
		slices.SortStableFunc(dst, func(a, b fpoint) int { return cmp.Compare(a.t, b.t) })
	}
	// One sample per millisecond: keep the last.
	out := dst[:0]
	for i, p := range dst {
		if i+1 < len(dst) && dst[i+1].t == p.t {
			continue
		}
		out = append(out, p)
	}
	if err := qr.q.budget.take(len(out)); err != nil {
		return nil, fmt.Errorf("%w: the query reads more than its budget of samples; narrow its range or selectors", err)
	}
	return out, nil
}

// usOf converts ms to µs, saturating far outside the store's range (the
// API's default start and end are Prometheus's min and max times).
func usOf(ms int64) int64 {
	const lim = math.MaxInt64 / 1000 / 2
	return max(-lim, min(lim, ms)) * 1000
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

func (qr *querier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	sel, err := qr.selectMapped(ctx, ms, false)
	if err != nil {
		return nil, nil, err
	}
	set := map[string]struct{}{}
	for _, m := range sel {
		if v := m.lset.Get(name); v != "" {
			set[v] = struct{}{}
		}
	}
	return limitSorted(set, hints), nil, nil
}

func (qr *querier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	sel, err := qr.selectMapped(ctx, ms, false)
	if err != nil {
		return nil, nil, err
	}
	set := map[string]struct{}{}
	for _, m := range sel {
		m.lset.Range(func(l labels.Label) { set[l.Name] = struct{}{} })
	}
	return limitSorted(set, hints), nil, nil
}

func limitSorted(set map[string]struct{}, hints *storage.LabelHints) []string {
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	if hints != nil && hints.Limit > 0 && len(out) > hints.Limit {
		out = out[:hints.Limit]
	}
	return out
}

// seriesSet walks the selected series; each series reads its samples when
// the engine asks for its iterator.
type seriesSet struct {
	qr         *querier
	ctx        context.Context
	list       []mapped
	i          int
	mint, maxt int64
	roll       rollupUse
	labelsOnly bool
	err        error
	entries    []seriesEntry
}

func (s *seriesSet) Next() bool {
	if s.i >= len(s.list) {
		return false
	}
	s.i++
	return true
}

// At returns the current series. The engine keeps every series it is
// given, so each is its own value: they are allocated together, one slab
// per set rather than one allocation per series.
func (s *seriesSet) At() storage.Series {
	if s.entries == nil {
		s.entries = make([]seriesEntry, len(s.list))
	}
	e := &s.entries[s.i-1]
	e.set, e.m = s, &s.list[s.i-1]
	return e
}

func (s *seriesSet) Err() error { return s.err }

func (s *seriesSet) Warnings() annotations.Annotations { return nil }

type seriesEntry struct {
	set *seriesSet
	m   *mapped
}

func (e *seriesEntry) Labels() labels.Labels { return e.m.lset }

func (e *seriesEntry) Iterator(reuse chunkenc.Iterator) chunkenc.Iterator {
	it, ok := reuse.(*pointIterator)
	if !ok {
		it = &pointIterator{}
	}
	it.err = nil
	if !e.set.labelsOnly {
		it.pts, it.err = e.set.qr.read(e.set.ctx, e.m, e.set.mint, e.set.maxt, e.set.roll, it.pts[:0])
	} else {
		it.pts = it.pts[:0]
	}
	if it.err != nil {
		it.pts = it.pts[:0]
	}
	it.i = -1
	return it
}

// fpoint is one float sample: t in ms.
type fpoint struct {
	t int64
	v float64
}

// fpoints are samples in time order.
type fpoints []fpoint

// pointIterator iterates float samples read into memory and reports the
// read's error (a chunkenc.Iterator, reused across the series of a query
// as the engine passes it back).
type pointIterator struct {
	pts fpoints
	i   int // the current sample; -1 before the first
	err error
}

func (it *pointIterator) Next() chunkenc.ValueType {
	if it.i+1 >= len(it.pts) {
		it.i = len(it.pts)
		return chunkenc.ValNone
	}
	it.i++
	return chunkenc.ValFloat
}

// millis is a time in ms, as the engine's iterators take it (an alias:
// go vet takes a Seek(int64) for a misdeclared io.Seeker).
type millis = int64

// Seek moves to the first sample at or after t, never backwards.
func (it *pointIterator) Seek(t millis) chunkenc.ValueType {
	it.i = max(it.i, 0)
	if it.i >= len(it.pts) {
		return chunkenc.ValNone
	}
	if it.pts[it.i].t < t {
		rest := it.pts[it.i:]
		it.i += sort.Search(len(rest), func(j int) bool { return rest[j].t >= t })
		if it.i >= len(it.pts) {
			return chunkenc.ValNone
		}
	}
	return chunkenc.ValFloat
}

func (it *pointIterator) At() (int64, float64) { p := &it.pts[it.i]; return p.t, p.v }

func (it *pointIterator) AtHistogram(*histogram.Histogram) (int64, *histogram.Histogram) {
	return it.pts[it.i].t, nil
}

func (it *pointIterator) AtFloatHistogram(*histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	return it.pts[it.i].t, nil
}

func (it *pointIterator) AtT() int64  { return it.pts[it.i].t }
func (it *pointIterator) AtST() int64 { return 0 }
func (it *pointIterator) Err() error  { return it.err }
