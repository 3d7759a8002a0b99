package alarm

import (
	"fmt"

	"github.com/altimeter/altimeter/host/cluster/fsm"
)

// Delete removes an alarm. Its history stays until it ages out, and
// transitions committed before the deletion are still delivered.
type Delete struct {
	ID        string        `json:"id"`
	UserID    string        `json:"user_id"`
	ProjectID string        `json:"project_id"`
	EventID   string        `json:"event_id"`
	Limits    HistoryLimits `json:"limits"`
}

// CommandType implements fsm.Command.
func (Delete) CommandType() fsm.Type { return TypeDelete }

func init() { fsm.RegisterCommand("alarm_delete", applyDelete) }

func applyDelete(st *fsm.State, e fsm.Entry, c Delete) error {
	r := Of(st)
	if err := checkLimits(c.Limits); err != nil {
		return err
	}
	a, ok := r.alarms[c.ID]
	if !ok {
		return fmt.Errorf("%w: alarm %s", fsm.ErrNotFound, truncate(c.ID))
	}
	delete(r.alarms, c.ID)
	delete(r.names, nameKey{a.ProjectID, a.Name})
	r.record(Change{
		EventID: c.EventID, AlarmID: a.ID, Type: ChangeDeletion, Detail: changeDetail(Render(a)),
		UserID: c.UserID, ProjectID: c.ProjectID, OnBehalfOf: a.ProjectID, Severity: a.Severity, Timestamp: e.Time,
	}, c.Limits)
	r.deleted = append(r.deleted, a.ID)
	r.pruneDeleted(c.Limits, e.Time)
	return nil
}
