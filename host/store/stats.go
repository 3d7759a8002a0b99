package store

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/altimeter/altimeter/host/store/index"
	"github.com/altimeter/altimeter/host/store/series"
)

// statsFields are the group-by fields a series key answers.
var statsFields = map[string]func(*series.Key) string{
	"resource_id": func(k *series.Key) string { return k.ResourceID },
	"project_id":  func(k *series.Key) string { return k.ProjectID },
	"user_id":     func(k *series.Key) string { return k.UserID },
	"source":      func(k *series.Key) string { return k.Source },
}

const metaPrefix = "resource_metadata."

func checkStats(q *StatsQuery) error {
	if q.Filter.Meter == "" {
		return fmt.Errorf("%w: statistics need a meter", ErrInvalid)
	}
	if q.Period < 0 {
		return fmt.Errorf("%w: period must not be negative", ErrInvalid)
	}
	if q.Period > 0 && q.Period < time.Second {
		return fmt.Errorf("%w: period must be at least 1 second", ErrInvalid)
	}
	for _, g := range q.GroupBy {
		if _, ok := statsFields[g]; !ok && !(strings.HasPrefix(g, metaPrefix) && len(g) > len(metaPrefix)) {
			return fmt.Errorf("%w: cannot group by %q (want resource_id, project_id, user_id, source or resource_metadata.<key>)", ErrInvalid, g)
		}
	}
	for _, a := range q.Aggregates {
		switch a.Func {
		case "avg", "sum", "min", "max", "count", "stddev":
			if a.Param != "" {
				return fmt.Errorf("%w: aggregate %s takes no parameter", ErrInvalid, a.Func)
			}
		case "cardinality":
			if _, ok := statsFields[a.Param]; !ok || a.Param == "source" {
				return fmt.Errorf("%w: cardinality needs a parameter: resource_id, project_id or user_id", ErrInvalid)
			}
		default:
			return fmt.Errorf("%w: unknown aggregate %q (want avg, sum, min, max, count, stddev or cardinality)", ErrInvalid, a.Func)
		}
	}
	return nil
}

// Statistics answers q. Without metadata in the filter or the group-by, and
// without cardinality, it asks the time-series engine for buckets (which
// reads roll-ups where the range and period align with an archive);
// otherwise it aggregates raw samples, attributing each to the metadata
// valid at its timestamp.
func (s *Store) Statistics(ctx context.Context, q StatsQuery) ([]Statistics, error) {
	if err := checkStats(&q); err != nil {
		return nil, err
	}
	f := q.Filter
	if st, ok, err := s.statsWholeMeter(ctx, &q); ok || err != nil {
		return st, err
	}
	cands, ivs, err := s.candidates(ctx, &f)
	if err != nil || len(cands) == 0 {
		return nil, err
	}
	start, end := micros(f.Start), micros(f.End)
	shownEnd := end
	if start == 0 {
		start = cands[0].First
		for _, in := range cands {
			start = min(start, in.First)
		}
	}
	if end == 0 {
		for _, in := range cands {
			end = max(end, in.Last+1)
		}
		shownEnd = end - 1
	}
	if end <= start {
		return nil, nil
	}
	period := q.Period.Microseconds()
	if err := checkBuckets(&q, start, end, period, rawExtent(cands)); err != nil {
		return nil, err
	}
	raw := ivs != nil
	for _, g := range q.GroupBy {
		raw = raw || strings.HasPrefix(g, metaPrefix)
	}
	for _, a := range q.Aggregates {
		raw = raw || a.Func == "cardinality"
	}
	var groups []*statGroup
	if raw {
		groups, err = s.statsRaw(ctx, &q, cands, ivs, start, end, period)
	} else {
		groups, err = s.statsSeries(ctx, &q, cands, start, end, period)
	}
	if err != nil {
		return nil, err
	}
	return render(&q, groups, start, shownEnd, period), nil
}

