package rule

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Rule types, as Aodh names them in an alarm's "type".
const (
	TypeThreshold            = "threshold"
	TypeGnocchiResources     = "gnocchi_resources_threshold"
	TypeGnocchiByMetrics     = "gnocchi_aggregation_by_metrics_threshold"
	TypeGnocchiByResources   = "gnocchi_aggregation_by_resources_threshold"
	TypeComposite            = "composite"
	TypeEvent                = "event"
	TypePrometheus           = "prometheus"
	defaultPeriod            = 60
	defaultEvaluationPeriods = 1
)

// Types lists the rule types Parse accepts, in the order /v2/capabilities
// may show them.
var Types = []string{TypeThreshold, TypeGnocchiResources, TypeGnocchiByMetrics, TypeGnocchiByResources, TypeComposite, TypeEvent, TypePrometheus}

// Rule is a validated alarm rule with Aodh's defaults filled in. MarshalJSON
// renders it as Aodh's API returns it under "<type>_rule".
type Rule interface {
	Type() string
	MarshalJSON() ([]byte, error)
}

// Parse validates raw, the "<type>_rule" object of an alarm of type
// alarmType, and returns the normalized rule. Errors are *FieldError naming
// the field as Aodh does ("threshold_rule.comparison_operator"); an unknown
// type is a FieldError on "type".
func Parse(alarmType string, raw json.RawMessage) (Rule, error) {
	return parse(alarmType, alarmType+"_rule", raw, 0)
}

func parse(typ, prefix string, raw json.RawMessage, depth int) (Rule, error) {
	switch typ {
	case TypeComposite:
		return parseComposite(prefix, raw)
	case TypeEvent:
		return parseEvent(prefix, raw)
	}
	o, err := decodeObject(prefix, raw)
	if err != nil {
		return nil, err
	}
	var r Rule
	switch typ {
	case TypeThreshold:
		r, err = parseThreshold(o)
	case TypeGnocchiResources:
		r, err = parseGnocchiResources(o)
	case TypeGnocchiByMetrics:
		r, err = parseGnocchiByMetrics(o)
	case TypeGnocchiByResources:
		r, err = parseGnocchiByResources(o)
	case TypePrometheus:
		r, err = parsePrometheus(o)
	default:
		return nil, fieldErr("type", "invalid value %q: value should be one of: %s", typ, strings.Join(Types, ", "))
	}
	if err != nil {
		return nil, err
	}
	if err := o.rest(); err != nil {
		return nil, err
	}
	return r, nil
}

// Query is one term of a threshold rule's query (Ceilometer's q) or of an
// event rule's query: field op value, value typed by Type when set.
type Query struct {
	Field string `json:"field"`
	Op    string `json:"op"`
	Type  string `json:"type,omitempty"`
	Value string `json:"value"`
}

var queryTypes = []string{"integer", "float", "string", "boolean", "datetime"}

