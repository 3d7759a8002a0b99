package store

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/altimeter/altimeter/host/store/index"
	"github.com/altimeter/altimeter/host/store/series"
	"github.com/altimeter/altimeter/sdk/sample"
)

// MaxScan bounds the samples a listing with a custom order examines: such a
// listing must see every match before it can sort. Narrow the query past it.
const MaxScan = 2_000_000

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// matchKey reports whether a series passes the key fields of f.
func matchKey(f *Filter, k *series.Key) bool {
	return (f.Meter == "" || k.Meter == f.Meter) &&
		(f.ResourceID == "" || k.ResourceID == f.ResourceID) &&
		(f.ProjectID == "" || k.ProjectID == f.ProjectID) &&
		(f.UserID == "" || k.UserID == f.UserID) &&
		(f.Source == "" || k.Source == f.Source)
}

// overlaps reports whether a series with samples in [first,last] can have
// samples in [start,end).
func overlaps(first, last, start, end int64) bool {
	return (start == 0 || last >= start) && (end == 0 || first < end)
}

// candidates returns the series that can hold samples matching f, and for a
// metadata filter the intervals, per resource, in which it matched.
func (s *Store) candidates(ctx context.Context, f *Filter) ([]series.Info, map[string][]index.Interval, error) {
	start, end := micros(f.Start), micros(f.End)
	out := s.series.Select(f.Meter, f.ResourceID, func(k *series.Key) bool { return matchKey(f, k) })
	out = slices.DeleteFunc(out, func(in series.Info) bool { return in.Count == 0 || !overlaps(in.First, in.Last, start, end) })
	if len(out) == 0 {
		return nil, nil, nil
	}
	// Series IDs grow with creation: a stable order for groups and pages.
	slices.SortFunc(out, func(a, b series.Info) int { return cmp.Compare(a.ID, b.ID) })
	if len(f.Metadata) == 0 {
		return out, nil, nil
	}
	ids := make([]string, 0, len(out))
	seen := map[string]bool{}
	for _, in := range out {
		if !seen[in.Key.ResourceID] {
			seen[in.Key.ResourceID] = true
			ids = append(ids, in.Key.ResourceID)
		}
	}
	iv, err := s.index.MatchingIntervals(ctx, ids, f.Metadata)
	if err != nil {
		return nil, nil, fmt.Errorf("match metadata: %w", err)
	}
	kept := out[:0]
	for _, in := range out {
		if len(iv[in.Key.ResourceID]) > 0 {
			kept = append(kept, in)
		}
	}
	return kept, iv, nil
}

// inIntervals reports whether t falls in one of ivs ([From, To), To zero
// meaning open).
func inIntervals(ivs []index.Interval, t time.Time) bool {
	for _, iv := range ivs {
		if !t.Before(iv.From) && (iv.To.IsZero() || t.Before(iv.To)) {
			return true
		}
	}
	return false
}

// metaCache resolves the metadata valid at a time, one History call per
// resource per request.
type metaCache struct {
	ctx  context.Context
	idx  *index.DB
	hist map[string][]index.Version
	err  error
}

func (m *metaCache) at(resource string, t time.Time) map[string]string {
	h, ok := m.hist[resource]
	if !ok {
		var err error
		h, err = m.idx.History(m.ctx, resource)
		if err != nil && !errors.Is(err, index.ErrNotFound) && m.err == nil {
			m.err = fmt.Errorf("metadata of %s: %w", resource, err)
		}
		m.hist[resource] = h
	}
	var best map[string]string
	for _, v := range h {
		if !t.Before(v.From) && (v.To.IsZero() || t.Before(v.To)) {
			return v.Metadata
		}
		if !v.From.After(t) {
			best = v.Metadata
		}
	}
	if best == nil && len(h) > 0 {
		best = h[0].Metadata // a sample older than the first known version
	}
	return best
}

func (s *Store) newMetaCache(ctx context.Context) *metaCache {
	return &metaCache{ctx: ctx, idx: s.index, hist: map[string][]index.Version{}}
}

