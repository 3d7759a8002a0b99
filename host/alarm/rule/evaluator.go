package rule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Alarm states, as Aodh spells them.
const (
	StateOK           = "ok"
	StateAlarm        = "alarm"
	StateInsufficient = "insufficient data"
)

// LookBack is the number of extra periods the evaluation window reaches
// back to allow for reporting and ingestion lag (Aodh's look_back).
const LookBack = 1

// MaxAggregatedResources bounds the resources one by-resources rule
// aggregates; past it the rule evaluates to insufficient data.
const MaxAggregatedResources = 1000

// Input is one alarm as the evaluator needs it.
type Input struct {
	AlarmID, ProjectID, Type string
	Rule                     Rule
	// State is the current state ("" counts as insufficient data).
	State           string
	StateTimestamp  time.Time
	RepeatActions   bool
	TimeConstraints []TimeConstraint
}

// Outcome is the result of one evaluation. State is the state the alarm
// should have; Changed when it differs from Input.State. Notify says the
// alarm's actions for State should run: on every change, and with
// repeat_actions also when Aodh re-asserts an unchanged state. Skipped
// means nothing was evaluated (outside the time constraints, or an event
// rule, which is not polled); State is then Input.State. Reason and
// ReasonData are Aodh's state_reason and reason_data; they are empty when
// Aodh would leave the alarm untouched.
type Outcome struct {
	State      string
	Reason     string
	ReasonData map[string]any
	Changed    bool
	Notify     bool
	Skipped    bool
}

// Evaluator evaluates polled rules against a Source. It keeps no state
// between calls and is safe for concurrent use.
type Evaluator struct {
	src Source
	log hclog.Logger
}

// NewEvaluator returns an evaluator reading src.
func NewEvaluator(src Source, logger hclog.Logger) *Evaluator {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Evaluator{src: src, log: logger}
}

// insufficientError is Aodh's InsufficientDataError: the rule cannot decide.
type insufficientError struct {
	reason string
	stats  []float64
}

func (e *insufficientError) Error() string { return e.reason }

// result is one polled rule's evaluation (Aodh's evaluate_rule).
type result struct {
	state, trending string // exactly one set, or state = insufficient
	stats           []float64
	outside         int
	unknownReason   string
	evalPeriods     int
	counts          bool // the points are sample counts (statistic count): integers, as Ceilometer gives them
}

// Evaluate evaluates one alarm at now. The error is non-nil only when ctx
// ends or the input is unusable; a store failure makes the rule's data
// insufficient, as in Aodh.
func (e *Evaluator) Evaluate(ctx context.Context, in Input, now time.Time) (Outcome, error) {
	cur := in.State
	if cur == "" {
		cur = StateInsufficient
	}
	skip := Outcome{State: cur, Skipped: true}
	if in.Rule == nil {
		return skip, errors.New("evaluate alarm: no rule")
	}
	if !WithinTimeConstraints(in.TimeConstraints, now) {
		return skip, nil
	}
	switch r := in.Rule.(type) {
	case *EventRule:
		return skip, nil
	case *CompositeRule:
		return e.evalComposite(ctx, in, cur, r, now)
	}
	res, err := e.evalRule(ctx, in.ProjectID, in.Rule, now)
	if err != nil {
		return skip, err
	}
	return transition(in, cur, res), nil
}

// transition is Aodh's _transition_alarm for one rule.
func transition(in Input, cur string, r result) Outcome {
	unknown := cur == StateInsufficient
	out := Outcome{State: cur}
	refresh := func(state, reason string, data map[string]any) Outcome {
		changed := state != cur
		return Outcome{State: state, Reason: reason, ReasonData: data, Changed: changed, Notify: changed || in.RepeatActions}
	}
	if r.trending != "" {
		if unknown || in.RepeatActions {
			state := cur
			if unknown {
				state = r.trending
			}
			reason, data := thresholdReason(cur, state, r)
			return refresh(state, reason, data)
		}
		return out
	}
	if r.state == StateInsufficient {
		if unknown {
			return out
		}
		var last any
		if len(r.stats) > 0 {
			last, _ = r.mostRecent()
		}
		return refresh(StateInsufficient, r.unknownReason, reasonData("unknown", r.evalPeriods, last))
	}
	if r.state != cur || in.RepeatActions {
		reason, data := thresholdReason(cur, r.state, r)
		return refresh(r.state, reason, data)
	}
	return out
}

func reasonData(disposition string, count int, mostRecent any) map[string]any {
	return map[string]any{"type": "threshold", "disposition": disposition, "count": count, "most_recent": mostRecent}
}

