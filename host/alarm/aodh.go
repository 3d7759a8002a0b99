package alarm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// TimeFormat is how the API writes times, as Aodh (isoformat, UTC, no
// zone).
const TimeFormat = "2006-01-02T15:04:05.000000"

// MaxBodyBytes bounds an alarm's JSON body.
const MaxBodyBytes = 256 << 10

// Body is an alarm as a client posts or puts it (Aodh's JSON): every
// field optional, the rule under "<type>_rule". Read-only fields
// (alarm_id, timestamp, state_timestamp) are accepted and ignored, so what
// GET returned can be put back.
type Body struct {
	Name                    *string
	Description             *string
	Type                    *string
	Enabled                 *bool
	Severity                *string
	RepeatActions           *bool
	AlarmActions            []string
	OKActions               []string
	InsufficientDataActions []string
	TimeConstraints         json.RawMessage
	State                   *string
	StateReason             *string
	ProjectID               *string
	UserID                  *string
	// Rules are the "<type>_rule" members that are not null, by type.
	Rules map[string]json.RawMessage
}

var readOnly = []string{"alarm_id", "timestamp", "state_timestamp"}

// DecodeBody parses an Aodh alarm body. Errors name the field.
func DecodeBody(b []byte) (*Body, error) {
	if len(b) > MaxBodyBytes {
		return nil, fieldErr("data", "", fmt.Sprintf("The body is over %d bytes.", MaxBodyBytes))
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return nil, fieldErr("data", "", "The body is not a JSON object: "+err.Error())
	}
	if dec.More() {
		return nil, fieldErr("data", "", "Trailing data after the JSON object.")
	}
	if raw == nil {
		return nil, fieldErr("data", "", "The body is not a JSON object.")
	}
	out := &Body{Rules: map[string]json.RawMessage{}}
	for _, k := range sortedKeys(raw) {
		v := raw[k]
		null := bytes.Equal(bytes.TrimSpace(v), []byte("null"))
		var err error
		switch k {
		case "name":
			out.Name, err = optString(k, v, null)
		case "description":
			out.Description, err = optString(k, v, null)
		case "type":
			out.Type, err = optString(k, v, null)
		case "severity":
			out.Severity, err = optString(k, v, null)
		case "state":
			out.State, err = optString(k, v, null)
		case "state_reason":
			out.StateReason, err = optString(k, v, null)
		case "project_id":
			out.ProjectID, err = optString(k, v, null)
		case "user_id":
			out.UserID, err = optString(k, v, null)
		case "enabled":
			out.Enabled, err = optBool(k, v, null)
		case "repeat_actions":
			out.RepeatActions, err = optBool(k, v, null)
		case "alarm_actions":
			out.AlarmActions, err = actionList(k, v, null)
		case "ok_actions":
			out.OKActions, err = actionList(k, v, null)
		case "insufficient_data_actions":
			out.InsufficientDataActions, err = actionList(k, v, null)
		case "time_constraints":
			if !null {
				out.TimeConstraints = v
			}
		default:
			switch {
			case slices.Contains(readOnly, k):
			case strings.HasSuffix(k, "_rule") && len(k) > len("_rule"):
				if !null {
					out.Rules[strings.TrimSuffix(k, "_rule")] = v
				}
			default:
				return nil, fieldErr(truncate(k), "", "Unknown attribute.")
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func optString(field string, v json.RawMessage, null bool) (*string, error) {
	if null {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fieldErr(field, truncate(string(v)), "Wrong type. Expected 'str'.")
	}
	return &s, nil
}

func optBool(field string, v json.RawMessage, null bool) (*bool, error) {
	if null {
		return nil, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		// WSME takes "true"/"false" strings for booleans too.
		var s string
		if json.Unmarshal(v, &s) == nil && (s == "true" || s == "false" || s == "True" || s == "False") {
			b = strings.EqualFold(s, "true")
			return &b, nil
		}
		return nil, fieldErr(field, truncate(string(v)), "Wrong type. Expected 'bool'.")
	}
	return &b, nil
}

func actionList(field string, v json.RawMessage, null bool) ([]string, error) {
	if null {
		return []string{}, nil
	}
	var l []string
	if err := json.Unmarshal(v, &l); err != nil {
		return nil, fieldErr(field, truncate(string(v)), "Wrong type. Expected '[str]'.")
	}
	if l == nil {
		l = []string{}
	}
	return l, nil
}

// Render is an alarm in Aodh's JSON shape.
func Render(a *Alarm) map[string]any {
	m := map[string]any{
		"alarm_id":                  a.ID,
		"name":                      a.Name,
		"description":               a.Description,
		"type":                      a.Type,
		"enabled":                   a.Enabled,
		"severity":                  a.Severity,
		"repeat_actions":            a.RepeatActions,
		"alarm_actions":             nonNil(a.AlarmActions),
		"ok_actions":                nonNil(a.OKActions),
		"insufficient_data_actions": nonNil(a.InsufficientDataActions),
		"time_constraints":          renderConstraints(a.TimeConstraints),
		"state":                     a.State,
		"state_reason":              a.StateReason,
		"state_timestamp":           FormatTime(a.StateTimestamp),
		"timestamp":                 FormatTime(a.Timestamp),
		"project_id":                a.ProjectID,
		"user_id":                   a.UserID,
	}
	rule := json.RawMessage("{}")
	if len(a.Rule) > 0 {
		rule = a.Rule
	}
	m[a.Type+"_rule"] = rule
	return m
}

func renderConstraints(tcs []TimeConstraint) []TimeConstraint {
	if tcs == nil {
		return []TimeConstraint{}
	}
	return tcs
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// FormatTime writes t as Aodh does.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// RenderChange is a history entry in Aodh's JSON shape.
func RenderChange(c *Change) map[string]any {
	return map[string]any{
		"event_id":     c.EventID,
		"alarm_id":     c.AlarmID,
		"type":         c.Type,
		"detail":       c.Detail,
		"user_id":      c.UserID,
		"project_id":   c.ProjectID,
		"on_behalf_of": c.OnBehalfOf,
		"severity":     c.Severity,
		"timestamp":    FormatTime(c.Timestamp),
	}
}

// SortAlarms orders alarms by Aodh sort keys ("name:asc", "timestamp",
// ...). The default is by timestamp, newest first, then id.
func SortAlarms(as []Alarm, keys []SortKey) {
	sort.SliceStable(as, func(i, j int) bool {
		for _, k := range keys {
			c := compareField(alarmField(&as[i], k.Field), alarmField(&as[j], k.Field))
			if c != 0 {
				return (c < 0) != k.Desc
			}
		}
		return as[i].ID < as[j].ID
	})
}

// SortKey is one sort key: a field and its direction.
type SortKey struct {
	Field string
	Desc  bool
}

// AlarmFields are the fields a query, filter or sort may name.
var AlarmFields = []string{
	"alarm_id", "name", "description", "type", "enabled", "severity", "repeat_actions", "state",
	"state_reason", "state_timestamp", "timestamp", "project_id", "user_id",
}

// AlarmField returns the value of field of a ("" , false for a field that
// is not in AlarmFields): a string, bool or time.Time.
func AlarmField(a *Alarm, field string) (any, bool) {
	if !slices.Contains(AlarmFields, field) {
		return nil, false
	}
	return alarmField(a, field), true
}

func alarmField(a *Alarm, field string) any {
	switch field {
	case "alarm_id":
		return a.ID
	case "name":
		return a.Name
	case "description":
		return a.Description
	case "type":
		return a.Type
	case "enabled":
		return a.Enabled
	case "severity":
		return a.Severity
	case "repeat_actions":
		return a.RepeatActions
	case "state":
		return a.State
	case "state_reason":
		return a.StateReason
	case "state_timestamp":
		return a.StateTimestamp
	case "timestamp":
		return a.Timestamp
	case "project_id":
		return a.ProjectID
	case "user_id":
		return a.UserID
	}
	return nil
}

// ChangeFields are the history fields a query or sort may name.
var ChangeFields = []string{"event_id", "alarm_id", "type", "detail", "user_id", "project_id", "on_behalf_of", "severity", "timestamp"}

// ChangeField returns the value of field of c.
func ChangeField(c *Change, field string) (any, bool) {
	switch field {
	case "event_id":
		return c.EventID, true
	case "alarm_id":
		return c.AlarmID, true
	case "type":
		return c.Type, true
	case "detail":
		return c.Detail, true
	case "user_id":
		return c.UserID, true
	case "project_id":
		return c.ProjectID, true
	case "on_behalf_of":
		return c.OnBehalfOf, true
	case "severity":
		return c.Severity, true
	case "timestamp":
		return c.Timestamp, true
	}
	return nil, false
}

// SortChanges orders history entries by keys; the default is newest
// first, as Aodh.
func SortChanges(cs []Change, keys []SortKey) {
	if len(keys) == 0 {
		keys = []SortKey{{Field: "timestamp", Desc: true}}
	}
	sort.SliceStable(cs, func(i, j int) bool {
		for _, k := range keys {
			a, _ := ChangeField(&cs[i], k.Field)
			b, _ := ChangeField(&cs[j], k.Field)
			if c := compareField(a, b); c != 0 {
				return (c < 0) != k.Desc
			}
		}
		return cs[i].EventID < cs[j].EventID
	})
}

// compareField orders two values of one field.
func compareField(a, b any) int {
	switch x := a.(type) {
	case string:
		return strings.Compare(x, b.(string))
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case time.Time:
		return x.Compare(b.(time.Time))
	}
	return 0
}

// ParseSort reads Aodh's sort parameters ("field:asc|desc", repeated).
func ParseSort(params []string, fields []string) ([]SortKey, error) {
	if len(params) > len(fields) {
		return nil, fieldErr("sort", "", fmt.Sprintf("At most %d sort keys.", len(fields)))
	}
	var out []SortKey
	for _, p := range params {
		f, dir, _ := strings.Cut(p, ":")
		if !slices.Contains(fields, f) {
			return nil, fieldErr("sort", truncate(p), "Unknown sort key; one of "+strings.Join(fields, ", ")+".")
		}
		switch dir {
		case "", "asc":
			out = append(out, SortKey{Field: f})
		case "desc":
			out = append(out, SortKey{Field: f, Desc: true})
		default:
			return nil, fieldErr("sort", truncate(p), "Sort direction must be asc or desc.")
		}
	}
	return out, nil
}