func parseQueryList(field string, raw json.RawMessage) ([]Query, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fieldErr(field, "must be a list of {field, op, value, type}")
	}
	if len(items) > MaxQueryTerms {
		return nil, fieldErr(field, "at most %d terms", MaxQueryTerms)
	}
	out := make([]Query, 0, len(items))
	for i, it := range items {
		o, err := decodeObject(fmt.Sprintf("%s[%d]", field, i), it)
		if err != nil {
			return nil, err
		}
		var q Query
		if q.Field, err = o.str("field", true, ""); err != nil {
			return nil, err
		}
		if q.Op, err = o.enum("op", "eq", ComparisonOperators...); err != nil {
			return nil, err
		}
		if q.Type, err = o.str("type", false, ""); err != nil {
			return nil, err
		}
		v, ok := o.take("value")
		if !ok {
			return nil, fieldErr(o.name("value"), "mandatory field missing")
		}
		if q.Value, err = scalarString(v); err != nil {
			return nil, fieldErr(o.name("value"), "%v", err)
		}
		if len(q.Value) > MaxStringLen {
			return nil, fieldErr(o.name("value"), "must be at most %d bytes", MaxStringLen)
		}
		if q.Type != "" {
			if err := checkTyped(q.Value, q.Type); err != nil {
				return nil, fieldErr(o.name("value"), "%v", err)
			}
		}
		if err := o.rest(); err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

// scalarString accepts a JSON string, number or boolean as a query value
// (wsme turns them into text).
func scalarString(v json.RawMessage) (string, error) {
	var x any
	if err := json.Unmarshal(v, &x); err != nil {
		return "", fmt.Errorf("must be a string")
	}
	switch t := x.(type) {
	case string:
		return t, nil
	case float64:
		return strings.TrimSpace(string(v)), nil
	case bool:
		if t {
			return "True", nil
		}
		return "False", nil
	}
	return "", fmt.Errorf("must be a string")
}

// checkTyped reports whether value converts to typ (Aodh's Query types).
func checkTyped(value, typ string) error {
	switch typ {
	case "string":
		return nil
	case "integer":
		if _, err := parseInt(value); err != nil {
			return fmt.Errorf("unable to convert %q to integer", value)
		}
	case "float":
		if _, err := parseFloat(value); err != nil {
			return fmt.Errorf("unable to convert %q to float", value)
		}
	case "boolean":
		if _, err := parseBool(value); err != nil {
			return fmt.Errorf("unable to convert %q to boolean", value)
		}
	case "datetime":
		if _, err := parseTime(value); err != nil {
			return fmt.Errorf("unable to convert %q to datetime", value)
		}
	default:
		return fmt.Errorf("the data type %s is not supported; the supported data type list is: %s", typ, strings.Join(queryTypes, ", "))
	}
	return nil
}

// ThresholdRule is the Ceilometer-API rule ("threshold_rule"): a statistic
// of a meter over periods, compared with a threshold.
type ThresholdRule struct {
	MeterName          string  `json:"meter_name"`
	Query              []Query `json:"query"`
	Period             int     `json:"period"`
	ComparisonOperator string  `json:"comparison_operator"`
	Threshold          float64 `json:"threshold"`
	Statistic          string  `json:"statistic"`
	EvaluationPeriods  int     `json:"evaluation_periods"`
	ExcludeOutliers    bool    `json:"exclude_outliers"`
}

// Statistics a threshold rule may compare.
var Statistics = []string{"max", "min", "avg", "sum", "count"}

// Type implements Rule.
func (r *ThresholdRule) Type() string { return TypeThreshold }

// MarshalJSON implements Rule.
func (r *ThresholdRule) MarshalJSON() ([]byte, error) {
	type plain ThresholdRule
	p := plain(*r)
	if p.Query == nil {
		p.Query = []Query{}
	}
	return json.Marshal(p)
}

var metadataField = regexp.MustCompile(`^(resource_metadata|metadata)\.[A-Za-z0-9_.:-]{1,200}$`)

func parseThreshold(o *object) (*ThresholdRule, error) {
	r := &ThresholdRule{}
	var err error
	if r.MeterName, err = o.str("meter_name", true, ""); err != nil {
		return nil, err
	}
	if v, ok := o.take("query"); ok {
		if r.Query, err = parseQueryList(o.name("query"), v); err != nil {
			return nil, err
		}
	}
	for i, q := range r.Query {
		f := fmt.Sprintf("%s[%d]", o.name("query"), i)
		switch {
		case q.Field == "timestamp":
			return nil, fieldErr(f+".field", "timestamp is not allowed in an alarm's query: the evaluator bounds the window itself")
		case q.Field == "resource_id" || q.Field == "project_id" || q.Field == "user_id" || q.Field == "source" || metadataField.MatchString(q.Field):
		default:
			return nil, fieldErr(f+".field", "unknown field %q (want resource_id, project_id, user_id, source or resource_metadata.<key>)", q.Field)
		}
		if q.Op != "eq" {
			return nil, fieldErr(f+".op", "operator %s is not supported: only eq filters statistics", q.Op)
		}
	}
	if r.Period, err = o.integer("period", defaultPeriod, 1, MaxPeriod); err != nil {
		return nil, err
	}
	if r.ComparisonOperator, err = o.enum("comparison_operator", "eq", ComparisonOperators...); err != nil {
		return nil, err
	}
	if r.Threshold, err = o.number("threshold", true, 0); err != nil {
		return nil, err
	}
	if r.Statistic, err = o.enum("statistic", "avg", Statistics...); err != nil {
		return nil, err
	}
	if r.EvaluationPeriods, err = o.integer("evaluation_periods", defaultEvaluationPeriods, 1, MaxEvaluationPeriods); err != nil {
		return nil, err
	}
	if r.ExcludeOutliers, err = o.boolean("exclude_outliers", false); err != nil {
		return nil, err
	}
	return r, nil
}

// AggregationMethods are the gnocchi rules' aggregation_method values the
// store's statistics answer, with the store aggregate each maps to.
var AggregationMethods = map[string]string{
	"mean": "avg", "min": "min", "max": "max", "sum": "sum", "count": "count", "std": "stddev",
}

var aggregationNames = []string{"count", "max", "mean", "min", "std", "sum"}

// GnocchiThreshold is what the three gnocchi rules share.
type GnocchiThreshold struct {
	ComparisonOperator string  `json:"comparison_operator"`
	Threshold          float64 `json:"threshold"`
	AggregationMethod  string  `json:"aggregation_method"`
	EvaluationPeriods  int     `json:"evaluation_periods"`
	// Granularity in seconds; it must match an archive of the meter's
	// policy (Check verifies that against a Source).
	Granularity int `json:"granularity"`
}

func parseGnocchiThreshold(o *object) (GnocchiThreshold, error) {
	var g GnocchiThreshold
	var err error
	if g.ComparisonOperator, err = o.enum("comparison_operator", "eq", ComparisonOperators...); err != nil {
		return g, err
	}
	if g.Threshold, err = o.number("threshold", true, 0); err != nil {
		return g, err
	}
	if g.AggregationMethod, err = o.str("aggregation_method", true, ""); err != nil {
		return g, err
	}
	if _, ok := AggregationMethods[g.AggregationMethod]; !ok {
		return g, fieldErr(o.name("aggregation_method"), "aggregation_method should be in [%s] not %s", strings.Join(aggregationNames, ", "), g.AggregationMethod)
	}
	if g.EvaluationPeriods, err = o.integer("evaluation_periods", defaultEvaluationPeriods, 1, MaxEvaluationPeriods); err != nil {
		return g, err
	}
	if g.Granularity, err = o.integer("granularity", defaultPeriod, 1, MaxPeriod); err != nil {
		return g, err
	}
	return g, nil
}

// GnocchiResourcesRule watches one metric (meter) of one resource.
type GnocchiResourcesRule struct {
	GnocchiThreshold
	Metric       string `json:"metric"`
	ResourceID   string `json:"resource_id"`
	ResourceType string `json:"resource_type"`
}

// Type implements Rule.
func (r *GnocchiResourcesRule) Type() string { return TypeGnocchiResources }

// MarshalJSON implements Rule.
func (r *GnocchiResourcesRule) MarshalJSON() ([]byte, error) {
	type plain GnocchiResourcesRule
	return json.Marshal((*plain)(r))
}

func parseGnocchiResources(o *object) (*GnocchiResourcesRule, error) {
	g, err := parseGnocchiThreshold(o)
	if err != nil {
		return nil, err
	}
	r := &GnocchiResourcesRule{GnocchiThreshold: g}
	if r.Metric, err = o.str("metric", true, ""); err != nil {
		return nil, err
	}
	if r.ResourceID, err = o.str("resource_id", true, ""); err != nil {
		return nil, err
	}
	if r.ResourceType, err = o.str("resource_type", true, ""); err != nil {
		return nil, err
	}
	return r, nil
}

// GnocchiByMetricsRule aggregates several metrics. A metric id is the
// meter_id /v2/meters lists (base64 of "<resource_id>+<meter>").
type GnocchiByMetricsRule struct {
	GnocchiThreshold
	Metrics []string `json:"metrics"`
	targets []MetricRef
}

// MetricRef is a metric id resolved to the store's terms.
type MetricRef struct {
	ResourceID, Meter string
}

// Targets returns the (resource, meter) of each metric, in order.
func (r *GnocchiByMetricsRule) Targets() []MetricRef { return r.targets }

// Type implements Rule.
func (r *GnocchiByMetricsRule) Type() string { return TypeGnocchiByMetrics }

// MarshalJSON implements Rule.
func (r *GnocchiByMetricsRule) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		GnocchiThreshold
		Metrics []string `json:"metrics"`
	}{r.GnocchiThreshold, r.Metrics})
}

