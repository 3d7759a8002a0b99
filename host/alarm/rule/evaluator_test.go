package rule

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeSource serves per-(meter, resource) series of values, laid out as
// the newest buckets of each query's window. It is a test double for
// Source: the store adapter is tested against a real store separately.
type fakeSource struct {
	mu        sync.Mutex
	values    map[string][]float64 // "meter/resource" or "meter"
	counts    map[string][]int64
	resources []ResourceInfo
	grans     []time.Duration
	owners    map[string]string
	err       error
	queries   []StatsQuery
}

func (f *fakeSource) Statistics(_ context.Context, q StatsQuery) ([]Bucket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	if f.err != nil {
		return nil, f.err
	}
	key := q.Meter
	if q.ResourceID != "" {
		key += "/" + q.ResourceID
	}
	vs := f.values[key]
	n := int(q.End.Sub(q.Start) / q.Period)
	if len(vs) > n {
		vs = vs[len(vs)-n:]
	}
	out := make([]Bucket, len(vs))
	first := q.Start.Add(time.Duration(n-len(vs)) * q.Period)
	for i, v := range vs {
		c := int64(10)
		if cs := f.counts[key]; cs != nil {
			c = cs[len(cs)-len(vs)+i]
		}
		out[i] = Bucket{Start: first.Add(time.Duration(i) * q.Period), Value: v, Count: c}
	}
	return out, nil
}

func (f *fakeSource) Resources(_ context.Context, project, meter string, limit int) ([]ResourceInfo, error) {
	var out []ResourceInfo
	for _, r := range f.resources {
		if r.ProjectID == project && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeSource) Granularities(string) []time.Duration { return f.grans }

func (f *fakeSource) ResourceProject(_ context.Context, id string) (string, bool, error) {
	p, ok := f.owners[id]
	return p, ok, nil
}

var now = time.Date(2026, 11, 20, 10, 5, 30, 0, time.UTC)

func threshold(t *testing.T, meter, op string, limit float64, periods int, extra string) Rule {
	return mustParse(t, TypeThreshold, fmt.Sprintf(`{"meter_name":%q,"comparison_operator":%q,"threshold":%v,"evaluation_periods":%d%s}`, meter, op, limit, periods, extra))
}

func TestThresholdWindowAndStatistic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &fakeSource{values: map[string][]float64{"cpu/vm-1": {1, 2, 3}}}
	e := NewEvaluator(src, nil)
	r := mustParse(t, TypeThreshold, `{"meter_name":"cpu","threshold":0,"comparison_operator":"gt","period":300,"statistic":"max","evaluation_periods":3,
		"query":[{"field":"resource_id","value":"vm-1"},{"field":"metadata.flavor","value":"m1"},{"field":"project_id","value":"p1"}]}`)
	out, err := e.Evaluate(ctx, Input{ProjectID: "p1", Rule: r, State: StateOK}, now)
	require.NoError(t, err)
	require.Equal(t, StateAlarm, out.State)
	// period * (evaluation_periods + look-back 1), ending now.
	require.Equal(t, []StatsQuery{{ProjectID: "p1", Meter: "cpu", ResourceID: "vm-1", Metadata: map[string]string{"flavor": "m1"},
		Start: now.Add(-20 * time.Minute), End: now, Period: 5 * time.Minute, Aggregate: "max"}}, src.queries)

	// exclude_outliers reaches back evaluation_periods more periods.
	src.queries = nil
	r = threshold(t, "cpu", "gt", 0, 3, `,"period":60,"exclude_outliers":true`)
	_, err = e.Evaluate(ctx, Input{ProjectID: "p1", Rule: r}, now)
	require.NoError(t, err)
	require.Equal(t, now.Add(-6*time.Minute), src.queries[0].Start)

	// A query on another project reads nothing.
	r = mustParse(t, TypeThreshold, `{"meter_name":"cpu","threshold":0,"query":[{"field":"project_id","value":"p2"}]}`)
	out, err = e.Evaluate(ctx, Input{ProjectID: "p1", Rule: r, State: StateOK}, now)
	require.NoError(t, err)
	require.Equal(t, StateInsufficient, out.State)
}