// statsWholeMeter answers, without listing series, a query over a whole
// meter (or one project of it) with an explicit time range: the engine's
// per-meter and per-(meter, project) roll-ups serve it. ok is false when
// the query is not of that shape.
func (s *Store) statsWholeMeter(ctx context.Context, q *StatsQuery) ([]Statistics, bool, error) {
	f := &q.Filter
	if len(q.GroupBy) > 0 || f.ResourceID != "" || f.UserID != "" || f.Source != "" || len(f.Metadata) > 0 ||
		f.Start.IsZero() || f.End.IsZero() || !f.End.After(f.Start) {
		return nil, false, nil
	}
	for _, a := range q.Aggregates {
		if a.Func == "cardinality" {
			return nil, false, nil
		}
	}
	found := false
	one := s.series.Select(f.Meter, "", func(k *series.Key) bool {
		if found || (f.ProjectID != "" && k.ProjectID != f.ProjectID) {
			return false
		}
		found = true
		return true
	})
	if len(one) == 0 {
		return nil, true, nil
	}
	start, end, period := f.Start.UnixMicro(), f.End.UnixMicro(), q.Period.Microseconds()
	first, last, n := s.series.Extent(f.Meter, f.ProjectID)
	if err := checkBuckets(q, start, end, period, extent{first, last + 1, n}); err != nil {
		return nil, true, err
	}
	bs, err := s.series.Stats(ctx, series.Selector{Meter: f.Meter, Project: f.ProjectID}, start, end, period)
	if err != nil {
		return nil, true, fmt.Errorf("statistics of %s: %w", f.Meter, err)
	}
	g := &statGroup{unit: one[0].Key.Unit, buckets: map[int64]*bucketAcc{}}
	for _, b := range bs {
		if b.Agg.Count > 0 {
			acc := &bucketAcc{}
			acc.add(b.Agg)
			g.buckets[b.Start] = acc
		}
	}
	return render(q, []*statGroup{g}, start, end, period), true, nil
}

// statGroup is one group-by combination with its buckets.
type statGroup struct {
	by      map[string]string
	unit    string
	buckets map[int64]*bucketAcc // by bucket start
}

type bucketAcc struct {
	agg      series.Agg
	distinct map[string]map[string]bool // cardinality field -> values
}

func (b *bucketAcc) add(a series.Agg) {
	if a.Count == 0 {
		return
	}
	if b.agg.Count == 0 {
		b.agg = a
		return
	}
	b.agg.Count += a.Count
	b.agg.Sum += a.Sum
	b.agg.SumSq += a.SumSq
	b.agg.Min = math.Min(b.agg.Min, a.Min)
	b.agg.Max = math.Max(b.agg.Max, a.Max)
	if a.FirstT < b.agg.FirstT {
		b.agg.FirstT = a.FirstT
	}
	if a.LastT >= b.agg.LastT {
		b.agg.LastT, b.agg.Last = a.LastT, a.Last
	}
}

func groupKey(by map[string]string, fields []string) string {
	var sb strings.Builder
	for _, f := range fields {
		sb.WriteString(by[f])
		sb.WriteByte(0)
	}
	return sb.String()
}

// statsSeries groups whole series by key fields and lets the engine
// aggregate each group.
func (s *Store) statsSeries(ctx context.Context, q *StatsQuery, cands []series.Info, start, end, period int64) ([]*statGroup, error) {
	f := &q.Filter
	wholeMeter := len(q.GroupBy) == 0 && f.ResourceID == "" && f.UserID == "" && f.Source == ""
	type member struct {
		g   *statGroup
		ids []series.ID
	}
	var order []string
	members := map[string]*member{}
	for _, in := range cands {
		by := map[string]string{}
		for _, g := range q.GroupBy {
			by[g] = statsFields[g](&in.Key)
		}
		k := groupKey(by, q.GroupBy)
		m, ok := members[k]
		if !ok {
			if q.MaxGroups > 0 && len(order) == q.MaxGroups {
				return nil, tooManyGroups(q)
			}
			m = &member{g: &statGroup{by: by, unit: in.Key.Unit, buckets: map[int64]*bucketAcc{}}}
			members[k] = m
			order = append(order, k)
		}
		m.ids = append(m.ids, in.ID)
	}
	var out []*statGroup
	budget := bucketBudget{q: q}
	for _, k := range order {
		m := members[k]
		sel := series.Selector{Meter: f.Meter, Project: f.ProjectID, IDs: m.ids}
		if wholeMeter {
			sel.IDs = nil // the engine may read its per-meter or per-(meter, project) roll-ups
		}
		bs, err := s.series.Stats(ctx, sel, start, end, period)
		if err != nil {
			return nil, fmt.Errorf("statistics of %s: %w", f.Meter, err)
		}
		for _, b := range bs {
			acc := &bucketAcc{}
			acc.add(b.Agg)
			if acc.agg.Count > 0 {
				m.g.buckets[b.Start] = acc
			}
		}
		if err := budget.take(len(m.g.buckets)); err != nil {
			return nil, err
		}
		out = append(out, m.g)
	}
	return out, nil
}

