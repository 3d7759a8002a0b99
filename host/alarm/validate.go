package alarm

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Checker validates what this package cannot judge alone: rules (by
// type, returning the rule's canonical JSON), time constraints' cron and
// timezone, and action URLs. Errors should be *FieldError (or wrap
// ErrInvalid) so the API answers 400 naming the field. The agent adapts
// host/alarm/rule and host/alarm/action to it.
type Checker interface {
	ParseRule(alarmType string, raw json.RawMessage) (json.RawMessage, error)
	CheckTimeConstraints(raw json.RawMessage) error
	CheckAction(url string) error
}

// Caller is who asks: the token's project (empty for an admin without
// one), whether it is an admin, and a user id for the records.
type Caller struct {
	Project string
	Admin   bool
	User    string
}

// Sees reports whether the caller may see an alarm of project.
func (c Caller) Sees(project string) bool { return c.Admin || c.Project == project }

// build turns a body into a validated alarm. base is the stored alarm for
// an update (nil on create): a PUT replaces the definition, with Aodh's
// defaults for what it leaves out, and keeps id, project and user.
func build(chk Checker, who Caller, b *Body, base *Alarm) (Alarm, error) {
	var a Alarm
	if base != nil {
		a.ID, a.ProjectID, a.UserID = base.ID, base.ProjectID, base.UserID
		a.State, a.StateReason = base.State, base.StateReason
	}
	if b.Name == nil || *b.Name == "" {
		if base == nil || b.Name != nil {
			return a, fieldErr("name", "", "Mandatory field missing.")
		}
		a.Name = base.Name
	} else {
		a.Name = *b.Name
	}
	if err := checkText("name", a.Name, MaxNameLen); err != nil {
		return a, err
	}
	if b.Type == nil || *b.Type == "" {
		if base == nil {
			return a, fieldErr("type", "", "Mandatory field missing.")
		}
		a.Type = base.Type
	} else {
		a.Type = *b.Type
	}
	if err := checkText("type", a.Type, 64); err != nil {
		return a, err
	}
	raw, ok := b.Rules[a.Type]
	for t := range b.Rules {
		if t != a.Type {
			return a, fieldErr(truncate(t)+"_rule", "", fmt.Sprintf("The alarm is of type %s; only %s_rule may be set.", truncate(a.Type), truncate(a.Type)))
		}
	}
	if !ok {
		if base == nil || base.Type != a.Type {
			return a, fieldErr(a.Type+"_rule", "", fmt.Sprintf("%s_rule must be set for %s type alarm", a.Type, a.Type))
		}
		raw = base.Rule
	}
	if len(raw) > MaxRuleBytes {
		return a, fieldErr(a.Type+"_rule", "", fmt.Sprintf("The rule is over %d bytes.", MaxRuleBytes))
	}
	rule, err := chk.ParseRule(a.Type, raw)
	if err != nil {
		return a, asFieldError(a.Type+"_rule", err)
	}
	a.Rule = rule
	a.Description = fmt.Sprintf("%s alarm rule", a.Type)
	if b.Description != nil && *b.Description != "" {
		a.Description = *b.Description
	}
	if err := checkText("description", a.Description, MaxDescriptionLen); err != nil {
		return a, err
	}
	a.Enabled = true
	if b.Enabled != nil {
		a.Enabled = *b.Enabled
	}
	if b.RepeatActions != nil {
		a.RepeatActions = *b.RepeatActions
	}
	a.Severity = "low"
	if b.Severity != nil {
		a.Severity = *b.Severity
	}
	if !slices.Contains(Severities, a.Severity) {
		return a, fieldErr("severity", a.Severity, "Value should be one of: "+strings.Join(Severities, ", "))
	}
	if b.State != nil {
		a.State = *b.State
	}
	if a.State == "" {
		a.State = StateInsufficientData
	}
	if !slices.Contains(States, a.State) {
		return a, fieldErr("state", a.State, "Value should be one of: "+strings.Join(States, ", "))
	}
	if b.StateReason != nil {
		if err := checkText("state_reason", *b.StateReason, 1024); err != nil {
			return a, err
		}
		if base == nil || a.State != base.State {
			a.StateReason = *b.StateReason
		}
	}
	for _, l := range []struct {
		field string
		in    []string
		out   *[]string
	}{
		{"alarm_actions", b.AlarmActions, &a.AlarmActions},
		{"ok_actions", b.OKActions, &a.OKActions},
		{"insufficient_data_actions", b.InsufficientDataActions, &a.InsufficientDataActions},
	} {
		if *l.out, err = checkActions(chk, l.field, l.in); err != nil {
			return a, err
		}
	}
	if a.TimeConstraints, err = checkConstraints(chk, b.TimeConstraints); err != nil {
		return a, err
	}
	if err := owner(who, b, &a, base == nil); err != nil {
		return a, err
	}
	return a, nil
}

// owner fills project and user: a member's alarms are its project's; an
// admin may name any.
func owner(who Caller, b *Body, a *Alarm, create bool) error {
	if b.ProjectID != nil && *b.ProjectID != "" {
		p := *b.ProjectID
		if !who.Admin && p != who.Project {
			return fieldErr("project_id", p, "Not authorized to create or move an alarm in another project.")
		}
		if create {
			a.ProjectID = p
		} else if p != a.ProjectID {
			return fieldErr("project_id", p, "The project of an alarm cannot change.")
		}
	} else if create {
		a.ProjectID = who.Project
	}
	if err := checkText("project_id", a.ProjectID, MaxIDLen); err != nil {
		return err
	}
	if b.UserID != nil && *b.UserID != "" {
		a.UserID = *b.UserID
	} else if create {
		a.UserID = who.User
	}
	return checkText("user_id", a.UserID, MaxIDLen)
}

func checkText(field, s string, max int) error {
	if len(s) > max {
		return fieldErr(field, s, fmt.Sprintf("Value should have a maximum length of %d", max))
	}
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return fieldErr(field, "", "Value is not valid UTF-8 text.")
	}
	return nil
}

