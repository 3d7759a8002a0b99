package rule

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func mustParse(t *testing.T, typ, raw string) Rule {
	t.Helper()
	r, err := Parse(typ, json.RawMessage(raw))
	require.NoError(t, err)
	return r
}

func TestParseFillsAodhDefaults(t *testing.T) {
	t.Parallel()
	cases := []struct{ typ, in, want string }{
		{TypeThreshold, `{"meter_name":"cpu_util","threshold":80}`,
			`{"meter_name":"cpu_util","query":[],"period":60,"comparison_operator":"eq","threshold":80,"statistic":"avg","evaluation_periods":1,"exclude_outliers":false}`},
		{TypeThreshold, `{"meter_name":"cpu_util","threshold":"80.5","period":"300","statistic":"max","comparison_operator":"gt","evaluation_periods":3,"exclude_outliers":"true",
			"query":[{"field":"resource_id","value":"vm-1"},{"field":"resource_metadata.flavor.name","op":"eq","value":"m1.small","type":"string"}]}`,
			`{"meter_name":"cpu_util","query":[{"field":"resource_id","op":"eq","value":"vm-1"},{"field":"resource_metadata.flavor.name","op":"eq","type":"string","value":"m1.small"}],"period":300,"comparison_operator":"gt","threshold":80.5,"statistic":"max","evaluation_periods":3,"exclude_outliers":true}`},
		{TypeGnocchiResources, `{"metric":"cpu","resource_id":"vm-1","resource_type":"instance","aggregation_method":"mean","threshold":1}`,
			`{"comparison_operator":"eq","threshold":1,"aggregation_method":"mean","evaluation_periods":1,"granularity":60,"metric":"cpu","resource_id":"vm-1","resource_type":"instance"}`},
		{TypeGnocchiByMetrics, `{"metrics":["dm0tMStjcHU="],"aggregation_method":"max","threshold":2,"granularity":3600,"comparison_operator":"ge"}`,
			`{"comparison_operator":"ge","threshold":2,"aggregation_method":"max","evaluation_periods":1,"granularity":3600,"metrics":["dm0tMStjcHU="]}`},
		{TypeGnocchiByResources, `{"metric":"cpu","query":"{\"=\": {\"server_group\": \"g1\"}}","resource_type":"instance","aggregation_method":"sum","threshold":3}`,
			`{"comparison_operator":"eq","threshold":3,"aggregation_method":"sum","evaluation_periods":1,"granularity":60,"metric":"cpu","query":"{\"=\": {\"server_group\": \"g1\"}}","resource_type":"instance"}`},
		{TypeEvent, `{}`, `{"event_type":"*","query":[]}`},
		{TypeEvent, `{"event_type":"compute.instance.*","query":[{"field":"traits.state","value":"error"}]}`,
			`{"event_type":"compute.instance.*","query":[{"field":"traits.state","op":"eq","value":"error"}]}`},
		{TypePrometheus, `{"query":"up","threshold":1,"comparison_operator":"lt"}`, `{"query":"up","comparison_operator":"lt","threshold":1}`},
		{TypeComposite, `{"or":[{"type":"threshold","meter_name":"a","threshold":1},{"and":[{"type":"gnocchi_resources_threshold","metric":"cpu","resource_id":"r","resource_type":"instance","aggregation_method":"mean","threshold":2},{"type":"threshold","meter_name":"b","threshold":3}]}]}`,
			`{"or":[{"comparison_operator":"eq","evaluation_periods":1,"exclude_outliers":false,"meter_name":"a","period":60,"query":[],"statistic":"avg","threshold":1,"type":"threshold"},{"and":[{"aggregation_method":"mean","comparison_operator":"eq","evaluation_periods":1,"granularity":60,"metric":"cpu","resource_id":"r","resource_type":"instance","threshold":2,"type":"gnocchi_resources_threshold"},{"comparison_operator":"eq","evaluation_periods":1,"exclude_outliers":false,"meter_name":"b","period":60,"query":[],"statistic":"avg","threshold":3,"type":"threshold"}]}]}`},
	}
	for _, c := range cases {
		t.Run(c.typ, func(t *testing.T) {
			r := mustParse(t, c.typ, c.in)
			require.Equal(t, c.typ, r.Type())
			got, err := json.Marshal(r)
			require.NoError(t, err)
			require.JSONEq(t, c.want, string(got))
			// The normalized form parses to itself.
			again := mustParse(t, c.typ, string(got))
			got2, err := json.Marshal(again)
			require.NoError(t, err)
			require.JSONEq(t, string(got), string(got2))
		})
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat(`{"and":[`, 100) + `{"type":"threshold","meter_name":"a","threshold":1}` + strings.Repeat(`]}`, 100)
	var many []string
	for range MaxCompositeRules + 1 {
		many = append(many, `{"type":"threshold","meter_name":"a","threshold":1}`)
	}
	cases := []struct{ typ, in, field, msg string }{
		{"bogus", `{}`, "type", "should be one of"},
		{"", `{}`, "type", "should be one of"},
		{TypeThreshold, `{"meter_name":"cpu","threshold":1,"comparison_operator":"gtx"}`, "threshold_rule.comparison_operator", "lt, le, eq, ne, ge, gt"},
		{TypeThreshold, `{"threshold":1}`, "threshold_rule.meter_name", "mandatory"},
		{TypeThreshold, `{"meter_name":"cpu"}`, "threshold_rule.threshold", "mandatory"},
		{TypeThreshold, `{"meter_name":"cpu","threshold":"high"}`, "threshold_rule.threshold", "number"},
		{TypeThreshold, `{"meter_name":"cpu","threshold":1,"statistic":"median"}`, "threshold_rule.statistic", "one of"},
		{TypeThreshold, `{"meter_name":"cpu","threshold":1,"period":0}`, "threshold_rule.period", "between"},
		{TypeThreshold, `{"meter_name":"cpu","threshold":1,"period":1.5}`, "threshold_rule.period", "integer"},
		{TypeThreshold, `{"meter_name":"cpu","threshold":1,"evaluation_periods":100000}`, "threshold_rule.evaluation_periods", "between"},
		{TypeThreshold, `{"meter_name":"cpu","threshold":1,"extra":1}`, "threshold_rule.extra", "unknown attribute"},
		{TypeThreshold, `{"meter_name":"cpu","threshold":1,"query":[{"field":"timestamp","op":"ge","value":"2020-01-01"}]}`, "threshold_rule.query[0].field", "timestamp"},
		{TypeThreshold, `{"meter_name":"cpu","threshold":1,"query":[{"field":"resource_id","op":"gt","value":"a"}]}`, "threshold_rule.query[0].op", "only eq"},
		{TypeThreshold, `{"meter_name":"cpu","threshold":1,"query":[{"field":"resource_id","op":"like","value":"a"}]}`, "threshold_rule.query[0].op", "one of"},
		{TypeThreshold, `{"meter_name":"cpu","threshold":1,"query":[{"field":"resource_metadata.x","value":"a","type":"integer"}]}`, "threshold_rule.query[0].value", "integer"},
		{TypeThreshold, `{"meter_name":"cpu","threshold":1,"query":[{"field":"counter_volume","value":"1"}]}`, "threshold_rule.query[0].field", "unknown field"},
		{TypeThreshold, `[1]`, "threshold_rule", "object"},
		{TypeThreshold, `null`, "threshold_rule", "mandatory"},
		{TypeThreshold, `{"meter_name":"` + strings.Repeat("x", 300) + `","threshold":1}`, "threshold_rule.meter_name", "at most"},
		{TypeGnocchiResources, `{"metric":"cpu","resource_id":"r","resource_type":"instance","aggregation_method":"median","threshold":1}`, "gnocchi_resources_threshold_rule.aggregation_method", "should be in"},
		{TypeGnocchiResources, `{"metric":"cpu","resource_type":"instance","aggregation_method":"mean","threshold":1}`, "gnocchi_resources_threshold_rule.resource_id", "mandatory"},
		{TypeGnocchiResources, `{"metric":"cpu","resource_id":"r","resource_type":"instance","aggregation_method":"mean","threshold":1,"granularity":-5}`, "gnocchi_resources_threshold_rule.granularity", "between"},
		{TypeGnocchiByMetrics, `{"metrics":[],"aggregation_method":"mean","threshold":1}`, "gnocchi_aggregation_by_metrics_threshold_rule.metrics", "1 to"},
		{TypeGnocchiByMetrics, `{"metrics":["not base64!"],"aggregation_method":"mean","threshold":1}`, "gnocchi_aggregation_by_metrics_threshold_rule.metrics[0]", "meter_id"},
		{TypeGnocchiByResources, `{"metric":"cpu","query":"{not json","resource_type":"instance","aggregation_method":"mean","threshold":1}`, "gnocchi_aggregation_by_resources_threshold_rule.query", "invalid JSON"},
		{TypeGnocchiByResources, `{"metric":"cpu","query":"{\"~\":{\"a\":1}}","resource_type":"instance","aggregation_method":"mean","threshold":1}`, "gnocchi_aggregation_by_resources_threshold_rule.query", "unknown search operator"},
		{TypeGnocchiByResources, `{"metric":"cpu","query":"` + strings.Repeat(`{\"not\":`, 20) + `{\"=\":{\"a\":1}}` + strings.Repeat(`}`, 20) + `","resource_type":"instance","aggregation_method":"mean","threshold":1}`, "gnocchi_aggregation_by_resources_threshold_rule.query", "deeper"},
		{TypeEvent, `{"query":[{"field":"traits.a b","value":"x"}]}`, "event_rule.query[0].field", "invalid"},
		{TypeEvent, `{"query":[{"field":"payload.x","value":"x"}]}`, "event_rule.query[0].field", "only traits"},
		{TypeEvent, `{"event_type":"[abc"}`, "event_rule.event_type", "glob"},
		{TypeEvent, `{"query":[{"field":"traits.n","value":"x","type":"integer"}]}`, "event_rule.query[0].value", "integer"},
		{TypePrometheus, `{"threshold":1}`, "prometheus_rule.query", "mandatory"},
		{TypeComposite, `{"xor":[{"type":"threshold","meter_name":"a","threshold":1}]}`, "composite_rule", `"and" or "or"`},
		{TypeComposite, `{"and":[{"meter_name":"a","threshold":1}]}`, "composite_rule.and[0].type", "type must be set"},
		{TypeComposite, `{"and":[{"type":"event"}]}`, "composite_rule.and[0].type", "unsupported sub-rule type"},
		{TypeComposite, `{"and":[{"type":"threshold","meter_name":"a","threshold":1},{"or":[{"type":"threshold","meter_name":"a","threshold":1,"comparison_operator":"bad"}]}]}`, "composite_rule.and[1].or[0].comparison_operator", "one of"},
		{TypeComposite, `{"and":{"type":"threshold"}}`, "composite_rule.and", "non-empty list"},
		{TypeComposite, `{"and":[]}`, "composite_rule.and", "non-empty list"},
		{TypeComposite, deep, "composite_rule", "deeper"},
		{TypeComposite, `{"and":[` + strings.Join(many, ",") + `]}`, "composite_rule.and[50]", "at most"},
		{TypeComposite, `"x"`, "composite_rule", "invalid input composite rule"},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			_, err := Parse(c.typ, json.RawMessage(c.in))
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "want a FieldError, got %v", err)
			require.Equal(t, c.field, fe.Field, "%v", err)
			require.Contains(t, fe.Msg, c.msg)
			require.True(t, strings.HasPrefix(err.Error(), c.field+": "))
		})
	}
}