func toSample(in *series.Info, p series.Point, mc *metaCache) Sample {
	typ, _ := sample.ParseType(in.Key.Type)
	id := p.MessageID
	if id == "" {
		id = locatorID(uint64(in.ID), p.T)
	}
	ts := fromMicros(p.T)
	return Sample{
		Sample: sample.Sample{
			Name: in.Key.Meter, Type: typ, Unit: in.Key.Unit, Volume: p.V,
			ResourceID: in.Key.ResourceID, ProjectID: in.Key.ProjectID, UserID: in.Key.UserID,
			Source: in.Key.Source, Timestamp: ts, MessageID: id,
			Metadata: mc.at(in.Key.ResourceID, ts),
		},
		RecordedAt: fromMicros(p.Recorded),
	}
}

// checkEvery is how many samples a scan callback handles between looks at
// its context: a listing or statistics request whose client went away, or
// whose deadline passed, stops within that many samples, however costly
// each one is to match.
const checkEvery = 16

// stopper stops a scan callback once its context is done.
type stopper struct {
	ctx context.Context
	n   int
	err error
}

// stop reports whether the scan must stop; err then holds the cause.
func (st *stopper) stop() bool {
	if st.n++; st.n%checkEvery == 0 {
		st.err = st.ctx.Err()
	}
	return st.err != nil
}

// before reports whether a sorts before b in default order (newest first,
// then message_id).
func before(a, b *Sample) bool {
	if !a.Timestamp.Equal(b.Timestamp) {
		return a.Timestamp.After(b.Timestamp)
	}
	return a.MessageID < b.MessageID
}

// Samples lists samples matching f, newest first unless o.OrderBy says
// otherwise.
func (s *Store) Samples(ctx context.Context, f Filter, o ListOptions) ([]Sample, error) {
	limit := listLimit(o.Limit)
	cands, ivs, err := s.candidates(ctx, &f)
	if err != nil {
		return nil, err
	}
	start, end := micros(f.Start), micros(f.End)
	mc := s.newMetaCache(ctx)
	accept := func(row *Sample) bool {
		if ivs != nil && !inIntervals(ivs[row.ResourceID], row.Timestamp) {
			return false
		}
		return o.Match == nil || o.Match(row)
	}
	if len(o.OrderBy) > 0 {
		return s.samplesOrdered(ctx, cands, start, end, mc, accept, o, limit)
	}
	var cursor *Sample
	if o.Marker != "" {
		m, err := s.Sample(ctx, o.Marker, f.ProjectID)
		if err != nil {
			return nil, fmt.Errorf("%w: marker %q: %v", ErrInvalid, o.Marker, err)
		}
		cursor = &m
		if e := m.Timestamp.UnixMicro() + 1; end == 0 || e < end {
			end = e
		}
	}
	if o.Match != nil {
		return s.samplesMatched(ctx, cands, start, end, mc, accept, cursor, limit)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Last > cands[j].Last })
	view, err := s.series.View()
	if err != nil {
		return nil, err
	}
	defer func() { _ = view.Close() }() // a read view: nothing to lose
	// The heap keeps points, not rows: most points a scan reads lose their
	// place, and a row costs its metadata, message id and record time.
	h := topN[rowPoint]{n: limit, before: func(a, b *rowPoint) bool { return pointBefore(a.p.T, a.p.MessageID, b) }}
	st := &stopper{ctx: ctx}
	for i := range cands {
		in := &cands[i]
		if h.full() && in.Last < h.worst().p.T {
			break
		}
		err := view.ScanDesc(ctx, in.ID, start, end, func(p series.Point) bool {
			if st.stop() || (h.full() && p.T < h.worst().p.T) {
				return false
			}
			if ivs != nil && !inIntervals(ivs[in.Key.ResourceID], fromMicros(p.T)) {
				return true
			}
			if p.MessageID == "" {
				p.MessageID = locatorID(uint64(in.ID), p.T)
			}
			pt := rowPoint{in: in, p: p}
			if cursor != nil && !pointBefore(cursor.Timestamp.UnixMicro(), cursor.MessageID, &pt) {
				return true
			}
			h.offer(pt)
			return true
		})
		if err == nil {
			err = st.err
		}
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", in.Key.Meter, err)
		}
	}
	pts := h.sorted()
	eps := make([]int64, len(pts))
	for i := range pts {
		eps[i] = pts[i].p.Recorded
	}
	rec, err := view.RecordTimes(eps)
	if err != nil {
		return nil, fmt.Errorf("list samples: %w", err)
	}
	var out []Sample // nil when empty, as the other paths answer
	if len(pts) > 0 {
		out = make([]Sample, len(pts))
	}
	for i := range pts {
		p := pts[i].p
		p.Recorded = rec[i]
		out[i] = toSample(pts[i].in, p, mc)
	}
	if mc.err != nil {
		return nil, mc.err
	}
	return out, nil
}