// mostRecent returns the newest point for reason_data and as the reason
// shows it. len(r.stats) > 0.
func (r *result) mostRecent() (any, string) {
	v := r.stats[len(r.stats)-1]
	if r.counts {
		return int64(v), strconv.FormatInt(int64(v), 10)
	}
	return v, pyFloat(v)
}

// thresholdReason is Aodh's _reason.
func thresholdReason(cur, state string, r result) (string, map[string]any) {
	disposition, count := "outside", r.outside
	if state == StateOK {
		disposition, count = "inside", len(r.stats)-r.outside
	}
	var last any
	lastS := "None"
	if len(r.stats) > 0 {
		last, lastS = r.mostRecent()
	}
	verb := "Transition to"
	if cur == state {
		verb = "Remaining as"
	}
	return fmt.Sprintf("%s %s due to %d samples %s threshold, most recent: %s", verb, state, count, disposition, lastS),
		reasonData(disposition, count, last)
}

// pyFloat formats v as Python's repr of a float does for usual values.
func pyFloat(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	case v != 0 && (a < 1e-4 || a >= 1e16):
		return strconv.FormatFloat(v, 'e', -1, 64)
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// evalRule evaluates one polled rule (Aodh's evaluate_rule).
func (e *Evaluator) evalRule(ctx context.Context, project string, r Rule, now time.Time) (result, error) {
	var (
		stats []float64
		op    string
		limit float64
		n     int
		err   error
	)
	switch t := r.(type) {
	case *ThresholdRule:
		op, limit, n = t.ComparisonOperator, t.Threshold, t.EvaluationPeriods
		stats, err = e.thresholdStats(ctx, project, t, now)
	case *GnocchiResourcesRule:
		op, limit, n = t.ComparisonOperator, t.Threshold, t.EvaluationPeriods
		stats, err = e.gnocchiStats(ctx, project, t.GnocchiThreshold, []MetricRef{{ResourceID: t.ResourceID, Meter: t.Metric}}, false, now)
	case *GnocchiByMetricsRule:
		op, limit, n = t.ComparisonOperator, t.Threshold, t.EvaluationPeriods
		stats, err = e.gnocchiStats(ctx, project, t.GnocchiThreshold, t.targets, true, now)
	case *GnocchiByResourcesRule:
		op, limit, n = t.ComparisonOperator, t.Threshold, t.EvaluationPeriods
		var refs []MetricRef
		if refs, err = e.searchResources(ctx, project, t); err == nil {
			stats, err = e.gnocchiStats(ctx, project, t.GnocchiThreshold, refs, true, now)
		}
	case *PrometheusRule:
		op, limit, n = t.ComparisonOperator, t.Threshold, 1
		stats, err = e.promStats(ctx, project, t, now)
	default:
		return result{}, fmt.Errorf("evaluate rule: type %s is not polled", r.Type())
	}
	res := result{evalPeriods: n}
	if t, ok := r.(*ThresholdRule); ok && t.Statistic == "count" {
		res.counts = true
	}
	if _, ok := r.(*PrometheusRule); ok {
		res.evalPeriods = len(stats) // Aodh's prometheus evaluator counts what it got
	}
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("evaluate %s rule: %w", r.Type(), ctx.Err())
		}
		var ie *insufficientError
		if !errors.As(err, &ie) {
			e.log.Warn("alarm statistics retrieval failed", "rule", r.Type(), "error", err)
			ie = &insufficientError{reason: "alarm statistics retrieval failed: " + err.Error()}
		}
		res.state, res.stats, res.unknownReason = StateInsufficient, ie.stats, ie.reason
		return res, nil
	}
	res.stats = stats
	if len(stats) < n || len(stats) == 0 {
		res.state, res.unknownReason = StateInsufficient, fmt.Sprintf("%d datapoints are unknown", n)
		return res, nil
	}
	all, anyOut := true, false
	for _, v := range stats {
		c := compare(op, v, limit)
		all = all && c
		anyOut = anyOut || c
		if c {
			res.outside++
		}
	}
	switch {
	case all:
		res.state = StateAlarm
	case !anyOut:
		res.state = StateOK
	case compare(op, stats[len(stats)-1], limit):
		res.trending = StateAlarm
	default:
		res.trending = StateOK
	}
	return res, nil
}