func TestParseBoundsHugeInput(t *testing.T) {
	t.Parallel()
	big := `{"meter_name":"cpu","threshold":1,"query":[` + strings.Repeat(`{"field":"resource_id","value":"a"},`, 3000) + `{"field":"resource_id","value":"a"}]}`
	_, err := Parse(TypeThreshold, json.RawMessage(big))
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "threshold_rule", fe.Field)

	q := `{"meter_name":"cpu","threshold":1,"query":[` + strings.Repeat(`{"field":"resource_id","value":"a"},`, MaxQueryTerms) + `{"field":"resource_id","value":"a"}]}`
	_, err = Parse(TypeThreshold, json.RawMessage(q))
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "threshold_rule.query", fe.Field)
}

func TestMetricIDResolves(t *testing.T) {
	t.Parallel()
	r := mustParse(t, TypeGnocchiByMetrics, `{"metrics":["dm0tMStjcHU=","YStiK2MrZGlzaw=="],"aggregation_method":"mean","threshold":1}`).(*GnocchiByMetricsRule)
	require.Equal(t, []MetricRef{{ResourceID: "vm-1", Meter: "cpu"}, {ResourceID: "a+b+c", Meter: "disk"}}, r.Targets())
}

func TestCompositeDepthLimit(t *testing.T) {
	t.Parallel()
	leafQ := `{"type":"threshold","meter_name":"a","threshold":1,"query":[{"field":"resource_id","value":"x"}]}`
	nest := func(n int) string {
		return strings.Repeat(`{"or":[`, n) + leafQ + strings.Repeat(`]}`, n)
	}
	_, err := Parse(TypeComposite, json.RawMessage(nest(MaxCompositeDepth)))
	require.NoError(t, err)
	_, err = Parse(TypeComposite, json.RawMessage(nest(MaxCompositeDepth+1)))
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	require.Contains(t, fe.Msg, "deeper")
}