// rowPoint is a point of a listing before it becomes a row; its MessageID
// is set (the canonical id when the sample has none) and its Recorded is
// the epoch of its write (series.View.ScanDesc).
type rowPoint struct {
	in *series.Info
	p  series.Point
}

// pointBefore is before for a row at t with message id id and a point.
func pointBefore(t int64, id string, b *rowPoint) bool {
	if t != b.p.T {
		return t > b.p.T
	}
	return id < b.p.MessageID
}

// samplesMatched is the default order of Samples for a listing with a
// Match predicate, which needs each row whole to decide.
func (s *Store) samplesMatched(ctx context.Context, cands []series.Info, start, end int64, mc *metaCache, accept func(*Sample) bool, cursor *Sample, limit int) ([]Sample, error) {
	sort.Slice(cands, func(i, j int) bool { return cands[i].Last > cands[j].Last })
	// The heap grows with the rows found: a limit is a bound, not a size.
	h := topN[Sample]{n: limit, before: before}
	st := &stopper{ctx: ctx}
	for i := range cands {
		in := &cands[i]
		if h.full() && in.Last < h.worst().Timestamp.UnixMicro() {
			break
		}
		err := s.series.Scan(ctx, in.ID, start, end, true, func(p series.Point) bool {
			if st.stop() || (h.full() && p.T < h.worst().Timestamp.UnixMicro()) {
				return false
			}
			row := toSample(in, p, mc)
			if cursor != nil && !before(cursor, &row) {
				return true
			}
			if !accept(&row) {
				return true
			}
			h.offer(row)
			return true
		})
		if err == nil {
			err = st.err
		}
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", in.Key.Meter, err)
		}
	}
	if mc.err != nil {
		return nil, mc.err
	}
	return h.sorted(), nil
}

// samplesOrdered serves a custom ORDER BY: every match is collected (at most
// MaxScan examined), sorted, then paged.
func (s *Store) samplesOrdered(ctx context.Context, cands []series.Info, start, end int64, mc *metaCache, accept func(*Sample) bool, o ListOptions, limit int) ([]Sample, error) {
	less, err := orderLess(o.OrderBy)
	if err != nil {
		return nil, err
	}
	var rows []Sample
	scanned := 0
	st := &stopper{ctx: ctx}
	for i := range cands {
		in := &cands[i]
		var tooMany bool
		err := s.series.Scan(ctx, in.ID, start, end, true, func(p series.Point) bool {
			if st.stop() {
				return false
			}
			if scanned++; scanned > MaxScan {
				tooMany = true
				return false
			}
			row := toSample(in, p, mc)
			if accept(&row) {
				rows = append(rows, row)
			}
			return true
		})
		if err == nil {
			err = st.err
		}
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", in.Key.Meter, err)
		}
		if tooMany {
			return nil, fmt.Errorf("%w: the query examines more than %d samples; narrow it by meter, resource, project or time", ErrInvalid, MaxScan)
		}
	}
	if mc.err != nil {
		return nil, mc.err
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if c := less(&rows[i], &rows[j]); c != 0 {
			return c < 0
		}
		return before(&rows[i], &rows[j])
	})
	if o.Marker != "" {
		pos := -1
		for i := range rows {
			if rows[i].MessageID == o.Marker {
				pos = i
				break
			}
		}
		if pos < 0 {
			return nil, fmt.Errorf("%w: marker %q is not in the result", ErrInvalid, o.Marker)
		}
		rows = rows[pos+1:]
	}
	if len(rows) > limit {
		rows = rows[:limit]
	}
	return rows, nil
}

