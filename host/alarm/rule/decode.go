package rule

import (
	"bytes"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Bounds on what a rule may hold. Aodh has none; these keep one alarm's
// definition and evaluation cost small.
const (
	// MaxRuleBytes is the largest JSON a rule (with its sub-rules) may be.
	MaxRuleBytes = 64 << 10
	// MaxQueryTerms bounds a threshold or event rule's query list.
	MaxQueryTerms = 50
	// MaxMetrics bounds gnocchi_aggregation_by_metrics_threshold's metrics.
	MaxMetrics = 50
	// MaxCompositeDepth is how deeply and/or may nest in a composite rule.
	MaxCompositeDepth = 10
	// MaxCompositeRules bounds the leaf rules of one composite rule.
	MaxCompositeRules = 50
	// MaxEvaluationPeriods bounds evaluation_periods.
	MaxEvaluationPeriods = 1440
	// MaxPeriod bounds period and granularity (seconds): 31 days.
	MaxPeriod = 31 * 24 * 3600
	// MaxStringLen bounds names, meter names, ids and query values.
	MaxStringLen = 255
	// MaxSearchBytes bounds a Gnocchi search (the by-resources query).
	MaxSearchBytes = 8 << 10
	// MaxTimeConstraints bounds an alarm's time_constraints.
	MaxTimeConstraints = 20
)

// object is a JSON object being decoded field by field; whatever is left at
// the end is an unknown attribute, as wsme rejects it.
type object struct {
	prefix string
	m      map[string]json.RawMessage
}

func decodeObject(prefix string, raw json.RawMessage) (*object, error) {
	if len(raw) > MaxRuleBytes {
		return nil, fieldErr(prefix, "must be at most %d bytes of JSON", MaxRuleBytes)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, fieldErr(prefix, "mandatory field missing")
	}
	if raw[0] != '{' {
		return nil, fieldErr(prefix, "must be a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fieldErr(prefix, "invalid JSON: %v", err)
	}
	return &object{prefix: prefix, m: m}, nil
}

func (o *object) name(k string) string {
	if o.prefix == "" {
		return k
	}
	return o.prefix + "." + k
}

// take removes and returns key k; ok is false when absent or null.
func (o *object) take(k string) (json.RawMessage, bool) {
	v, ok := o.m[k]
	delete(o.m, k)
	if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return nil, false
	}
	return v, true
}

// rest reports the first unknown attribute left (in name order).
func (o *object) rest() error {
	if len(o.m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(o.m))
	for k := range o.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return fieldErr(o.name(keys[0]), "unknown attribute")
}

func (o *object) str(k string, mandatory bool, def string) (string, error) {
	v, ok := o.take(k)
	if !ok {
		if mandatory {
			return "", fieldErr(o.name(k), "mandatory field missing")
		}
		return def, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fieldErr(o.name(k), "must be a string")
	}
	if len(s) > MaxStringLen {
		return "", fieldErr(o.name(k), "must be at most %d bytes", MaxStringLen)
	}
	if mandatory && s == "" {
		return "", fieldErr(o.name(k), "must not be empty")
	}
	return s, nil
}

// number accepts a JSON number or a numeric string (clients send both).
func (o *object) number(k string, mandatory bool, def float64) (float64, error) {
	v, ok := o.take(k)
	if !ok {
		if mandatory {
			return 0, fieldErr(o.name(k), "mandatory field missing")
		}
		return def, nil
	}
	f, err := parseNumber(v)
	if err != nil {
		return 0, fieldErr(o.name(k), "%v", err)
	}
	return f, nil
}

func parseNumber(v json.RawMessage) (float64, error) {
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return 0, errNotNumber
		}
		if f, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return 0, errNotNumber
		}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errNotNumber
	}
	return f, nil
}

type constErr string

func (e constErr) Error() string { return string(e) }

const errNotNumber = constErr("must be a number")

// integer is a whole number in [lo, hi].
func (o *object) integer(k string, def, lo, hi int) (int, error) {
	f, err := o.number(k, false, float64(def))
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) {
		return 0, fieldErr(o.name(k), "must be an integer")
	}
	if f < float64(lo) || f > float64(hi) {
		return 0, fieldErr(o.name(k), "must be between %d and %d", lo, hi)
	}
	return int(f), nil
}

func (o *object) boolean(k string, def bool) (bool, error) {
	v, ok := o.take(k)
	if !ok {
		return def, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if b, err := strconv.ParseBool(strings.ToLower(s)); err == nil {
			return b, nil
		}
	}
	return false, fieldErr(o.name(k), "must be a boolean")
}

// enum returns the value of k, which must be one of allowed (def if absent).
func (o *object) enum(k, def string, allowed ...string) (string, error) {
	s, err := o.str(k, false, def)
	if err != nil {
		return "", err
	}
	if s == "" {
		s = def
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", fieldErr(o.name(k), "invalid value %q: value should be one of: %s", s, strings.Join(allowed, ", "))
}

// ComparisonOperators are Aodh's comparison_operator values.
var ComparisonOperators = []string{"lt", "le", "eq", "ne", "ge", "gt"}

// compare applies an Aodh comparison operator.
func compare(op string, v, limit float64) bool {
	switch op {
	case "lt":
		return v < limit
	case "le":
		return v <= limit
	case "eq":
		return v == limit
	case "ne":
		return v != limit
	case "ge":
		return v >= limit
	case "gt":
		return v > limit
	}
	return false
}