// ParseMetricID resolves a meter_id into its resource and meter.
func ParseMetricID(id string) (MetricRef, error) {
	b, err := base64.StdEncoding.DecodeString(id)
	if err != nil {
		return MetricRef{}, fmt.Errorf("%q is not a meter_id (base64 of <resource_id>+<meter>, as /v2/meters lists it)", id)
	}
	s := string(b)
	i := strings.LastIndexByte(s, '+')
	if i <= 0 || i == len(s)-1 {
		return MetricRef{}, fmt.Errorf("%q is not a meter_id (base64 of <resource_id>+<meter>, as /v2/meters lists it)", id)
	}
	return MetricRef{ResourceID: s[:i], Meter: s[i+1:]}, nil
}

func parseGnocchiByMetrics(o *object) (*GnocchiByMetricsRule, error) {
	g, err := parseGnocchiThreshold(o)
	if err != nil {
		return nil, err
	}
	r := &GnocchiByMetricsRule{GnocchiThreshold: g}
	v, ok := o.take("metrics")
	if !ok {
		return nil, fieldErr(o.name("metrics"), "mandatory field missing")
	}
	if err := json.Unmarshal(v, &r.Metrics); err != nil {
		return nil, fieldErr(o.name("metrics"), "must be a list of metric ids")
	}
	if len(r.Metrics) == 0 || len(r.Metrics) > MaxMetrics {
		return nil, fieldErr(o.name("metrics"), "must hold 1 to %d metric ids", MaxMetrics)
	}
	for i, m := range r.Metrics {
		ref, err := ParseMetricID(m)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("%s[%d]", o.name("metrics"), i), "%v", err)
		}
		r.targets = append(r.targets, ref)
	}
	return r, nil
}