// orderLess compiles ORDER BY terms into a three-way comparison.
func orderLess(terms []Order) (func(a, b *Sample) int, error) {
	type cmpFn func(a, b *Sample) int
	cmpStr := func(get func(*Sample) string) cmpFn {
		return func(a, b *Sample) int { return strings.Compare(get(a), get(b)) }
	}
	var fns []cmpFn
	for _, t := range terms {
		var fn cmpFn
		switch t.Field {
		case "timestamp":
			fn = func(a, b *Sample) int { return a.Timestamp.Compare(b.Timestamp) }
		case "recorded_at":
			fn = func(a, b *Sample) int { return a.RecordedAt.Compare(b.RecordedAt) }
		case "counter_volume", "volume":
			fn = func(a, b *Sample) int {
				switch {
				case a.Volume < b.Volume:
					return -1
				case a.Volume > b.Volume:
					return 1
				}
				return 0
			}
		case "counter_name", "meter":
			fn = cmpStr(func(s *Sample) string { return s.Name })
		case "counter_unit", "unit":
			fn = cmpStr(func(s *Sample) string { return s.Unit })
		case "counter_type", "type":
			fn = cmpStr(func(s *Sample) string { return s.Type.String() })
		case "resource_id", "resource":
			fn = cmpStr(func(s *Sample) string { return s.ResourceID })
		case "project_id", "project":
			fn = cmpStr(func(s *Sample) string { return s.ProjectID })
		case "user_id", "user":
			fn = cmpStr(func(s *Sample) string { return s.UserID })
		case "source":
			fn = cmpStr(func(s *Sample) string { return s.Source })
		case "message_id", "id":
			fn = cmpStr(func(s *Sample) string { return s.MessageID })
		default:
			return nil, fmt.Errorf("%w: cannot order by %q", ErrInvalid, t.Field)
		}
		if t.Desc {
			inner := fn
			fn = func(a, b *Sample) int { return -inner(a, b) }
		}
		fns = append(fns, fn)
	}
	return func(a, b *Sample) int {
		for _, fn := range fns {
			if c := fn(a, b); c != 0 {
				return c
			}
		}
		return 0
	}, nil
}

// seriesByID returns the catalog entry of one series.
func (s *Store) seriesByID(id series.ID) (series.Info, bool) { return s.series.Series(id) }

// Sample returns the sample with message_id id; project, when set, must own
// it.
func (s *Store) Sample(ctx context.Context, id, project string) (Sample, error) {
	mc := s.newMetaCache(ctx)
	var (
		in    series.Info
		point series.Point
		found bool
	)
	if sid, t, ok := parseLocator(id); ok {
		if in, found = s.seriesByID(series.ID(sid)); found {
			found = false
			err := s.series.Scan(ctx, in.ID, t, t+1, false, func(p series.Point) bool {
				if p.T == t && p.MessageID == "" {
					point, found = p, true
				}
				return false
			})
			if err != nil {
				return Sample{}, fmt.Errorf("sample %s: %w", id, err)
			}
		}
	}
	// Not a canonical id, or one that names no stored sample: a sample
	// may have come with a version 8 id of its own (a client's, an older
	// transformer's), kept in the id index.
	if !found {
		sid, p, ok, err := s.series.Lookup(ctx, id, project)
		if err != nil {
			return Sample{}, fmt.Errorf("sample %s: %w", id, err)
		}
		if ok {
			in, found = s.seriesByID(sid)
			point = p
		}
	}
	if !found || (project != "" && in.Key.ProjectID != project) {
		return Sample{}, fmt.Errorf("sample %s: %w", id, ErrNotFound)
	}
	row := toSample(&in, point, mc)
	return row, mc.err
}