// thresholdStats is the old ThresholdEvaluator's statistics and _sanitize:
// buckets of period from now - period*(evaluation_periods+look_back), the
// look-back being evaluation_periods when outliers are excluded; then,
// with exclude_outliers, buckets whose sample count lies more than two
// standard deviations from the mean count are dropped; then the last
// evaluation_periods buckets' statistic.
func (e *Evaluator) thresholdStats(ctx context.Context, project string, r *ThresholdRule, now time.Time) ([]float64, error) {
	p := time.Duration(r.Period) * time.Second
	lookBack := LookBack
	if r.ExcludeOutliers {
		lookBack = r.EvaluationPeriods
	}
	q := StatsQuery{ProjectID: project, Meter: r.MeterName, Start: now.Add(-p * time.Duration(r.EvaluationPeriods+lookBack)), End: now, Period: p, Aggregate: storeStatistic(r.Statistic)}
	for _, t := range r.Query {
		switch t.Field {
		case "resource_id":
			q.ResourceID = t.Value
		case "user_id":
			q.UserID = t.Value
		case "source":
			q.Source = t.Value
		case "project_id":
			if t.Value != project {
				return nil, &insufficientError{reason: fmt.Sprintf("project %s is not the alarm's project", t.Value)}
			}
		default:
			if q.Metadata == nil {
				q.Metadata = map[string]string{}
			}
			q.Metadata[t.Field[strings.IndexByte(t.Field, '.')+1:]] = t.Value
		}
	}
	bs, err := e.src.Statistics(ctx, q)
	if err != nil {
		return nil, err
	}
	if r.ExcludeOutliers {
		bs = excludeOutliers(bs)
	}
	if len(bs) > r.EvaluationPeriods {
		bs = bs[len(bs)-r.EvaluationPeriods:]
	}
	out := make([]float64, len(bs))
	for i, b := range bs {
		out[i] = b.Value
	}
	return out, nil
}

func storeStatistic(s string) string { return s } // avg, min, max, sum, count

// excludeOutliers drops buckets whose sample count is outside mean ± 2σ of
// the counts (population standard deviation), when any is.
func excludeOutliers(bs []Bucket) []Bucket {
	if len(bs) == 0 {
		return bs
	}
	var sum float64
	for _, b := range bs {
		sum += float64(b.Count)
	}
	mean := sum / float64(len(bs))
	var sq float64
	for _, b := range bs {
		d := float64(b.Count) - mean
		sq += d * d
	}
	sd := math.Sqrt(sq / float64(len(bs)))
	lo, hi := mean-2*sd, mean+2*sd
	in := make([]Bucket, 0, len(bs))
	for _, b := range bs {
		if c := float64(b.Count); c >= lo && c <= hi {
			in = append(in, b)
		}
	}
	return in
}

// gnocchiStats answers the gnocchi rules: per metric, the granularity's
// buckets aligned on the epoch (as Gnocchi's archives are) from now -
// granularity*(evaluation_periods+look_back); across several metrics, the
// aggregation method applied per timestamp to the metrics that have a
// value there (needed_overlap 0; gnocchi_resources_threshold reads one
// metric and aggregates nothing across); then the last evaluation_periods values.
// No value at all is insufficient data ("No datapoint for granularity").
func (e *Evaluator) gnocchiStats(ctx context.Context, project string, g GnocchiThreshold, refs []MetricRef, cross bool, now time.Time) ([]float64, error) {
	gran := time.Duration(g.Granularity) * time.Second
	start := ceilTime(now.Add(-gran*time.Duration(g.EvaluationPeriods+LookBack)), gran)
	end := now.Truncate(gran).Add(gran)
	agg := AggregationMethods[g.AggregationMethod]
	byTime := map[int64][]float64{}
	for _, ref := range refs {
		bs, err := e.src.Statistics(ctx, StatsQuery{ProjectID: project, Meter: ref.Meter, ResourceID: ref.ResourceID, Start: start, End: end, Period: gran, Aggregate: agg})
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			byTime[b.Start.UnixNano()] = append(byTime[b.Start.UnixNano()], b.Value)
		}
	}
	if len(byTime) == 0 {
		return nil, &insufficientError{reason: fmt.Sprintf("No datapoint for granularity %d", g.Granularity)}
	}
	ts := make([]int64, 0, len(byTime))
	for t := range byTime {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	if len(ts) > g.EvaluationPeriods {
		ts = ts[len(ts)-g.EvaluationPeriods:]
	}
	out := make([]float64, len(ts))
	for i, t := range ts {
		if vs := byTime[t]; cross {
			out[i] = aggregate(g.AggregationMethod, vs)
		} else {
			out[i] = vs[0]
		}
	}
	return out, nil
}

// aggregate applies a Gnocchi aggregation method across metrics' values at
// one timestamp.
func aggregate(method string, vs []float64) float64 {
	var sum float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		sum += v
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	mean := sum / float64(len(vs))
	switch method {
	case "min":
		return lo
	case "max":
		return hi
	case "sum":
		return sum
	case "count":
		return float64(len(vs))
	case "std":
		if len(vs) < 2 {
			return math.NaN()
		}
		var sq float64
		for _, v := range vs {
			sq += (v - mean) * (v - mean)
		}
		return math.Sqrt(sq / float64(len(vs)-1))
	}
	return mean
}