// extent is the span [lo, hi) of the raw samples a query may read and
// their number (0: none, only roll-ups, whose points their archive
// policy bounds).
type extent struct {
	lo, hi, count int64
}

// rawExtent is the extent of the raw samples of cands.
func rawExtent(cands []series.Info) extent {
	var e extent
	for _, in := range cands {
		if in.Count == 0 {
			continue
		}
		if e.count == 0 {
			e.lo, e.hi = in.First, in.Last+1
		}
		e.lo, e.hi, e.count = min(e.lo, in.First), max(e.hi, in.Last+1), e.count+in.Count
	}
	return e
}

// checkBuckets refuses, before anything is read, a query that may fill
// more buckets than q.MaxBuckets: one whose range holds more periods
// where it holds raw samples, and more samples (period=1 over ten years
// of samples is 315 million buckets). Empty periods make no bucket, so a
// wide range over few samples is not refused for them.
func checkBuckets(q *StatsQuery, start, end, period int64, data extent) error {
	if q.MaxBuckets <= 0 || period <= 0 || data.count <= int64(q.MaxBuckets) {
		return nil
	}
	lo, hi := max(start, data.lo), min(end, data.hi)
	if hi <= lo {
		return nil
	}
	// Periods are aligned on start: count those lo..hi touches.
	if n := (hi-1-start)/period - (lo-start)/period + 1; n > int64(q.MaxBuckets) {
		return fmt.Errorf("%w: %d samples from %s to %s may fill %d periods of %s, more than %d buckets; widen the period or narrow the range",
			ErrTooManyBuckets, data.count, fromMicros(lo).Format(time.RFC3339), fromMicros(hi).Format(time.RFC3339), n, q.Period, q.MaxBuckets)
	}
	return nil
}

// bucketBudget counts the buckets an answer fills, across its groups.
type bucketBudget struct {
	q    *StatsQuery
	used int
}

// take counts n more buckets; past q.MaxBuckets it is ErrTooManyBuckets.
func (b *bucketBudget) take(n int) error {
	b.used += n
	if b.q.MaxBuckets > 0 && b.used > b.q.MaxBuckets {
		return fmt.Errorf("%w: the answer has more than %d buckets (groups times periods with samples); group by less, widen the period or narrow the range",
			ErrTooManyBuckets, b.q.MaxBuckets)
	}
	return nil
}

func tooManyGroups(q *StatsQuery) error {
	return fmt.Errorf("%w: grouping by %s gives more than %d groups; narrow the query (by project, resource, time or metadata)",
		ErrTooManyGroups, strings.Join(q.GroupBy, ", "), q.MaxGroups)
}