func TestThresholdComparisonOperators(t *testing.T) {
	t.Parallel()
	cases := []struct {
		op     string
		values []float64
		want   string
	}{
		{"gt", []float64{81, 90}, StateAlarm},
		{"gt", []float64{80, 80}, StateOK},
		{"ge", []float64{80, 80}, StateAlarm},
		{"ge", []float64{79.9, 70}, StateOK},
		{"lt", []float64{1, 79.99}, StateAlarm},
		{"lt", []float64{80, 81}, StateOK},
		{"le", []float64{80, 80}, StateAlarm},
		{"le", []float64{80.01, 99}, StateOK},
		{"eq", []float64{80, 80}, StateAlarm},
		{"eq", []float64{80.5, 79}, StateOK},
		{"ne", []float64{1, 2}, StateAlarm},
		{"ne", []float64{80, 80}, StateOK},
	}
	for _, c := range cases {
		src := &fakeSource{values: map[string][]float64{"cpu": c.values}}
		out, err := NewEvaluator(src, nil).Evaluate(context.Background(), Input{ProjectID: "p", Rule: threshold(t, "cpu", c.op, 80, 2, ""), State: StateInsufficient}, now)
		require.NoError(t, err)
		require.Equal(t, c.want, out.State, "%s %v", c.op, c.values)
	}
}

func TestThresholdTransitions(t *testing.T) {
	t.Parallel()
	type want struct {
		state          string
		changed, notif bool
		reason         string
		data           map[string]any
	}
	cases := []struct {
		name   string
		values []float64
		cur    string
		repeat bool
		want   want
	}{
		{"all outside from ok", []float64{81, 82, 83}, StateOK, false,
			want{StateAlarm, true, true, "Transition to alarm due to 3 samples outside threshold, most recent: 83.0",
				map[string]any{"type": "threshold", "disposition": "outside", "count": 3, "most_recent": 83.0}}},
		{"all inside from alarm", []float64{1, 2, 3.5}, StateAlarm, false,
			want{StateOK, true, true, "Transition to ok due to 3 samples inside threshold, most recent: 3.5",
				map[string]any{"type": "threshold", "disposition": "inside", "count": 3, "most_recent": 3.5}}},
		{"stays alarm", []float64{81, 82, 83}, StateAlarm, false, want{StateAlarm, false, false, "", nil}},
		{"stays alarm, repeat_actions", []float64{81, 82, 83}, StateAlarm, true,
			want{StateAlarm, false, true, "Remaining as alarm due to 3 samples outside threshold, most recent: 83.0",
				map[string]any{"type": "threshold", "disposition": "outside", "count": 3, "most_recent": 83.0}}},
		{"stays ok, repeat_actions", []float64{1, 2, 3}, StateOK, true,
			want{StateOK, false, true, "Remaining as ok due to 3 samples inside threshold, most recent: 3.0",
				map[string]any{"type": "threshold", "disposition": "inside", "count": 3, "most_recent": 3.0}}},
		{"mixed keeps ok", []float64{81, 1, 82}, StateOK, false, want{StateOK, false, false, "", nil}},
		{"mixed keeps alarm", []float64{1, 81, 2}, StateAlarm, false, want{StateAlarm, false, false, "", nil}},
		{"mixed from unknown follows the newest", []float64{1, 2, 82}, StateInsufficient, false,
			want{StateAlarm, true, true, "Transition to alarm due to 1 samples outside threshold, most recent: 82.0",
				map[string]any{"type": "threshold", "disposition": "outside", "count": 1, "most_recent": 82.0}}},
		{"mixed from unknown, newest inside", []float64{81, 82, 2}, "", false,
			want{StateOK, true, true, "Transition to ok due to 1 samples inside threshold, most recent: 2.0",
				map[string]any{"type": "threshold", "disposition": "inside", "count": 1, "most_recent": 2.0}}},
		{"mixed keeps alarm, repeat_actions", []float64{1, 81, 2}, StateAlarm, true,
			want{StateAlarm, false, true, "Remaining as alarm due to 1 samples outside threshold, most recent: 2.0",
				map[string]any{"type": "threshold", "disposition": "outside", "count": 1, "most_recent": 2.0}}},
		{"too few points", []float64{81, 82}, StateOK, false,
			want{StateInsufficient, true, true, "3 datapoints are unknown",
				map[string]any{"type": "threshold", "disposition": "unknown", "count": 3, "most_recent": 82.0}}},
		{"no points", nil, StateAlarm, false,
			want{StateInsufficient, true, true, "3 datapoints are unknown",
				map[string]any{"type": "threshold", "disposition": "unknown", "count": 3, "most_recent": nil}}},
		{"still too few", []float64{81}, StateInsufficient, true, want{StateInsufficient, false, false, "", nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := &fakeSource{values: map[string][]float64{"cpu": c.values}}
			out, err := NewEvaluator(src, nil).Evaluate(context.Background(), Input{ProjectID: "p", Rule: threshold(t, "cpu", "gt", 80, 3, ""), State: c.cur, RepeatActions: c.repeat}, now)
			require.NoError(t, err)
			require.Equal(t, want{out.State, out.Changed, out.Notify, out.Reason, out.ReasonData}, c.want)
			require.False(t, out.Skipped)
		})
	}
}

