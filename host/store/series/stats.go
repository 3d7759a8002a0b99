package series

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// Bucket is the aggregate of one period.
type Bucket struct {
	Start int64
	Agg   Agg
}

// Selector chooses the series Stats aggregates over. With IDs set, exactly
// those series (of any meter). With IDs nil, every series of Meter, or of
// Meter and Project when Project is set, so the per-meter and per-(meter,
// project) roll-ups can answer.
type Selector struct {
	Meter   string
	Project string
	IDs     []ID
}

// statsQuery is one Stats call's range and bucketing.
type statsQuery struct {
	start, lo, hi, period int64
	now                   int64
}

// recent reports whether the range starts at or after now minus p's raw
// retention: retention, which removes older samples only, has not touched
// it (as long as the clock does not go back). Such a range has its head
// samples all in the open windows the catalog lists (headIn: retention
// alone unlists windows before it commits), and no sample in a per-series
// roll-up (those hold the samples retention removed), so Stats reads
// neither where they cannot be.
func (q *statsQuery) recent(p *policy) bool { return q.lo >= q.now-p.rawRet }

// bucket returns the start of t's bucket.
func (q *statsQuery) bucket(t int64) int64 {
	if q.period == 0 {
		return q.start
	}
	return q.start + floorTo(t-q.start, q.period)
}

