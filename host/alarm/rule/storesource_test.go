package rule

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/host/store/series"
	"github.com/altimeter/altimeter/sdk/sample"
)

// openStore opens a real store on a temp dir with ten minutes of cpu_util
// (one sample a minute, at :10 past) for vm-1 and vm-2 of project p-a and
// vm-3 of p-b, ending just before now. vm-1 runs at 90, vm-2 at 10, vm-3
// at 50; vm-1's flavor is m1.large, the others' m1.small.
func openStore(t *testing.T) (*store.Store, series.Options) {
	t.Helper()
	o := store.Options{Now: func() time.Time { return now }}
	o.Series.Policies = series.DefaultPolicies()
	o.Series.Rules = []series.Rule{{Pattern: "hw.*", Policy: "high"}, {Pattern: "*", Policy: "medium"}}
	o.Series.RetainEvery = -1
	st, err := store.Open(context.Background(), t.TempDir(), o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	type res struct {
		id, project, flavor string
		v                   float64
	}
	var batch []sample.Sample
	for _, r := range []res{{"vm-1", "p-a", "m1.large", 90}, {"vm-2", "p-a", "m1.small", 10}, {"vm-3", "p-b", "m1.small", 50}} {
		for i := range 10 {
			ts := now.Truncate(time.Minute).Add(-time.Duration(10-i)*time.Minute + 10*time.Second)
			batch = append(batch, sample.Sample{
				Name: "cpu_util", Type: sample.Gauge, Unit: "%", Volume: r.v + float64(i%2),
				ResourceID: r.id, ProjectID: r.project, UserID: "u", Source: "openstack", Timestamp: ts,
				Metadata: map[string]string{"flavor.name": r.flavor},
			})
		}
	}
	require.NoError(t, st.Write(context.Background(), batch))
	return st, o.Series
}

func TestStoreSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, so := openStore(t)
	src := NewStoreSource(st, so)

	start := now.Truncate(time.Minute).Add(-5 * time.Minute)
	bs, err := src.Statistics(ctx, StatsQuery{ProjectID: "p-a", Meter: "cpu_util", ResourceID: "vm-1", Start: start, End: now, Period: time.Minute, Aggregate: "max"})
	require.NoError(t, err)
	require.Len(t, bs, 5)
	for i, b := range bs {
		require.Equal(t, start.Add(time.Duration(i)*time.Minute), b.Start)
		require.Equal(t, int64(1), b.Count)
		require.InDelta(t, 90, b.Value, 1)
	}

	// Whole project, two resources per bucket.
	bs, err = src.Statistics(ctx, StatsQuery{ProjectID: "p-a", Meter: "cpu_util", Start: start, End: now, Period: 5 * time.Minute, Aggregate: "count"})
	require.NoError(t, err)
	require.Equal(t, []Bucket{{Start: start, Value: 10, Count: 10}}, bs)
	bs, err = src.Statistics(ctx, StatsQuery{ProjectID: "p-a", Meter: "cpu_util", Start: start, End: now, Period: 5 * time.Minute, Aggregate: "stddev"})
	require.NoError(t, err)
	require.InDelta(t, 40.0, bs[0].Value, 0.5)

	// Metadata filter.
	bs, err = src.Statistics(ctx, StatsQuery{ProjectID: "p-a", Meter: "cpu_util", Metadata: map[string]string{"flavor.name": "m1.small"}, Start: start, End: now, Period: 5 * time.Minute, Aggregate: "avg"})
	require.NoError(t, err)
	require.Len(t, bs, 1)
	require.InDelta(t, 10.5, bs[0].Value, 0.6)

	// Project scope: vm-3 belongs to p-b.
	bs, err = src.Statistics(ctx, StatsQuery{ProjectID: "p-a", Meter: "cpu_util", ResourceID: "vm-3", Start: start, End: now, Period: time.Minute, Aggregate: "avg"})
	require.NoError(t, err)
	require.Empty(t, bs)
	_, err = src.Statistics(ctx, StatsQuery{Meter: "cpu_util", Start: start, End: now, Period: time.Minute})
	require.Error(t, err)

	rs, err := src.Resources(ctx, "p-a", "cpu_util", 10)
	require.NoError(t, err)
	require.Len(t, rs, 2)
	require.Equal(t, "m1.large", rs[0].Metadata["flavor.name"])

	p, found, err := src.ResourceProject(ctx, "vm-3")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "p-b", p)
	_, found, err = src.ResourceProject(ctx, "nope")
	require.NoError(t, err)
	require.False(t, found)

	require.Equal(t, []time.Duration{time.Minute, time.Hour}, src.Granularities("cpu_util"))
	require.Equal(t, []time.Duration{time.Second, time.Minute, time.Hour}, src.Granularities("hw.cpu"))
	require.Equal(t, []time.Duration{time.Minute, time.Hour}, NewStoreSource(st, series.Options{}).Granularities("hw.cpu"))
}

func TestEvaluateAgainstStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, so := openStore(t)
	e := NewEvaluator(NewStoreSource(st, so), nil)
	cases := []struct {
		typ, rule, project, want string
	}{
		{TypeThreshold, `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt","evaluation_periods":3,"query":[{"field":"resource_id","value":"vm-1"}]}`, "p-a", StateAlarm},
		{TypeThreshold, `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt","evaluation_periods":3,"query":[{"field":"resource_id","value":"vm-2"}]}`, "p-a", StateOK},
		{TypeThreshold, `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt","evaluation_periods":3,"statistic":"max"}`, "p-a", StateAlarm},
		{TypeThreshold, `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt","evaluation_periods":3,"query":[{"field":"metadata.flavor.name","value":"m1.small"}]}`, "p-a", StateOK},
		{TypeThreshold, `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt","evaluation_periods":30}`, "p-a", StateInsufficient},
		// Another project's resource reads as no data.
		{TypeThreshold, `{"meter_name":"cpu_util","threshold":0,"comparison_operator":"gt","query":[{"field":"resource_id","value":"vm-3"}]}`, "p-a", StateInsufficient},
		{TypeGnocchiResources, `{"metric":"cpu_util","resource_id":"vm-1","resource_type":"instance","aggregation_method":"mean","threshold":80,"comparison_operator":"gt","evaluation_periods":3}`, "p-a", StateAlarm},
		{TypeGnocchiResources, `{"metric":"cpu_util","resource_id":"vm-1","resource_type":"instance","aggregation_method":"mean","threshold":80,"comparison_operator":"gt","granularity":3600}`, "p-a", StateAlarm},
		{TypeGnocchiByMetrics, `{"metrics":["dm0tMStjcHVfdXRpbA==","dm0tMitjcHVfdXRpbA=="],"aggregation_method":"mean","threshold":60,"comparison_operator":"lt","evaluation_periods":2}`, "p-a", StateAlarm},
		{TypeGnocchiByResources, `{"metric":"cpu_util","query":"{\"=\":{\"flavor.name\":\"m1.large\"}}","resource_type":"instance","aggregation_method":"max","threshold":89,"comparison_operator":"ge","evaluation_periods":2}`, "p-a", StateAlarm},
		{TypeGnocchiByResources, `{"metric":"cpu_util","query":"{\"=\":{\"flavor.name\":\"m1.small\"}}","resource_type":"instance","aggregation_method":"max","threshold":89,"comparison_operator":"ge","evaluation_periods":2}`, "p-a", StateOK},
	}
	for _, c := range cases {
		r := mustParse(t, c.typ, c.rule)
		if err := Check(ctx, NewStoreSource(st, so), c.project, r); c.want != StateInsufficient {
			require.NoError(t, err, c.rule)
		}
		out, err := e.Evaluate(ctx, Input{ProjectID: c.project, Rule: r, State: StateInsufficient}, now)
		require.NoError(t, err)
		require.Equal(t, c.want, out.State, "%s: %s", c.rule, out.Reason)
	}
	comp := mustParse(t, TypeComposite, `{"and":[{"type":"threshold","meter_name":"cpu_util","threshold":80,"comparison_operator":"gt","query":[{"field":"resource_id","value":"vm-1"}]},
		{"type":"gnocchi_resources_threshold","metric":"cpu_util","resource_id":"vm-2","resource_type":"instance","aggregation_method":"mean","threshold":20,"comparison_operator":"lt"}]}`)
	out, err := e.Evaluate(ctx, Input{ProjectID: "p-a", Rule: comp, State: StateOK}, now)
	require.NoError(t, err)
	require.Equal(t, StateAlarm, out.State)
}

func TestCheckAgainstStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, so := openStore(t)
	src := NewStoreSource(st, so)
	cases := []struct{ typ, rule, field string }{
		{TypeGnocchiResources, `{"metric":"cpu_util","resource_id":"vm-1","resource_type":"instance","aggregation_method":"mean","threshold":1,"granularity":300}`, "gnocchi_resources_threshold_rule.granularity"},
		{TypeGnocchiResources, `{"metric":"cpu_util","resource_id":"vm-3","resource_type":"instance","aggregation_method":"mean","threshold":1}`, "gnocchi_resources_threshold_rule.resource_id"},
		{TypeGnocchiByMetrics, `{"metrics":["dm0tMStjcHVfdXRpbA==","dm0tMytjcHVfdXRpbA=="],"aggregation_method":"mean","threshold":1}`, "gnocchi_aggregation_by_metrics_threshold_rule.metrics[1]"},
		{TypeGnocchiByResources, `{"metric":"cpu_util","query":"{\"=\":{\"id\":\"x\"}}","resource_type":"instance","aggregation_method":"mean","threshold":1,"granularity":1}`, "gnocchi_aggregation_by_resources_threshold_rule.granularity"},
		{TypeThreshold, `{"meter_name":"cpu_util","threshold":1,"query":[{"field":"resource_id","value":"vm-3"}]}`, "threshold_rule.query[0].value"},
		{TypeThreshold, `{"meter_name":"cpu_util","threshold":1,"query":[{"field":"project_id","value":"p-b"}]}`, "threshold_rule.query[0].value"},
		{TypeComposite, `{"or":[{"type":"threshold","meter_name":"a","threshold":1},{"and":[{"type":"gnocchi_resources_threshold","metric":"cpu_util","resource_id":"vm-1","resource_type":"instance","aggregation_method":"mean","threshold":1,"granularity":7}]}]}`, "composite_rule.or[1].and[0].granularity"},
	}
	for _, c := range cases {
		r := mustParse(t, c.typ, c.rule)
		err := Check(ctx, src, "p-a", r)
		var fe *FieldError
		require.True(t, errors.As(err, &fe), "%s: %v", c.rule, err)
		require.Equal(t, c.field, fe.Field)
	}
	// The high policy has a 1 s archive; unknown resources are accepted.
	r := mustParse(t, TypeGnocchiResources, `{"metric":"hw.cpu","resource_id":"new","resource_type":"host","aggregation_method":"mean","threshold":1,"granularity":1}`)
	require.NoError(t, Check(ctx, src, "p-a", r))
}