func TestThresholdOnlyTheNewestPeriodsCount(t *testing.T) {
	t.Parallel()
	// The window holds evaluation_periods + 1 buckets; the oldest is
	// dropped before comparing.
	src := &fakeSource{values: map[string][]float64{"cpu": {99, 1, 2}}}
	out, err := NewEvaluator(src, nil).Evaluate(context.Background(), Input{ProjectID: "p", Rule: threshold(t, "cpu", "gt", 80, 2, ""), State: StateAlarm}, now)
	require.NoError(t, err)
	require.Equal(t, StateOK, out.State)
	require.Equal(t, 2, out.ReasonData["count"])
}

func TestExcludeOutliers(t *testing.T) {
	t.Parallel()
	// Six buckets (3 periods + 3 look-back); the newest holds one sample
	// where the others hold ten: mean 8.5, σ 3.35, so it lies outside
	// mean ± 2σ and is dropped; the three before it decide.
	vals := []float64{1, 1, 1, 1, 1, 99}
	counts := []int64{10, 10, 10, 10, 10, 1}
	src := &fakeSource{values: map[string][]float64{"cpu": vals}, counts: map[string][]int64{"cpu": counts}}
	e := NewEvaluator(src, nil)
	out, err := e.Evaluate(context.Background(), Input{ProjectID: "p", Rule: threshold(t, "cpu", "gt", 50, 3, `,"exclude_outliers":true`), State: StateInsufficient}, now)
	require.NoError(t, err)
	require.Equal(t, StateOK, out.State)
	require.Equal(t, 1.0, out.ReasonData["most_recent"])

	// Without exclusion the same data is mixed and the newest point trends to alarm.
	out, err = e.Evaluate(context.Background(), Input{ProjectID: "p", Rule: threshold(t, "cpu", "gt", 50, 3, ""), State: StateInsufficient}, now)
	require.NoError(t, err)
	require.Equal(t, StateAlarm, out.State)

	// Equal counts: nothing is an outlier.
	src.counts["cpu"] = []int64{10, 10, 10, 10, 10, 10}
	out, err = e.Evaluate(context.Background(), Input{ProjectID: "p", Rule: threshold(t, "cpu", "gt", 50, 3, `,"exclude_outliers":true`), State: StateInsufficient}, now)
	require.NoError(t, err)
	require.Equal(t, StateAlarm, out.State)
	require.Equal(t, 99.0, out.ReasonData["most_recent"])
}

