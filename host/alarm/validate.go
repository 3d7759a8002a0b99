package alarm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/altimeter/altimeter/host/alarm/action"
	"github.com/altimeter/altimeter/host/alarm/rule"
)

// Checker validates what the model cannot judge alone, with the rule and
// action packages: a rule by type (parsed, then checked against the store
// the alarm will read: a resource of another project, a granularity no
// archive has), time constraints' cron and timezone, and action URLs.
type Checker struct {
	// Source is the store the rules read; nil skips the store checks.
	Source rule.Source
}

// ParseRule returns the canonical JSON of an alarm's rule.
func (ck Checker) ParseRule(ctx context.Context, project, alarmType string, raw json.RawMessage) (json.RawMessage, error) {
	r, err := rule.Parse(alarmType, raw)
	if err != nil {
		return nil, ruleErr(alarmType+"_rule", err)
	}
	if ck.Source != nil {
		if err := rule.Check(ctx, ck.Source, project, r); err != nil {
			return nil, ruleErr(alarmType+"_rule", err)
		}
	}
	b, err := r.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode %s rule: %w", alarmType, err)
	}
	return b, nil
}

// ruleErr turns the rule package's FieldError into this package's, and
// wraps a store failure.
func ruleErr(field string, err error) error {
	var fe *rule.FieldError
	if errors.As(err, &fe) {
		return &FieldError{Field: fe.Field, Msg: fe.Msg}
	}
	var ue *action.URLError
	if errors.As(err, &ue) {
		return &FieldError{Field: field, Msg: ue.Msg}
	}
	return fmt.Errorf("check %s: %w", field, err)
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
func build(ctx context.Context, chk Checker, who Caller, b *Body, base *Alarm) (Alarm, error) {
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
	if err := owner(who, b, &a, base == nil); err != nil {
		return a, err
	}
	canon, err := chk.ParseRule(ctx, a.ProjectID, a.Type, raw)
	if err != nil {
		return a, err
	}
	a.Rule = canon
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
		if *l.out, err = checkActions(l.field, l.in); err != nil {
			return a, err
		}
	}
	tcs, err := rule.ParseTimeConstraints(b.TimeConstraints)
	if err != nil {
		return a, ruleErr("time_constraints", err)
	}
	a.TimeConstraints = make([]TimeConstraint, len(tcs))
	for i, tc := range tcs {
		a.TimeConstraints[i] = TimeConstraint{Name: tc.Name, Description: tc.Description, Start: tc.Start, Duration: int64(tc.Duration), Timezone: tc.Timezone}
	}
	return a, nil
}

// owner fills project and user as Aodh's post and put do
// (rbac.get_limited_to): a member's alarms are its project's and its own,
// and a member naming another user_id on create is refused (Aodh's
// ProjectNotAuthorized for aspect user); on update a member becomes the
// alarm's user, whatever the body says (aodhclient sends back the user_id
// it read). An admin may name any project and user; without user_id an
// alarm is the creator's and keeps its user on update.
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
		if who.Project == "" {
			return fieldErr("project_id", "", "Mandatory field missing: a token without a project must name the alarm's project (its rule reads that project's data).")
		}
		a.ProjectID = who.Project
	}
	if err := checkText("project_id", a.ProjectID, MaxIDLen); err != nil {
		return err
	}
	named := b.UserID != nil && *b.UserID != ""
	switch {
	case !who.Admin && create && named && *b.UserID != who.User:
		return fieldErr("user_id", *b.UserID, "Not authorized to create an alarm for another user.")
	case !who.Admin:
		a.UserID = who.User
	case named:
		a.UserID = *b.UserID
	case create:
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

func checkActions(field string, in []string) ([]string, error) {
	if len(in) > MaxActions {
		return nil, fieldErr(field, "", fmt.Sprintf("At most %d actions per state.", MaxActions))
	}
	out := make([]string, 0, len(in))
	for _, u := range in {
		if len(u) > MaxActionLen {
			return nil, fieldErr(field, u, fmt.Sprintf("An action URL is at most %d bytes.", MaxActionLen))
		}
		if err := action.ValidateURL(u); err != nil {
			return nil, ruleErr(field, err)
		}
		if !slices.Contains(out, u) {
			out = append(out, u) // duplicates run once, as Aodh
		}
	}
	return out, nil
}
