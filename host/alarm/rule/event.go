package rule

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"regexp"
	"strings"
	"time"
)

// EventRule fires an alarm when an event of a matching type whose traits
// satisfy every query term arrives. It is not polled.
type EventRule struct {
	// EventType is an fnmatch glob; "*" by default.
	EventType string  `json:"event_type"`
	Query     []Query `json:"query"`
}

// Type implements Rule.
func (r *EventRule) Type() string { return TypeEvent }

// MarshalJSON implements Rule.
func (r *EventRule) MarshalJSON() ([]byte, error) {
	type plain EventRule
	p := plain(*r)
	if p.Query == nil {
		p.Query = []Query{}
	}
	return json.Marshal(p)
}

var eventField = regexp.MustCompile(`^[a-zA-Z.',0-9_-]*$`)

func parseEvent(prefix string, raw json.RawMessage) (*EventRule, error) {
	o, err := decodeObject(prefix, raw)
	if err != nil {
		return nil, err
	}
	r := &EventRule{}
	if r.EventType, err = o.str("event_type", false, "*"); err != nil {
		return nil, err
	}
	if r.EventType == "" {
		r.EventType = "*"
	}
	if _, err := path.Match(r.EventType, ""); err != nil {
		return nil, fieldErr(o.name("event_type"), "bad glob pattern %q", r.EventType)
	}
	if v, ok := o.take("query"); ok {
		if r.Query, err = parseQueryList(o.name("query"), v); err != nil {
			return nil, err
		}
	}
	for i, q := range r.Query {
		f := fmt.Sprintf("%s[%d]", o.name("query"), i)
		if !eventField.MatchString(q.Field) {
			return nil, fieldErr(f+".field", "query value or traits invalid: field %q does not match %s", q.Field, eventField)
		}
		if q.Field != "event_type" && !strings.HasPrefix(q.Field, "traits.") {
			return nil, fieldErr(f+".field", "only traits.<name> and event_type can be queried, not %q", q.Field)
		}
		switch q.Type {
		case "", "string", "integer", "float", "boolean", "datetime":
		default:
			return nil, fieldErr(f+".type", "query value or traits invalid: type %q not in string, integer, float, boolean, datetime", q.Type)
		}
	}
	if err := o.rest(); err != nil {
		return nil, err
	}
	return r, nil
}

// Matches reports whether an event of eventType with traits fires the
// rule, as Aodh's event evaluator decides: the event type matches the glob
// and every query term holds (terms are ANDed). A traits.<name> term
// compares the trait, converted to the term's type (string by default);
// a missing trait or one of another kind satisfies only "ne". Trait values
// may be string, bool, any Go integer or float type, or time.Time.
func (r *EventRule) Matches(eventType string, traits map[string]any) bool {
	if !globMatch(r.EventType, eventType) {
		return false
	}
	for i := range r.Query {
		q := &r.Query[i]
		var have any
		present := true
		if q.Field == "event_type" {
			have = eventType
		} else {
			have, present = traits[strings.TrimPrefix(q.Field, "traits.")]
		}
		c, ok := compareTrait(have, present, q)
		if q.Op == "ne" {
			if ok && c == 0 {
				return false
			}
			continue
		}
		if !ok {
			return false
		}
		switch q.Op {
		case "eq":
			ok = c == 0
		case "lt":
			ok = c < 0
		case "le":
			ok = c <= 0
		case "gt":
			ok = c > 0
		case "ge":
			ok = c >= 0
		}
		if !ok {
			return false
		}
	}
	return true
}

// compareTrait compares a trait with the term's value converted to the
// term's type; ok is false when the two cannot be compared (Python would
// find them unequal, or raise for an ordering).
func compareTrait(have any, present bool, q *Query) (int, bool) {
	if !present || have == nil {
		return 0, false
	}
	switch q.Type {
	case "integer", "float":
		want, err := parseFloat(q.Value)
		if err != nil {
			return 0, false
		}
		h, ok := toFloat(have)
		if !ok || math.IsNaN(h) || math.IsNaN(want) {
			return 0, false // Python: no comparison with NaN holds but !=
		}
		return cmp.Compare(h, want), true
	case "boolean":
		want, err := parseBool(q.Value)
		h, ok := have.(bool)
		if err != nil || !ok {
			return 0, false
		}
		if h == want {
			return 0, true
		}
		if !h {
			return -1, true
		}
		return 1, true
	case "datetime":
		want, err := parseTime(q.Value)
		if err != nil {
			return 0, false
		}
		var h time.Time
		switch t := have.(type) {
		case time.Time:
			h = t
		case string:
			if h, err = parseTime(t); err != nil {
				return 0, false
			}
		default:
			return 0, false
		}
		return h.Compare(want), true
	}
	h, ok := have.(string)
	if !ok {
		return 0, false
	}
	return strings.Compare(h, q.Value), true
}

func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case int:
		return float64(t), true
	case int32:
		return float64(t), true
	case int64:
		return float64(t), true
	case uint32:
		return float64(t), true
	case uint64:
		return float64(t), true
	case float32:
		return float64(t), true
	case float64:
		return t, true
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	}
	return 0, false
}
