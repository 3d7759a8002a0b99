package promapi

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/altimeter/altimeter/host/store/series"
	"github.com/altimeter/altimeter/internal/metric"
)

// Whole-meter aggregates from the store's statistics. A query of the form
//
//	sum|max|min [by (project_id)] (sum|max|min|count_over_time(metric[R]))
//
// (sum over sum or count, max over max, min over min; no other matcher
// than the metric name and project_id, no offset or @) asked as an instant
// query or a range query whose step is R aggregates every series of the
// meter over (t-R, t] at each evaluation time t: exactly what the store's
// meter and (meter, project) statistics hold in buckets of R, which they
// answer from their roll-ups when R and the times are whole buckets of an
// archive, and from raw samples otherwise. So such a query over a long
// range with a large step reads roll-ups, whether or not raw samples
// remain. The answer equals the engine's (sums up to float rounding):
// buckets are [t-R, t) in µs and PromQL's ranges (t-R, t] in ms, so a
// statistics bucket holding a sample within 1 ms after its start (one the
// two would place in different windows) sends the query to the engine.

// rollupPlan is a query the statistics can answer.
type rollupPlan struct {
	name      string // metric name
	project   string // "" means every project (admins)
	byProject bool
	rng       time.Duration
	value     func(*series.Agg) float64
}

// rollupOps pairs an aggregation with the range function it can be
// computed from, and the statistic it reads.
var rollupOps = map[parser.ItemType]map[string]func(*series.Agg) float64{
	parser.SUM: {"sum_over_time": func(a *series.Agg) float64 { return a.Sum }, "count_over_time": func(a *series.Agg) float64 { return float64(a.Count) }},
	parser.MAX: {"max_over_time": func(a *series.Agg) float64 { return a.Max }},
	parser.MIN: {"min_over_time": func(a *series.Agg) float64 { return a.Min }},
}

// planRollup reports whether expr, already confined to p's project, has
// the form the statistics answer.
func planRollup(expr parser.Expr, p Principal) (*rollupPlan, bool) {
	ae, ok := expr.(*parser.AggregateExpr)
	if !ok || ae.Param != nil || ae.Without || len(ae.Grouping) > 1 || (len(ae.Grouping) == 1 && ae.Grouping[0] != metric.LabelProjectID) {
		return nil, false
	}
	call, ok := ae.Expr.(*parser.Call)
	if !ok || len(call.Args) != 1 {
		return nil, false
	}
	value, ok := rollupOps[ae.Op][call.Func.Name]
	if !ok {
		return nil, false
	}
	ms, ok := call.Args[0].(*parser.MatrixSelector)
	if !ok {
		return nil, false
	}
	vs, ok := ms.VectorSelector.(*parser.VectorSelector)
	if !ok || vs.OriginalOffset != 0 || vs.Offset != 0 || vs.Timestamp != nil || vs.StartOrEnd != 0 || ms.Range < time.Millisecond {
		return nil, false
	}
	plan := &rollupPlan{byProject: len(ae.Grouping) == 1, rng: ms.Range, value: value}
	if !p.Admin {
		plan.project = p.Project
	}
	for _, m := range vs.LabelMatchers {
		switch {
		case m.Type != labels.MatchEqual:
			return nil, false
		case m.Name == model.MetricNameLabel:
			plan.name = m.Value
		case m.Name == metric.LabelProjectID && (plan.project == "" || plan.project == m.Value) && m.Value != "":
			plan.project = m.Value
		default:
			return nil, false
		}
	}
	return plan, plan.name != ""
}

// rollupAnswer answers expr from the store's statistics when it can (see
// above); ok false sends it to the engine.
func (a *API) rollupAnswer(ctx context.Context, expr parser.Expr, p Principal, start, end time.Time, step time.Duration) (parser.Value, bool, error) {
	plan, ok := planRollup(expr, p)
	if !ok || (step != 0 && step != plan.rng) {
		return nil, false, nil
	}
	var meters []string
	for _, m := range a.opts.Source.MeterNames() {
		if metric.Name(m) == plan.name {
			meters = append(meters, m)
		}
	}
	slices.Sort(meters)
	rng := plan.rng.Milliseconds()
	t0, t1 := start.UnixMilli(), end.UnixMilli()
	lo, hi, period := usOf(t0-rng), usOf(t1)+1000, rng*1000
	// groups: project ("" without grouping) -> evaluation time -> aggregate
	groups := map[string]map[int64]*series.Agg{}
	for _, m := range meters {
		projects := []string{plan.project}
		if plan.byProject && plan.project == "" {
			projects = a.projectsOf(m)
		}
		for _, proj := range projects {
			bs, err := a.opts.Source.SeriesStats(ctx, series.Selector{Meter: m, Project: proj}, lo, hi, period)
			if err != nil {
				return nil, false, err
			}
			key := ""
			if plan.byProject {
				key = proj
			}
			for _, b := range bs {
				if b.Agg.Count == 0 {
					continue
				}
				if b.Agg.FirstT < b.Start+1000 {
					return nil, false, nil // a sample PromQL places in the previous window
				}
				t := b.Start/1000 + rng
				if t > t1 {
					continue // the bucket after the last evaluation time
				}
				if groups[key] == nil {
					groups[key] = map[int64]*series.Agg{}
				}
				if x := groups[key][t]; x != nil {
					x.Merge(b.Agg)
				} else {
					ag := b.Agg
					groups[key][t] = &ag
				}
			}
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	lset := func(k string) labels.Labels {
		if plan.byProject {
			return labels.FromStrings(metric.LabelProjectID, k)
		}
		return labels.EmptyLabels()
	}
	a.rollupAnswers.Inc()
	if step == 0 {
		vec := promql.Vector{}
		for _, k := range keys {
			if ag := groups[k][t0]; ag != nil {
				vec = append(vec, promql.Sample{Metric: lset(k), T: t0, F: plan.value(ag)})
			}
		}
		return vec, true, nil
	}
	mat := promql.Matrix{}
	for _, k := range keys {
		s := promql.Series{Metric: lset(k)}
		for t := t0; t <= t1; t += step.Milliseconds() {
			if ag := groups[k][t]; ag != nil {
				s.Floats = append(s.Floats, promql.FPoint{T: t, F: plan.value(ag)})
			}
		}
		if len(s.Floats) > 0 {
			mat = append(mat, s)
		}
	}
	return mat, true, nil
}

// projectsOf returns the projects that have series of meter, sorted.
func (a *API) projectsOf(meter string) []string {
	set := map[string]bool{}
	for _, in := range a.opts.Source.SelectSeries(meter, nil) {
		set[in.Key.ProjectID] = true
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