// Stats aggregates the selected samples with start <= T < end (0 and 0
// mean unbounded) into buckets [start+k*period, start+(k+1)*period), or one
// bucket starting at start when period is 0, and returns the non-empty
// buckets by start. It reads roll-ups when an archive of the meter's policy
// holds the range (its span reaches back to the first selected sample or
// start) and each of its buckets in range falls entirely inside one
// requested bucket (always so when period, start and end are multiples of
// the granularity); raw samples otherwise. Both paths give the same Count,
// Min, Max, FirstT, LastT and Last, and Sum and SumSq up to float rounding.
// Percentiles listed by the policy come from raw samples, so a policy with
// percentiles always takes the raw path.
func (db *DB) Stats(ctx context.Context, sel Selector, start, end, period int64) ([]Bucket, error) {
	if period < 0 {
		return nil, fmt.Errorf("stats: period %d: must not be negative", period)
	}
	if start != 0 && end != 0 && end < start {
		return nil, fmt.Errorf("stats: end %d before start %d", end, start)
	}
	if sel.IDs == nil && sel.Meter == "" {
		return nil, fmt.Errorf("stats: selector names neither a meter nor series")
	}
	q := statsQuery{start: start, period: period, now: db.opts.Now().UnixMicro()}
	q.lo, q.hi = bounds(start, end)
	acc := map[int64]*Agg{}
	var pctVals map[int64][]float64
	var pcts []string
	var pctFracs []float64

	ctx, done, err := db.beginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	defer done()
	if db.statsCatalog != nil {
		db.statsCatalog()
	}
	// The catalog is read before the snapshot is taken (headIn).
	db.mu.RLock()
	type item struct {
		s     *series
		first int64
	}
	var raw []item
	// heads[i] (series selectors only; nil: true) says whether raw[i]'s
	// range may hold head samples (headIn). A slice apart keeps item
	// small: a whole meter's members may be thousands.
	var heads []bool
	var roll []rollItem
	addPcts := func(p *policy) {
		for i, name := range p.pcts {
			if !slices.Contains(pcts, name) {
				pcts = append(pcts, name)
				pctFracs = append(pctFracs, p.pctVals[i])
			}
		}
	}
	if sel.IDs == nil {
		kind := byte(scopeMeter)
		if sel.Project != "" {
			kind = scopeProject
		}
		sc := db.scopes[scopeKey{kind: kind, meter: sel.Meter, project: sel.Project}]
		if sc != nil {
			var members []item
			firstData := int64(math.MaxInt64)
			for _, s := range db.byMeter[sel.Meter] {
				if s.count == 0 || (kind == scopeProject && s.key.ProjectID != sel.Project) {
					continue
				}
				members = append(members, item{s, s.first})
				firstData = min(firstData, s.first)
			}
			addPcts(sc.pol)
			// Roll-ups may hold history whose raw samples expired, so they
			// are asked even when no raw sample is left.
			if len(sc.pol.pcts) == 0 {
				roll = append(roll, rollItem{sc.id, sc.pol.archives, firstData, sc.pol.rawRet, false})
			}
			raw = members
		}
	} else {
		for _, id := range sel.IDs {
			s := db.byID[id]
			if s == nil {
				db.mu.RUnlock()
				return nil, fmt.Errorf("stats: unknown series %d", id)
			}
			addPcts(s.pol)
			first := s.first
			if s.count == 0 {
				first = math.MaxInt64 // no raw sample left; roll-ups may remain
			}
			raw = append(raw, item{s, first})
			heads = append(heads, !q.recent(s.pol) || db.headIn(s, q.lo, q.hi))
		}
		if len(pcts) == 0 {
			// Each series alone: roll-ups when it has per-series archives
			// (raw stays the fallback if the roll-up cannot answer).
			for _, it := range raw {
				if q.recent(it.s.pol) {
					continue
				}
				var as []archive
				for _, a := range it.s.pol.archives {
					if a.perSeries {
						as = append(as, a)
					}
				}
				if len(as) > 0 {
					roll = append(roll, rollItem{it.s.id, as, it.first, it.s.pol.rawRet, true})
				}
			}
		}
	}
	db.mu.RUnlock()

	// Reads through more than one iterator share a snapshot. One iterator
	// is a consistent view by itself, and a snapshot costs its Close,
	// which has Pebble look for compactions to schedule.
	var snap reader = db.pdb
	if len(roll) > 0 || len(raw) > 1 || (len(raw) == 1 && (heads == nil || heads[0])) {
		sn := db.pdb.NewSnapshot()
		defer func() { _ = sn.Close() }()
		snap = sn
	}
	if len(pcts) > 0 {
		pctVals = map[int64][]float64{}
	}
	rolled := map[ID]bool{}
	if db.forceRaw {
		roll = nil
	}
	for _, r := range roll {
		ok, err := db.statsRollup(snap, r.id, r.archives, r.firstData, r.rawRet, &q, acc)
		if err != nil {
			return nil, fmt.Errorf("stats: %w", err)
		}
		rolled[r.id] = ok
		if !ok {
			continue
		}
		db.rollupAnswers.Add(1)
		if r.series {
			// Per-series roll-ups hold the samples raw retention removed;
			// the rest is raw.
			rolled[r.id] = false
		}
	}
	if sel.IDs == nil && len(roll) == 1 && rolled[roll[0].id] {
		raw = nil // the meter or project scope answered
	}
	for i, it := range raw {
		if rolled[it.s.id] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("stats: %w", err)
		}
		var cur *Agg
		curB := int64(math.MinInt64)
		err := db.scan(ctx, snap, it.s.id, q.lo, q.hi, false, heads == nil || heads[i], func(p Point) bool {
			b := q.bucket(p.T)
			if cur == nil || b != curB {
				curB = b
				cur = acc[b]
				if cur == nil {
					cur = &Agg{}
					acc[b] = cur
				}
			}
			cur.Add(p.T, p.V)
			if pctVals != nil {
				pctVals[b] = append(pctVals[b], p.V)
			}
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("stats: %w", err)
		}
	}
	out := make([]Bucket, 0, len(acc))
	for b, a := range acc {
		if vs := pctVals[b]; len(vs) > 0 {
			slices.Sort(vs)
			a.Pct = make(map[string]float64, len(pcts))
			for i, name := range pcts {
				a.Pct[name] = percentile(vs, pctFracs[i])
			}
		}
		out = append(out, Bucket{Start: b, Agg: *a})
	}
	slices.SortFunc(out, func(a, b Bucket) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	return out, nil
}

// rollItem is a scope (or a series) Stats may answer from roll-ups.
type rollItem struct {
	id        ID
	archives  []archive
	firstData int64
	rawRet    int64
	series    bool
}

// statsRollup answers from one scope's roll-ups, trying the coarsest
// archive first; it reports false (and adds nothing) when no archive can.
func (db *DB) statsRollup(r reader, scope ID, archives []archive, firstData, rawRet int64, q *statsQuery, acc map[int64]*Agg) (bool, error) {
	lo := q.lo
	tmp := map[int64]*Agg{}
next:
	for i := len(archives) - 1; i >= 0; i-- {
		a := archives[i]
		// The archive must hold the range: the range (or all raw data) is
		// within its span, or it outlives raw samples anyway.
		if lo < q.now-a.span && firstData < q.now-a.span && a.span < rawRet {
			continue
		}
		clear(tmp)
		it, err := r.NewIter(&pebble.IterOptions{
			LowerBound: rollupKey(scope, a.gran, floorTo(lo, a.gran)),
			UpperBound: rollupKey(scope, a.gran, floorTo(q.hi-1, a.gran)+1),
		})
		if err != nil {
			return false, err
		}
		for ok := it.First(); ok; ok = it.Next() {
			ag, err := decodeAgg(it.Value())
			if err != nil {
				_ = it.Close()
				return false, err
			}
			if ag.Count == 0 || ag.LastT < q.lo || ag.FirstT >= q.hi {
				continue
			}
			b := q.bucket(ag.FirstT)
			if ag.FirstT < q.lo || ag.LastT >= q.hi || q.bucket(ag.LastT) != b {
				_ = it.Close()
				continue next // straddles a boundary: try a finer archive
			}
			if x := tmp[b]; x != nil {
				x.Merge(ag)
			} else {
				tmp[b] = &ag
			}
		}
		if err := it.Close(); err != nil {
			return false, err
		}
		for b, ag := range tmp {
			if x := acc[b]; x != nil {
				x.Merge(*ag)
			} else {
				acc[b] = ag
			}
		}
		return true, nil
	}
	return false, nil
}

// percentile interpolates linearly between closest ranks (R-7, numpy's
// default) in sorted vs.
func percentile(vs []float64, p float64) float64 {
	h := p * float64(len(vs)-1)
	i := int(h)
	if i >= len(vs)-1 {
		return vs[len(vs)-1]
	}
	return vs[i] + (h-float64(i))*(vs[i+1]-vs[i])
}
