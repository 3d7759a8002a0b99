package alarm

import (
	"fmt"
	"net/url"
	"slices"

	"github.com/altimeter/altimeter/host/cluster/fsm"
)

// Delivery outcomes, as history and metrics show them.
const (
	OutcomeDelivered = "delivered"
	OutcomeFailed    = "failed"
	OutcomeDropped   = "dropped"
)

// DeliveryDone records that one action of a committed transition ran
// (delivered, or failed for good after its retries): nobody runs it again.
type DeliveryDone struct {
	TransitionID string        `json:"transition_id"`
	Action       string        `json:"action"`
	Outcome      string        `json:"outcome"`
	Detail       string        `json:"detail"`
	Limits       HistoryLimits `json:"limits"`
}

// CommandType implements fsm.Command.
func (DeliveryDone) CommandType() fsm.Type { return TypeDeliveryDone }

func init() { fsm.RegisterCommand("alarm_delivery_done", applyDeliveryDone) }

type actionDetail struct {
	TransitionID string `json:"transition_id"`
	Action       string `json:"action,omitempty"`
	Outcome      string `json:"outcome"`
	Detail       string `json:"detail,omitempty"`
	Actions      int    `json:"actions,omitempty"`
}

func applyDeliveryDone(st *fsm.State, e fsm.Entry, c DeliveryDone) error {
	r := Of(st)
	if err := checkLimits(c.Limits); err != nil {
		return err
	}
	if c.Outcome != OutcomeDelivered && c.Outcome != OutcomeFailed {
		return fmt.Errorf("%w: outcome %q", fsm.ErrInvalid, truncate(c.Outcome))
	}
	d, ok := r.pending[c.TransitionID]
	if !ok {
		return fmt.Errorf("%w: pending transition %s", fsm.ErrNotFound, truncate(c.TransitionID))
	}
	i := slices.Index(d.Actions, c.Action)
	if i < 0 {
		return fmt.Errorf("%w: transition %s has no pending action %s", fsm.ErrNotFound, d.TransitionID, redactURL(c.Action))
	}
	d.Actions = slices.Delete(d.Actions, i, i+1)
	if len(d.Actions) == 0 {
		delete(r.pending, d.TransitionID)
		q := r.byAlarm[d.AlarmID]
		if j := slices.Index(q, d.TransitionID); j >= 0 {
			q = slices.Delete(q, j, j+1)
		}
		if len(q) == 0 {
			delete(r.byAlarm, d.AlarmID)
		} else {
			r.byAlarm[d.AlarmID] = q
		}
	}
	severity := d.Notification.Severity
	r.record(Change{
		EventID: c.TransitionID + "-" + fmt.Sprint(e.Index), AlarmID: d.AlarmID, Type: ChangeAction,
		Detail:    changeDetail(actionDetail{TransitionID: d.TransitionID, Action: redactURL(c.Action), Outcome: c.Outcome, Detail: truncate(c.Detail)}),
		ProjectID: d.ProjectID, OnBehalfOf: d.ProjectID, Severity: severity, Timestamp: e.Time,
	}, c.Limits)
	return nil
}

// redactURL drops credentials and the query of an action URL (a webhook
// may carry a token) before it goes into history or logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable url)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