func ceilTime(t time.Time, d time.Duration) time.Time {
	f := t.Truncate(d)
	if f.Equal(t) {
		return f
	}
	return f.Add(d)
}

// searchResources resolves a by-resources rule's search to the metrics
// (resource, meter) it aggregates.
func (e *Evaluator) searchResources(ctx context.Context, project string, r *GnocchiByResourcesRule) ([]MetricRef, error) {
	rs, err := e.src.Resources(ctx, project, r.Metric, MaxAggregatedResources+1)
	if err != nil {
		return nil, err
	}
	var refs []MetricRef
	for i := range rs {
		if r.search.Match(&rs[i]) {
			refs = append(refs, MetricRef{ResourceID: rs[i].ID, Meter: r.Metric})
		}
	}
	if len(rs) > MaxAggregatedResources {
		return nil, &insufficientError{reason: fmt.Sprintf("metric %s has more than %d resources to search", r.Metric, MaxAggregatedResources)}
	}
	if len(refs) == 0 {
		return nil, &insufficientError{reason: fmt.Sprintf("No datapoint for granularity %d", r.Granularity)}
	}
	return refs, nil
}

// promStats runs a prometheus rule's query at now.
func (e *Evaluator) promStats(ctx context.Context, project string, r *PrometheusRule, now time.Time) ([]float64, error) {
	ps, ok := e.src.(PromQLSource)
	if !ok {
		return nil, &insufficientError{reason: "prometheus rules need a source with PromQL: " + ErrUnsupported.Error()}
	}
	vs, err := ps.Instant(ctx, project, r.Query, now)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, &insufficientError{reason: "datapoints are unknown"}
	}
	return vs, nil
}

// Event is an event as an event alarm sees it.
type Event struct {
	MessageID, EventType string
	Traits               map[string]any
	// Raw is the event as reason_data carries it (Aodh puts the whole
	// event there); nil gives {message_id, event_type, traits}.
	Raw map[string]any
}

// EventProject returns the project an event concerns, as Aodh's event
// evaluator finds it: its tenant_id or project_id trait (project_id when
// both are set); "" when neither is a string. Only that project's event
// alarms see the event.
func EventProject(traits map[string]any) string {
	for _, k := range []string{"project_id", "tenant_id"} {
		if s, ok := traits[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// EvaluateEvent decides what an event does to an event alarm, as Aodh's
// event evaluator: an alarm already in alarm without repeat_actions is
// skipped; otherwise a matching event moves it to alarm (notifying on the
// change, and on every match with repeat_actions). fired is false when the
// event does not concern the alarm.
func EvaluateEvent(in Input, ev Event) (out Outcome, fired bool) {
	cur := in.State
	if cur == "" {
		cur = StateInsufficient
	}
	r, ok := in.Rule.(*EventRule)
	if !ok || ev.EventType == "" || ev.MessageID == "" || // Aodh drops such events as invalid
		(cur == StateAlarm && !in.RepeatActions) || !r.Matches(ev.EventType, ev.Traits) {
		return Outcome{State: cur, Skipped: true}, false
	}
	q := make([]map[string]string, len(r.Query))
	for i, t := range r.Query {
		q[i] = map[string]string{"field": t.Field, "op": t.Op, "value": t.Value}
		if t.Type != "" {
			q[i]["type"] = t.Type
		}
	}
	qj, _ := json.Marshal(q) // maps marshal with sorted keys, as sort_keys=True
	raw := ev.Raw
	if raw == nil {
		raw = map[string]any{"message_id": ev.MessageID, "event_type": ev.EventType, "traits": ev.Traits}
	}
	changed := cur != StateAlarm
	return Outcome{
		State:      StateAlarm,
		Reason:     fmt.Sprintf("Event <id=%s,event_type=%s> hits the query <query=%s>.", ev.MessageID, ev.EventType, pyJSON(qj)),
		ReasonData: map[string]any{"type": "event", "event": raw},
		Changed:    changed,
		Notify:     changed || in.RepeatActions,
	}, true
}

// pyJSON respaces compact JSON as Python's json.dumps does (", " and ": ").
func pyJSON(b []byte) string {
	var sb strings.Builder
	inStr, esc := false, false
	for _, c := range b {
		sb.WriteByte(c)
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == ',' || c == ':'):
			sb.WriteByte(' ')
		}
	}
	return sb.String()
}