// statsRaw aggregates samples one by one: for metadata filters and
// group-bys (metadata valid at each sample's time) and cardinality.
func (s *Store) statsRaw(ctx context.Context, q *StatsQuery, cands []series.Info, ivs map[string][]index.Interval, start, end, period int64) ([]*statGroup, error) {
	mc := s.newMetaCache(ctx)
	groups := map[string]*statGroup{}
	var order []string
	var card []string
	for _, a := range q.Aggregates {
		if a.Func == "cardinality" {
			card = append(card, a.Param)
		}
	}
	st := &stopper{ctx: ctx}
	budget := bucketBudget{q: q}
	var tooMany bool
	var budgetErr error
	for i := range cands {
		in := &cands[i]
		err := s.series.Scan(ctx, in.ID, start, end, false, func(p series.Point) bool {
			if st.stop() {
				return false
			}
			ts := fromMicros(p.T)
			if ivs != nil && !inIntervals(ivs[in.Key.ResourceID], ts) {
				return true
			}
			by := map[string]string{}
			var md map[string]string
			for _, g := range q.GroupBy {
				if fn, ok := statsFields[g]; ok {
					by[g] = fn(&in.Key)
					continue
				}
				if md == nil {
					md = mc.at(in.Key.ResourceID, ts)
				}
				by[g] = md[strings.TrimPrefix(g, metaPrefix)]
			}
			k := groupKey(by, q.GroupBy)
			g, ok := groups[k]
			if !ok {
				if q.MaxGroups > 0 && len(order) == q.MaxGroups {
					tooMany = true
					return false
				}
				g = &statGroup{by: by, unit: in.Key.Unit, buckets: map[int64]*bucketAcc{}}
				groups[k] = g
				order = append(order, k)
			}
			bs := start
			if period > 0 {
				bs = start + (p.T-start)/period*period
			}
			acc := g.buckets[bs]
			if acc == nil {
				if budgetErr = budget.take(1); budgetErr != nil {
					return false
				}
				acc = &bucketAcc{}
				g.buckets[bs] = acc
			}
			acc.add(series.Agg{Count: 1, Sum: p.V, SumSq: p.V * p.V, Min: p.V, Max: p.V, FirstT: p.T, LastT: p.T, Last: p.V})
			for _, c := range card {
				if acc.distinct == nil {
					acc.distinct = map[string]map[string]bool{}
				}
				if acc.distinct[c] == nil {
					acc.distinct[c] = map[string]bool{}
				}
				acc.distinct[c][statsFields[c](&in.Key)] = true
			}
			return true
		})
		if err == nil {
			err = st.err
		}
		if err != nil {
			return nil, fmt.Errorf("statistics of %s: %w", in.Key.Meter, err)
		}
		if tooMany {
			return nil, tooManyGroups(q)
		}
		if budgetErr != nil {
			return nil, budgetErr
		}
	}
	if mc.err != nil {
		return nil, mc.err
	}
	out := make([]*statGroup, 0, len(order))
	for _, k := range order {
		out = append(out, groups[k])
	}
	return out, nil
}

// render turns groups into Ceilometer statistics, ordered by group then
// period start; buckets without samples are left out, as Ceilometer does.
func render(q *StatsQuery, groups []*statGroup, start, shownEnd, period int64) []Statistics {
	sort.SliceStable(groups, func(i, j int) bool {
		return groupKey(groups[i].by, q.GroupBy) < groupKey(groups[j].by, q.GroupBy)
	})
	n := 0
	for _, g := range groups {
		n += len(g.buckets)
	}
	var out []Statistics // nil when empty
	if n > 0 {
		out = make([]Statistics, 0, n)
	}
	for _, g := range groups {
		starts := make([]int64, 0, len(g.buckets))
		for bs := range g.buckets {
			starts = append(starts, bs)
		}
		slices.Sort(starts)
		for _, bs := range starts {
			acc := g.buckets[bs]
			a := acc.agg
			st := Statistics{
				Unit: g.unit, Count: a.Count, Min: a.Min, Max: a.Max, Sum: a.Sum,
				Avg:           a.Sum / float64(a.Count),
				Period:        time.Duration(period) * time.Microsecond,
				PeriodStart:   fromMicros(bs),
				PeriodEnd:     fromMicros(shownEnd),
				DurationStart: fromMicros(a.FirstT),
				DurationEnd:   fromMicros(a.LastT),
			}
			if period > 0 {
				st.PeriodEnd = fromMicros(bs + period)
			}
			if len(q.GroupBy) > 0 {
				st.GroupBy = g.by
			}
			if len(q.Aggregates) > 0 {
				st.Aggregate = map[string]float64{}
				for _, ag := range q.Aggregates {
					switch ag.Func {
					case "avg":
						st.Aggregate["avg"] = st.Avg
					case "sum":
						st.Aggregate["sum"] = st.Sum
					case "min":
						st.Aggregate["min"] = st.Min
					case "max":
						st.Aggregate["max"] = st.Max
					case "count":
						st.Aggregate["count"] = float64(st.Count)
					case "stddev":
						st.Aggregate["stddev"] = stddev(a)
					case "cardinality":
						st.Aggregate["cardinality/"+ag.Param] = float64(len(acc.distinct[ag.Param]))
					}
				}
			}
			out = append(out, st)
		}
	}
	return out
}

// stddev is the population standard deviation from the sum of squares, as
// Ceilometer's SQL driver computes it (stddev_pop).
func stddev(a series.Agg) float64 {
	if a.Count == 0 {
		return 0
	}
	n := float64(a.Count)
	mean := a.Sum / n
	v := a.SumSq/n - mean*mean
	if v < 0 { // rounding
		v = 0
	}
	return math.Sqrt(v)
}