func TestSourceFailureIsInsufficientData(t *testing.T) {
	t.Parallel()
	src := &fakeSource{err: errors.New("disk on fire")}
	out, err := NewEvaluator(src, nil).Evaluate(context.Background(), Input{ProjectID: "p", Rule: threshold(t, "cpu", "gt", 1, 1, ""), State: StateOK}, now)
	require.NoError(t, err)
	require.Equal(t, StateInsufficient, out.State)
	require.Equal(t, "alarm statistics retrieval failed: disk on fire", out.Reason)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	src.err = ctx.Err()
	_, err = NewEvaluator(src, nil).Evaluate(ctx, Input{ProjectID: "p", Rule: threshold(t, "cpu", "gt", 1, 1, ""), State: StateOK}, now)
	require.ErrorIs(t, err, context.Canceled)
}

func TestSkipped(t *testing.T) {
	t.Parallel()
	src := &fakeSource{values: map[string][]float64{"cpu": {99}}}
	e := NewEvaluator(src, nil)
	tcs := []TimeConstraint{{Name: "n", Start: "0 23 * * *", Duration: 3600}}
	out, err := e.Evaluate(context.Background(), Input{ProjectID: "p", Rule: threshold(t, "cpu", "gt", 1, 1, ""), State: StateOK, TimeConstraints: tcs}, now)
	require.NoError(t, err)
	require.Equal(t, Outcome{State: StateOK, Skipped: true}, out)
	require.Empty(t, src.queries)

	out, err = e.Evaluate(context.Background(), Input{ProjectID: "p", Rule: mustParse(t, TypeEvent, `{}`), State: StateOK}, now)
	require.NoError(t, err)
	require.True(t, out.Skipped)
}

func TestGnocchiRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("resources: epoch-aligned buckets", func(t *testing.T) {
		src := &fakeSource{values: map[string][]float64{"cpu/vm-1": {10, 90, 95}}}
		r := mustParse(t, TypeGnocchiResources, `{"metric":"cpu","resource_id":"vm-1","resource_type":"instance","aggregation_method":"max","threshold":80,"comparison_operator":"gt","evaluation_periods":2,"granularity":60}`)
		out, err := NewEvaluator(src, nil).Evaluate(ctx, Input{ProjectID: "p", Rule: r, State: StateOK}, now)
		require.NoError(t, err)
		require.Equal(t, StateAlarm, out.State)
		// now 10:05:30: from the first whole minute after now - 3 min to the
		// end of the current minute.
		require.Equal(t, []StatsQuery{{ProjectID: "p", Meter: "cpu", ResourceID: "vm-1", Start: now.Add(-150 * time.Second), End: now.Add(30 * time.Second), Period: time.Minute, Aggregate: "max"}}, src.queries)
	})
	t.Run("no datapoint", func(t *testing.T) {
		r := mustParse(t, TypeGnocchiResources, `{"metric":"cpu","resource_id":"vm-1","resource_type":"instance","aggregation_method":"std","threshold":80,"granularity":300}`)
		src := &fakeSource{}
		out, err := NewEvaluator(src, nil).Evaluate(ctx, Input{ProjectID: "p", Rule: r, State: StateOK}, now)
		require.NoError(t, err)
		require.Equal(t, StateInsufficient, out.State)
		require.Equal(t, "No datapoint for granularity 300", out.Reason)
		require.Equal(t, "stddev", src.queries[0].Aggregate)
	})
	t.Run("by metrics: aggregated per timestamp", func(t *testing.T) {
		// vm-2 has only the newest point (needed_overlap 0).
		src := &fakeSource{values: map[string][]float64{"cpu/vm-1": {10, 20, 30}, "cpu/vm-2": {50}}}
		for _, c := range []struct {
			method string
			newest float64
		}{{"mean", 40}, {"max", 50}, {"min", 30}, {"sum", 80}, {"count", 2}} {
			r := mustParse(t, TypeGnocchiByMetrics, fmt.Sprintf(`{"metrics":["dm0tMStjcHU=","dm0tMitjcHU="],"aggregation_method":%q,"threshold":1000,"comparison_operator":"lt","evaluation_periods":2}`, c.method))
			out, err := NewEvaluator(src, nil).Evaluate(ctx, Input{ProjectID: "p", Rule: r}, now)
			require.NoError(t, err)
			require.Equal(t, StateAlarm, out.State)
			require.Equal(t, c.newest, out.ReasonData["most_recent"], c.method)
		}
	})
	t.Run("by resources: search selects", func(t *testing.T) {
		src := &fakeSource{
			values: map[string][]float64{"cpu/a": {10}, "cpu/b": {20}, "cpu/c": {90}, "cpu/x": {1000}},
			resources: []ResourceInfo{
				{ID: "a", ProjectID: "p", Metadata: map[string]string{"server_group": "g1"}},
				{ID: "b", ProjectID: "p", Metadata: map[string]string{"server_group": "g1"}},
				{ID: "c", ProjectID: "p", Metadata: map[string]string{"server_group": "g2"}},
				{ID: "x", ProjectID: "other", Metadata: map[string]string{"server_group": "g1"}},
			},
		}
		r := mustParse(t, TypeGnocchiByResources, `{"metric":"cpu","query":"{\"and\":[{\"=\":{\"server_group\":\"g1\"}},{\"=\":{\"ended_at\":null}}]}","resource_type":"instance","aggregation_method":"mean","threshold":50,"comparison_operator":"gt"}`)
		out, err := NewEvaluator(src, nil).Evaluate(ctx, Input{ProjectID: "p", Rule: r, State: StateInsufficient}, now)
		require.NoError(t, err)
		require.Equal(t, StateOK, out.State)
		require.Equal(t, 15.0, out.ReasonData["most_recent"])
	})
}