// GnocchiByResourcesRule aggregates one metric (meter) across the resources
// a Gnocchi search selects.
type GnocchiByResourcesRule struct {
	GnocchiThreshold
	Metric       string `json:"metric"`
	Query        string `json:"query"`
	ResourceType string `json:"resource_type"`
	search       *Search
}

// Search returns the parsed query.
func (r *GnocchiByResourcesRule) Search() *Search { return r.search }

// Type implements Rule.
func (r *GnocchiByResourcesRule) Type() string { return TypeGnocchiByResources }

// MarshalJSON implements Rule.
func (r *GnocchiByResourcesRule) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		GnocchiThreshold
		Metric       string `json:"metric"`
		Query        string `json:"query"`
		ResourceType string `json:"resource_type"`
	}{r.GnocchiThreshold, r.Metric, r.Query, r.ResourceType})
}

func parseGnocchiByResources(o *object) (*GnocchiByResourcesRule, error) {
	g, err := parseGnocchiThreshold(o)
	if err != nil {
		return nil, err
	}
	r := &GnocchiByResourcesRule{GnocchiThreshold: g}
	if r.Metric, err = o.str("metric", true, ""); err != nil {
		return nil, err
	}
	if r.ResourceType, err = o.str("resource_type", true, ""); err != nil {
		return nil, err
	}
	v, ok := o.take("query")
	if !ok {
		return nil, fieldErr(o.name("query"), "mandatory field missing")
	}
	// Aodh's query is a JSON string holding the search; accept the object
	// itself too and keep the string form.
	var s string
	if json.Unmarshal(v, &s) != nil {
		s = string(v)
	}
	if len(s) > MaxSearchBytes {
		return nil, fieldErr(o.name("query"), "must be at most %d bytes", MaxSearchBytes)
	}
	if r.search, err = ParseSearch([]byte(s)); err != nil {
		return nil, fieldErr(o.name("query"), "%v", err)
	}
	r.Query = s
	return r, nil
}

// PrometheusRule compares the values of a PromQL query with a threshold.
type PrometheusRule struct {
	Query              string  `json:"query"`
	ComparisonOperator string  `json:"comparison_operator"`
	Threshold          float64 `json:"threshold"`
}

// MaxPromQLLen bounds a prometheus rule's query.
const MaxPromQLLen = 4096

// Type implements Rule.
func (r *PrometheusRule) Type() string { return TypePrometheus }

// MarshalJSON implements Rule.
func (r *PrometheusRule) MarshalJSON() ([]byte, error) {
	type plain PrometheusRule
	return json.Marshal((*plain)(r))
}

func parsePrometheus(o *object) (*PrometheusRule, error) {
	r := &PrometheusRule{}
	v, ok := o.take("query")
	if !ok {
		return nil, fieldErr(o.name("query"), "mandatory field missing")
	}
	if err := json.Unmarshal(v, &r.Query); err != nil || strings.TrimSpace(r.Query) == "" {
		return nil, fieldErr(o.name("query"), "must be a non-empty PromQL string")
	}
	if len(r.Query) > MaxPromQLLen {
		return nil, fieldErr(o.name("query"), "must be at most %d bytes", MaxPromQLLen)
	}
	var err error
	if r.ComparisonOperator, err = o.enum("comparison_operator", "eq", ComparisonOperators...); err != nil {
		return nil, err
	}
	if r.Threshold, err = o.number("threshold", true, 0); err != nil {
		return nil, err
	}
	return r, nil
}