// MeterID is Ceilometer's meter_id: base64 of "<resource_id>+<name>".
func MeterID(resourceID, name string) string {
	return base64.StdEncoding.EncodeToString([]byte(resourceID + "+" + name))
}

// Meters lists (meter, resource) pairs matching f, ordered by name then
// resource_id (one per name with o.UniqueNames); a marker is a meter_id.
func (s *Store) Meters(ctx context.Context, f Filter, o ListOptions) ([]Meter, error) {
	limit := listLimit(o.Limit)
	cands, _, err := s.candidates(ctx, &f)
	if err != nil {
		return nil, err
	}
	type pair struct{ name, res string }
	latest := map[pair]series.Info{}
	for _, in := range cands {
		k := pair{in.Key.Meter, in.Key.ResourceID}
		if prev, ok := latest[k]; !ok || in.Last > prev.Last {
			latest[k] = in
		}
	}
	out := make([]Meter, 0, len(latest))
	for _, in := range latest {
		typ, _ := sample.ParseType(in.Key.Type)
		out = append(out, Meter{
			MeterID: MeterID(in.Key.ResourceID, in.Key.Meter), Name: in.Key.Meter, Type: typ, Unit: in.Key.Unit,
			ResourceID: in.Key.ResourceID, ProjectID: in.Key.ProjectID, UserID: in.Key.UserID, Source: in.Key.Source,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ResourceID < out[j].ResourceID
	})
	if o.UniqueNames {
		out = slices.CompactFunc(out, func(a, b Meter) bool { return a.Name == b.Name })
	}
	if o.Marker != "" {
		raw, err := base64.StdEncoding.DecodeString(o.Marker)
		cut := strings.LastIndex(string(raw), "+")
		if err != nil || cut < 0 {
			return nil, fmt.Errorf("%w: marker %q is not a meter_id", ErrInvalid, o.Marker)
		}
		res, name := string(raw[:cut]), string(raw[cut+1:])
		i := sort.Search(len(out), func(i int) bool {
			return out[i].Name > name || (!o.UniqueNames && out[i].Name == name && out[i].ResourceID > res)
		})
		out = out[i:]
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func toResource(r index.Resource) Resource {
	out := Resource{
		ResourceID: r.ResourceID, ProjectID: r.ProjectID, UserID: r.UserID, Source: r.Source,
		FirstSample: r.First.UTC(), LastSample: r.Last.UTC(), Metadata: r.Metadata,
	}
	seen := map[string]bool{}
	for _, m := range r.Meters {
		if !seen[m.Name] {
			seen[m.Name] = true
			out.Meters = append(out.Meters, m.Name)
		}
	}
	sort.Strings(out.Meters)
	return out
}

// Resources lists resources matching f, ordered by resource_id; a marker is
// a resource_id.
func (s *Store) Resources(ctx context.Context, f Filter, o ListOptions) ([]Resource, error) {
	limit := listLimit(o.Limit)
	rs, err := s.index.Resources(ctx, index.ResourceFilter{
		ResourceID: f.ResourceID, ProjectID: f.ProjectID, UserID: f.UserID, Source: f.Source, Meter: f.Meter,
		Start: f.Start, End: f.End, Metadata: f.Metadata, Marker: o.Marker, Limit: limit,
	})
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	out := make([]Resource, len(rs))
	for i, r := range rs {
		out[i] = toResource(r)
	}
	return out, nil
}

// Resource returns one resource; project, when set, must own it.
func (s *Store) Resource(ctx context.Context, id, project string) (Resource, error) {
	r, err := s.index.Resource(ctx, id)
	if errors.Is(err, index.ErrNotFound) || (err == nil && project != "" && r.ProjectID != project) {
		return Resource{}, fmt.Errorf("resource %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Resource{}, fmt.Errorf("resource %s: %w", id, err)
	}
	return toResource(r), nil
}