func TestSearchMatch(t *testing.T) {
	t.Parallel()
	r := &ResourceInfo{ID: "vm-1", ProjectID: "p", UserID: "u", Started: now, Metadata: map[string]string{"flavor.vcpus": "4", "name": "web-01", "up": "true"}}
	cases := []struct {
		q    string
		want bool
	}{
		{`{"=":{"id":"vm-1"}}`, true},
		{`{"!=":{"id":"vm-1"}}`, false},
		{`{"==":{"project_id":"p"}}`, true},
		{`{">=":{"flavor.vcpus":4}}`, true},
		{`{">":{"flavor.vcpus":10}}`, false},
		{`{"lt":{"flavor.vcpus":"10"}}`, false}, // string comparison, as text
		{`{"in":{"user_id":["a","u"]}}`, true},
		{`{"like":{"name":"web-%"}}`, true},
		{`{"like":{"name":"db-%"}}`, false},
		{`{"=":{"ended_at":null}}`, true},
		{`{"=":{"missing":"x"}}`, false},
		{`{"!=":{"missing":"x"}}`, true},
		{`{"=":{"up":true}}`, true},
		{`{"<":{"started_at":"2030-01-01T00:00:00"}}`, true},
		{`{"not":{"=":{"id":"vm-1"}}}`, false},
		{`{"or":[{"=":{"id":"nope"}},{"=":{"user_id":"u"}}]}`, true},
		{`{"and":[{"=":{"id":"vm-1"}},{"=":{"user_id":"v"}}]}`, false},
	}
	for _, c := range cases {
		s, err := ParseSearch([]byte(c.q))
		require.NoError(t, err, c.q)
		require.Equal(t, c.want, s.Match(r), c.q)
	}
}

// leaf values: A breaches (alarm), O does not (ok), U has no data
// (insufficient), Ta/To are mixed and trend to alarm/ok.
var compositeValues = map[string][]float64{"A": {5, 5}, "O": {-5, -5}, "Ta": {-5, 5}, "To": {5, -5}}

