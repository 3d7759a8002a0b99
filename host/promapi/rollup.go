package promapi

import (
	"context"

	"github.com/altimeter/altimeter/host/store/series"
)

// Roll-ups in PromQL. Raw retention removes a series' oldest samples and
// adds them to the series' own roll-ups (the archives of its policy that
// outlive raw retention, host/store/series). A query over that history
// reads those roll-ups: each bucket becomes one sample at the time of the
// bucket's last sample, so the series reads as its raw samples thinned to
// the last one of each bucket, followed without a gap or an overlap by the
// raw samples that remain (in one read view, the two are disjoint and the
// roll-ups older). Its value is the bucket's last value, or, inside
// max_over_time, min_over_time, sum_over_time and avg_over_time, the
// bucket's max, min, sum and mean.
//
// So a query whose evaluation times and ranges are whole buckets of the
// archive it reads (a step and range that are multiples of the
// granularity, evaluation times on bucket boundaries, as Grafana aligns
// them) gets the raw answer from roll-ups, across the boundary with raw
// samples too: instant selectors and last_over_time, max/min/sum_over_time.
// Inside the roll-up history only: avg_over_time when the buckets hold
// equally many samples (a range that also holds raw samples weighs a
// bucket as one sample), and rate, increase and delta, which see a counter
// sampled once per bucket (the same answer for steady growth; not at a
// counter reset, nor where a series starts or ends, since extrapolation
// depends on the sample interval). count_over_time counts buckets;
// quantile_over_time and stddev_over_time see the thinned series.
//
// While raw samples exist, queries read them: the store keeps per-series
// roll-ups only of what retention removed, so a long range with a large
// step over recent data reads raw samples (the meter and project roll-ups
// aggregate across series and answer no per-series selector).

// rollupUse is what a selector's hints say about reading roll-ups: the
// query (or subquery) step and the range of the range selector, in ms (0
// when none), and the function or aggregation around the selector.
type rollupUse struct {
	step, rng int64
	fn        string
}

// value is the value a roll-up bucket's sample takes.
func (r rollupUse) value(a *series.Agg) float64 {
	switch r.fn {
	case "max_over_time":
		return a.Max
	case "min_over_time":
		return a.Min
	case "sum_over_time":
		return a.Sum
	case "avg_over_time":
		return a.Mean()
	}
	return a.Last
}

// bucketWise reports whether a bucket's one sample answers the selector
// as all its samples would: an instant selector (alone or under any
// function or aggregation, which see one sample per series and step), or
// a range selector under a function of the bucket's aggregate.
func (r rollupUse) bucketWise() bool {
	if r.rng == 0 {
		return true
	}
	switch r.fn {
	case "max_over_time", "min_over_time", "sum_over_time", "last_over_time", "present_over_time":
		return true
	}
	return false
}

// order returns the archives a read tries, in turn for older history:
// the coarsest whose granularity divides the step and the range (so each
// evaluation covers whole buckets; the finest when none does, or when the
// function looks at every sample of its range, as rate does), then the
// coarser ones, which reach further back.
func (r rollupUse) order(as []series.Archive) []series.Archive {
	if !r.bucketWise() {
		return as
	}
	pick := 0
	for i, a := range as {
		g := a.Granularity.Milliseconds()
		if g <= 0 || (r.step == 0 && r.rng == 0) {
			continue
		}
		if (r.step == 0 || r.step%g == 0) && (r.rng == 0 || r.rng%g == 0) {
			pick = i
		}
	}
	return as[pick:]
}

// readRollups inserts at dst[at] the samples of series id in [start, end)
// µs that only its roll-ups hold (end is the series' first raw sample in
// range), oldest first: from the archive order picks first, then from each
// coarser one for the history before the oldest sample already read.
func (qr *querier) readRollups(ctx context.Context, view *series.View, id series.ID, start, end int64, roll rollupUse, dst fpoints, at int) (fpoints, error) {
	as, before := view.SeriesArchives(id)
	if len(as) == 0 || start >= before {
		return dst, nil
	}
	var groups []fpoints // newest history first
	upper := min(end, before)
	for _, a := range roll.order(as) {
		if start >= upper {
			break
		}
		var got fpoints
		oldest := upper
		err := view.ScanRollup(ctx, id, a.Granularity, start, upper, func(b series.Bucket) bool {
			if b.Agg.LastT < start || b.Agg.LastT >= upper {
				return true // its sample falls outside the range or after older-archive history
			}
			if len(got) == 0 {
				oldest = b.Agg.FirstT
			}
			got = append(got, fpoint{t: floorDiv(b.Agg.LastT, 1000), v: roll.value(&b.Agg)})
			return true
		})
		if err != nil {
			return nil, err
		}
		if len(got) > 0 {
			groups = append(groups, got)
			upper = oldest
		}
	}
	if len(groups) == 0 {
		return dst, nil
	}
	tail := append(fpoints(nil), dst[at:]...)
	dst = dst[:at]
	for i := len(groups) - 1; i >= 0; i-- {
		dst = append(dst, groups[i]...)
	}
	return append(dst, tail...), nil
}
