package alarm

import (
	"fmt"

	"github.com/altimeter/altimeter/host/cluster/fsm"
)

// Create adds an alarm. The proposer validated it and chose its id and
// the history event id; times are the leader's.
type Create struct {
	Alarm   Alarm         `json:"alarm"`
	EventID string        `json:"event_id"`
	Limits  HistoryLimits `json:"limits"`
}

// CommandType implements fsm.Command.
func (Create) CommandType() fsm.Type { return TypeCreate }

func init() { fsm.RegisterCommand("alarm_create", applyCreate) }

func applyCreate(st *fsm.State, e fsm.Entry, c Create) error {
	r := Of(st)
	a := c.Alarm
	if err := checkID("alarm id", a.ID); err != nil {
		return err
	}
	if err := checkLimits(c.Limits); err != nil {
		return err
	}
	if _, dup := r.alarms[a.ID]; dup {
		return fmt.Errorf("%w: alarm %s exists", fsm.ErrConflict, a.ID)
	}
	key := nameKey{a.ProjectID, a.Name}
	if _, dup := r.names[key]; dup {
		return fmt.Errorf("%w: Alarm with name='%s' exists", fsm.ErrConflict, truncate(a.Name))
	}
	if len(r.alarms) >= MaxAlarms {
		return fmt.Errorf("%w: %d alarms is the limit", fsm.ErrConflict, MaxAlarms)
	}
	if a.State == "" {
		a.State = StateInsufficientData
	}
	a.Timestamp, a.StateTimestamp = e.Time, e.Time
	r.alarms[a.ID] = &a
	r.names[key] = a.ID
	r.pruneDeleted(c.Limits, e.Time)
	r.record(Change{
		EventID: c.EventID, AlarmID: a.ID, Type: ChangeCreation, Detail: changeDetail(Render(&a)),
		UserID: a.UserID, ProjectID: a.ProjectID, OnBehalfOf: a.ProjectID, Severity: a.Severity, Timestamp: e.Time,
	}, c.Limits)
	return nil
}