func composite(t *testing.T, expr string) Rule {
	return mustParse(t, TypeComposite, expr)
}

func leaf(meter string) string {
	return fmt.Sprintf(`{"type":"threshold","meter_name":%q,"threshold":0,"comparison_operator":"gt","evaluation_periods":2}`, meter)
}

func and(xs ...string) string { return `{"and":[` + join(xs) + `]}` }
func or(xs ...string) string  { return `{"or":[` + join(xs) + `]}` }
func join(xs []string) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ","
		}
		s += x
	}
	return s
}

func TestCompositeTruthTable(t *testing.T) {
	t.Parallel()
	A, O, U, Ta, To := leaf("A"), leaf("O"), leaf("U"), leaf("Ta"), leaf("To")
	cases := []struct {
		name, expr, cur string
		want            string
		queried         int // leaves read (short-circuit)
	}{
		{"A and A", and(A, A), StateOK, StateAlarm, 2},
		{"A and O", and(A, O), StateAlarm, StateOK, 2},
		{"O and U: ok short-circuits", and(O, U), StateAlarm, StateOK, 1},
		{"A and U", and(A, U), StateOK, StateInsufficient, 2},
		{"U and U", and(U, U), StateOK, StateInsufficient, 2},
		{"A or U: alarm short-circuits", or(A, U), StateOK, StateAlarm, 1},
		{"O or U", or(O, U), StateAlarm, StateInsufficient, 2},
		{"O or O", or(O, O), StateAlarm, StateOK, 2},
		{"U or A", or(U, A), StateOK, StateAlarm, 2},
		{"nested A or (O and U)", or(A, and(O, U)), StateOK, StateAlarm, 1},
		{"nested O or (A and A)", or(O, and(A, A)), StateOK, StateAlarm, 3},
		{"nested O and (A or U)", and(O, or(A, U)), StateAlarm, StateOK, 1},
		{"single leaf", A, StateOK, StateAlarm, 1},
		// Trending leaves take their trend when the alarm is in
		// insufficient data...
		{"Ta and A from unknown", and(Ta, A), StateInsufficient, StateAlarm, 2},
		{"To or O from unknown", or(To, O), StateInsufficient, StateOK, 2},
		// ...and the opposite of their trend otherwise (Aodh 15).
		{"Ta and A from ok", and(Ta, A), StateOK, StateOK, 2},
		{"To and A from ok", and(To, A), StateOK, StateAlarm, 2},
		{"Ta or O from alarm", or(Ta, O), StateAlarm, StateOK, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := &fakeSource{values: compositeValues}
			out, err := NewEvaluator(src, nil).Evaluate(context.Background(), Input{ProjectID: "p", Rule: composite(t, c.expr), State: c.cur}, now)
			require.NoError(t, err)
			require.Equal(t, c.want, out.State)
			require.Equal(t, c.want != c.cur, out.Changed)
			require.Len(t, src.queries, c.queried)
		})
	}
}

