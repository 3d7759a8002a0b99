package alarm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/altimeter/altimeter/host/cluster/fsm"
)

// Update replaces an alarm's definition (Aodh's PUT): id, project and
// creation stay; a changed state is a state transition too (no actions,
// as Aodh runs none for a state set through the API).
type Update struct {
	Alarm Alarm `json:"alarm"`
	// UserID and ProjectID are who asked (for the history).
	UserID    string        `json:"user_id"`
	ProjectID string        `json:"project_id"`
	EventID   string        `json:"event_id"`
	Limits    HistoryLimits `json:"limits"`
}

// CommandType implements fsm.Command.
func (Update) CommandType() fsm.Type { return TypeUpdate }

func init() { fsm.RegisterCommand("alarm_update", applyUpdate) }

func applyUpdate(st *fsm.State, e fsm.Entry, c Update) error {
	r := Of(st)
	if err := checkLimits(c.Limits); err != nil {
		return err
	}
	old, ok := r.alarms[c.Alarm.ID]
	if !ok {
		return fmt.Errorf("%w: alarm %s", fsm.ErrNotFound, truncate(c.Alarm.ID))
	}
	a := c.Alarm
	a.ProjectID = old.ProjectID
	if a.State == "" {
		a.State = old.State
	}
	oldKey, key := nameKey{old.ProjectID, old.Name}, nameKey{a.ProjectID, a.Name}
	if key != oldKey {
		if _, dup := r.names[key]; dup {
			return fmt.Errorf("%w: Alarm with name='%s' exists", fsm.ErrConflict, truncate(a.Name))
		}
	}
	a.Timestamp = e.Time
	a.StateTimestamp = old.StateTimestamp
	stateChanged := a.State != old.State
	if stateChanged {
		a.StateTimestamp = e.Time
		if a.StateReason == old.StateReason {
			a.StateReason = "Manually set via API"
		}
	} else {
		a.StateReason = old.StateReason
	}
	diff := ruleDiff(old, &a)
	delete(r.names, oldKey)
	r.names[key] = a.ID
	r.alarms[a.ID] = &a
	ch := Change{
		AlarmID: a.ID, UserID: c.UserID, ProjectID: c.ProjectID, OnBehalfOf: a.ProjectID,
		Severity: a.Severity, Timestamp: e.Time,
	}
	if len(diff) > 0 {
		ch.EventID, ch.Type, ch.Detail = c.EventID, ChangeRule, changeDetail(diff)
		r.record(ch, c.Limits)
	}
	if stateChanged {
		ch.EventID, ch.Type = c.EventID+"-state", ChangeStateTransition
		ch.Detail = changeDetail(map[string]string{"state": a.State, "transition_reason": a.StateReason})
		r.record(ch, c.Limits)
	}
	return nil
}

// ruleDiff lists the definition fields that changed, with their new values
// (the detail of a "rule change" entry, as Aodh).
func ruleDiff(old, a *Alarm) map[string]any {
	d := map[string]any{}
	if old.Name != a.Name {
		d["name"] = a.Name
	}
	if old.Description != a.Description {
		d["description"] = a.Description
	}
	if old.Type != a.Type {
		d["type"] = a.Type
	}
	if !bytes.Equal(old.Rule, a.Rule) {
		d["rule"] = json.RawMessage(a.Rule)
	}
	if old.Enabled != a.Enabled {
		d["enabled"] = a.Enabled
	}
	if old.Severity != a.Severity {
		d["severity"] = a.Severity
	}
	if old.RepeatActions != a.RepeatActions {
		d["repeat_actions"] = a.RepeatActions
	}
	if !slices.Equal(old.AlarmActions, a.AlarmActions) {
		d["alarm_actions"] = a.AlarmActions
	}
	if !slices.Equal(old.OKActions, a.OKActions) {
		d["ok_actions"] = a.OKActions
	}
	if !slices.Equal(old.InsufficientDataActions, a.InsufficientDataActions) {
		d["insufficient_data_actions"] = a.InsufficientDataActions
	}
	if !slices.Equal(old.TimeConstraints, a.TimeConstraints) {
		d["time_constraints"] = a.TimeConstraints
	}
	if old.UserID != a.UserID {
		d["user_id"] = a.UserID
	}
	return d
}
