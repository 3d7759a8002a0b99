package alarm

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/altimeter/altimeter/host/cluster/fsm"
)

// Transition commits an alarm's new state, as its owner's evaluation (or
// an API call) decided it. From is a compare-and-set: a transition decided
// on a state that another member has since changed is refused
// (ErrConflict), so two members evaluating the same alarm across an epoch
// change cannot both commit. With Notify, the actions of the new state are
// recorded as a pending delivery under TransitionID: they run after the
// commit, once, by the alarm's owner.
type Transition struct {
	TransitionID string          `json:"transition_id"`
	AlarmID      string          `json:"alarm_id"`
	From         string          `json:"from"`
	To           string          `json:"to"`
	Reason       string          `json:"reason"`
	ReasonData   json.RawMessage `json:"reason_data,omitempty"`
	// Notify records the actions (evaluations; an API state change does
	// not run actions, as Aodh).
	Notify bool `json:"notify"`
	// UserID and ProjectID are who asked (the alarm's own for an
	// evaluation).
	UserID    string        `json:"user_id"`
	ProjectID string        `json:"project_id"`
	Limits    HistoryLimits `json:"limits"`
}

// CommandType implements fsm.Command.
func (Transition) CommandType() fsm.Type { return TypeTransition }

func init() { fsm.RegisterCommand("alarm_transition", applyTransition) }

func applyTransition(st *fsm.State, e fsm.Entry, c Transition) error {
	r := Of(st)
	if err := checkID("transition id", c.TransitionID); err != nil {
		return err
	}
	if err := checkLimits(c.Limits); err != nil {
		return err
	}
	if !slices.Contains(States, c.To) {
		return fmt.Errorf("%w: state %q", fsm.ErrInvalid, truncate(c.To))
	}
	a, ok := r.alarms[c.AlarmID]
	if !ok {
		return fmt.Errorf("%w: alarm %s", fsm.ErrNotFound, truncate(c.AlarmID))
	}
	if c.From != "" && a.State != c.From {
		return fmt.Errorf("%w: alarm %s is %q, not %q", fsm.ErrConflict, a.ID, a.State, c.From)
	}
	if _, dup := r.pending[c.TransitionID]; dup {
		return fmt.Errorf("%w: transition %s exists", fsm.ErrConflict, c.TransitionID)
	}
	prev := a.State
	changed := prev != c.To
	if !changed && !c.Notify {
		return nil // nothing to record
	}
	if changed {
		a.State, a.StateReason, a.StateTimestamp = c.To, c.Reason, e.Time
		r.record(Change{
			EventID: c.TransitionID, AlarmID: a.ID, Type: ChangeStateTransition,
			Detail: changeDetail(map[string]string{"state": c.To, "transition_reason": c.Reason}),
			UserID: c.UserID, ProjectID: c.ProjectID, OnBehalfOf: a.ProjectID, Severity: a.Severity, Timestamp: e.Time,
		}, c.Limits)
	}
	if !c.Notify {
		return nil
	}
	actions := dedup(a.ActionsFor(c.To))
	if len(actions) == 0 {
		return nil
	}
	d := &Delivery{
		TransitionID: c.TransitionID, AlarmID: a.ID, ProjectID: a.ProjectID, Actions: actions, Committed: e.Time,
		Notification: Notification{AlarmName: a.Name, Severity: a.Severity, Previous: prev, Current: c.To, Reason: c.Reason, ReasonData: c.ReasonData},
	}
	r.pending[d.TransitionID] = d
	q := append(r.byAlarm[a.ID], d.TransitionID)
	for len(q) > MaxPendingPerAlarm {
		old := r.pending[q[0]]
		delete(r.pending, q[0])
		r.record(Change{
			EventID: q[0] + "-dropped", AlarmID: a.ID, Type: ChangeAction,
			Detail:    changeDetail(actionDetail{TransitionID: q[0], Outcome: OutcomeDropped, Detail: fmt.Sprintf("%d undelivered transitions is the limit", MaxPendingPerAlarm), Actions: len(old.Actions)}),
			ProjectID: a.ProjectID, OnBehalfOf: a.ProjectID, Severity: a.Severity, Timestamp: e.Time,
		}, c.Limits)
		q = q[1:]
	}
	r.byAlarm[a.ID] = slices.Clip(q)
	return nil
}

func dedup(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