func TestCompositeReasons(t *testing.T) {
	t.Parallel()
	A, Ta := leaf("A"), leaf("Ta")
	O := leaf("O")
	// Aodh's test_unknown_state_with_sub_rules_trending_state: rule1 ok,
	// rules 2 and 3 trending to alarm, from insufficient data.
	expr := or(O, and(Ta, Ta))
	src := &fakeSource{values: compositeValues}
	out, err := NewEvaluator(src, nil).Evaluate(context.Background(), Input{ProjectID: "p", Rule: composite(t, expr), State: StateInsufficient}, now)
	require.NoError(t, err)
	require.Equal(t, StateAlarm, out.State)
	require.True(t, out.Notify)
	require.Equal(t, "Composite rule alarm with composition form: (rule1 or (rule2 and rule3)) transition to alarm, due to rules: rule2, rule3 outside their threshold.", out.Reason)
	require.Equal(t, "(rule1 or (rule2 and rule3))", out.ReasonData["composition_form"])
	causes := out.ReasonData["causative_rules"].(map[string]any)
	require.Len(t, causes, 2)
	require.Equal(t, "threshold", causes["rule2"].(map[string]any)["type"])
	require.Equal(t, "Ta", causes["rule2"].(map[string]any)["meter_name"])

	// test_known_state_with_sub_rules_trending_state: from ok with
	// repeat_actions, the trending rules count as ok: remaining as ok,
	// notified.
	out, err = NewEvaluator(src, nil).Evaluate(context.Background(), Input{ProjectID: "p", Rule: composite(t, expr), State: StateOK, RepeatActions: true}, now)
	require.NoError(t, err)
	require.Equal(t, Outcome{State: StateOK, Notify: true, Reason: "Composite rule alarm with composition form: (rule1 or (rule2 and rule3)) remaining as ok, due to rules: rule1, rule2, rule3 inside their threshold.", ReasonData: out.ReasonData}, out)
	// ...and without repeat_actions nothing is notified.
	out, err = NewEvaluator(src, nil).Evaluate(context.Background(), Input{ProjectID: "p", Rule: composite(t, expr), State: StateOK}, now)
	require.NoError(t, err)
	require.False(t, out.Notify)
	require.False(t, out.Changed)

	// Insufficient from insufficient: untouched.
	out, err = NewEvaluator(src, nil).Evaluate(context.Background(), Input{ProjectID: "p", Rule: composite(t, and(A, leaf("U"))), State: StateInsufficient, RepeatActions: true}, now)
	require.NoError(t, err)
	require.Equal(t, Outcome{State: StateInsufficient}, out)
	out, err = NewEvaluator(src, nil).Evaluate(context.Background(), Input{ProjectID: "p", Rule: composite(t, and(A, leaf("U"))), State: StateAlarm}, now)
	require.NoError(t, err)
	require.Equal(t, "Composite rule alarm with composition form: (rule1 and rule2) transition to insufficient data, due to rules: rule2 state evaluated to unknown.", out.Reason)
	require.True(t, out.Notify)
}

func TestEvaluateConcurrently(t *testing.T) {
	t.Parallel()
	src := &fakeSource{values: compositeValues}
	e := NewEvaluator(src, nil)
	r := composite(t, or(leaf("O"), and(leaf("A"), leaf("A"))))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			out, err := e.Evaluate(context.Background(), Input{ProjectID: "p", Rule: r, State: StateOK}, now)
			if err != nil || out.State != StateAlarm {
				t.Errorf("got %v %v", out, err)
			}
		})
	}
	wg.Wait()
}

func TestPyFloat(t *testing.T) {
	t.Parallel()
	// Python's repr(float).
	for v, want := range map[float64]string{
		0: "0.0", 91: "91.0", -3.5: "-3.5", 1234567: "1234567.0", 123456789.25: "123456789.25", 0.0001: "0.0001",
		0.00001: "1e-05", 1.5e-7: "1.5e-07", 1e16: "1e+16", 2.5e20: "2.5e+20", 9999999999999998: "9999999999999998.0",
		math.NaN(): "nan", math.Inf(1): "inf", math.Inf(-1): "-inf",
	} {
		require.Equal(t, want, pyFloat(v), "%v", v)
	}
}

func TestCountStatisticIsAnInteger(t *testing.T) {
	t.Parallel()
	src := &fakeSource{values: map[string][]float64{"cpu": {12, 15}}}
	out, err := NewEvaluator(src, nil).Evaluate(context.Background(), Input{ProjectID: "p", Rule: threshold(t, "cpu", "gt", 10, 2, `,"statistic":"count"`), State: StateOK}, now)
	require.NoError(t, err)
	require.Equal(t, "Transition to alarm due to 2 samples outside threshold, most recent: 15", out.Reason)
	require.Equal(t, int64(15), out.ReasonData["most_recent"])
	require.Equal(t, "count", src.queries[0].Aggregate)
}