func checkActions(chk Checker, field string, in []string) ([]string, error) {
	if len(in) > MaxActions {
		return nil, fieldErr(field, "", fmt.Sprintf("At most %d actions per state.", MaxActions))
	}
	out := make([]string, 0, len(in))
	for _, u := range in {
		if len(u) > MaxActionLen {
			return nil, fieldErr(field, u, fmt.Sprintf("An action URL is at most %d bytes.", MaxActionLen))
		}
		if err := chk.CheckAction(u); err != nil {
			return nil, fieldErr(field, redactURL(u), "Unsupported action: "+err.Error())
		}
		if !slices.Contains(out, u) {
			out = append(out, u) // duplicates run once, as Aodh
		}
	}
	return out, nil
}

func checkConstraints(chk Checker, raw json.RawMessage) ([]TimeConstraint, error) {
	out := []TimeConstraint{}
	if len(raw) == 0 {
		return out, nil
	}
	var list []struct {
		Name        *string          `json:"name"`
		Description *string          `json:"description"`
		Start       *string          `json:"start"`
		Duration    *json.RawMessage `json:"duration"`
		Timezone    *string          `json:"timezone"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fieldErr("time_constraints", "", "Expected a list of {name, start, duration, timezone}: "+err.Error())
	}
	if len(list) > MaxConstraints {
		return nil, fieldErr("time_constraints", "", fmt.Sprintf("At most %d time constraints.", MaxConstraints))
	}
	for i, tc := range list {
		f := fmt.Sprintf("time_constraints[%d]", i)
		if tc.Name == nil || *tc.Name == "" {
			return nil, fieldErr(f+".name", "", "Mandatory field missing.")
		}
		if tc.Start == nil || *tc.Start == "" {
			return nil, fieldErr(f+".start", "", "Mandatory field missing.")
		}
		if tc.Duration == nil {
			return nil, fieldErr(f+".duration", "", "Mandatory field missing.")
		}
		var d json.Number
		dec := json.NewDecoder(strings.NewReader(string(*tc.Duration)))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err == nil {
			switch x := v.(type) {
			case json.Number:
				d = x
			case string:
				d = json.Number(x)
			}
		}
		n, err := d.Int64()
		if err != nil || n < 0 || n > 366*24*3600 {
			return nil, fieldErr(f+".duration", truncate(string(*tc.Duration)), "Value should be a non-negative number of seconds.")
		}
		c := TimeConstraint{Name: *tc.Name, Start: *tc.Start, Duration: n}
		if tc.Timezone != nil {
			c.Timezone = *tc.Timezone
		}
		c.Description = fmt.Sprintf("Time constraint at %s lasting for %d seconds", c.Start, c.Duration)
		if tc.Description != nil && *tc.Description != "" {
			c.Description = *tc.Description
		}
		for _, t := range []struct{ f, v string }{{".name", c.Name}, {".description", c.Description}, {".start", c.Start}, {".timezone", c.Timezone}} {
			if err := checkText(f+t.f, t.v, 255); err != nil {
				return nil, err
			}
		}
		for _, prev := range out {
			if prev.Name == c.Name {
				return nil, fieldErr(f+".name", c.Name, "Time constraint names must be unique for a given alarm.")
			}
		}
		out = append(out, c)
	}
	canon, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode time constraints: %w", err)
	}
	if err := chk.CheckTimeConstraints(canon); err != nil {
		return nil, asFieldError("time_constraints", err)
	}
	return out, nil
}

// asFieldError keeps a checker's FieldError (prefixing a nested field with
// the outer one) or wraps another error as one naming field.
func asFieldError(field string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		if fe.Field == "" {
			return &FieldError{Field: field, Value: fe.Value, Msg: fe.Msg}
		}
		return fe
	}
	return fieldErr(field, "", err.Error())
}
