package alarm

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/altimeter/altimeter/host/config"
)

// Alarm states, as Aodh spells them.
const (
	StateOK               = "ok"
	StateAlarm            = "alarm"
	StateInsufficientData = "insufficient data"
)

// States lists the states in Aodh's order.
var States = []string{StateOK, StateAlarm, StateInsufficientData}

// Severities lists the severities in Aodh's order.
var Severities = []string{"low", "moderate", "critical"}

// Limits on one alarm definition (every list and string is bounded).
const (
	MaxNameLen        = 255
	MaxDescriptionLen = 255
	MaxActions        = 20
	MaxActionLen      = 2048
	MaxConstraints    = 20
	MaxRuleBytes      = 32 << 10
	MaxIDLen          = 255
)

// TimeConstraint is one of an alarm's time constraints: evaluation only
// within duration seconds after each cron start, in timezone.
type TimeConstraint struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Start       string `json:"start"`
	Duration    int64  `json:"duration"`
	Timezone    string `json:"timezone"`
}

// Alarm is one alarm: its definition and its state. The rule is kept in
// its canonical JSON form (what the rule package's MarshalJSON wrote), so
// the replicated state does not depend on the rule package's types.
type Alarm struct {
	ID                      string           `json:"alarm_id"`
	Name                    string           `json:"name"`
	Description             string           `json:"description"`
	Type                    string           `json:"type"`
	Rule                    json.RawMessage  `json:"rule"`
	Enabled                 bool             `json:"enabled"`
	Severity                string           `json:"severity"`
	RepeatActions           bool             `json:"repeat_actions"`
	AlarmActions            []string         `json:"alarm_actions"`
	OKActions               []string         `json:"ok_actions"`
	InsufficientDataActions []string         `json:"insufficient_data_actions"`
	TimeConstraints         []TimeConstraint `json:"time_constraints"`
	State                   string           `json:"state"`
	StateReason             string           `json:"state_reason"`
	StateTimestamp          time.Time        `json:"state_timestamp"`
	Timestamp               time.Time        `json:"timestamp"`
	ProjectID               string           `json:"project_id"`
	UserID                  string           `json:"user_id"`
}

// Clone returns a deep copy (readers never share slices with the state).
func (a *Alarm) Clone() Alarm {
	c := *a
	c.Rule = slices.Clone(a.Rule)
	c.AlarmActions = slices.Clone(a.AlarmActions)
	c.OKActions = slices.Clone(a.OKActions)
	c.InsufficientDataActions = slices.Clone(a.InsufficientDataActions)
	c.TimeConstraints = slices.Clone(a.TimeConstraints)
	return c
}

// ActionsFor returns the actions an alarm runs on entering state.
func (a *Alarm) ActionsFor(state string) []string {
	switch state {
	case StateOK:
		return a.OKActions
	case StateAlarm:
		return a.AlarmActions
	case StateInsufficientData:
		return a.InsufficientDataActions
	}
	return nil
}

// History change types, as Aodh.
const (
	ChangeCreation        = "creation"
	ChangeRule            = "rule change"
	ChangeStateTransition = "state transition"
	ChangeDeletion        = "deletion"
	// ChangeAction records a delivery outcome (an Altimeter addition).
	ChangeAction = "action"
)

// Change is one history entry (Aodh's AlarmChange).
type Change struct {
	EventID    string    `json:"event_id"`
	AlarmID    string    `json:"alarm_id"`
	Type       string    `json:"type"`
	Detail     string    `json:"detail"`
	UserID     string    `json:"user_id"`
	ProjectID  string    `json:"project_id"`
	OnBehalfOf string    `json:"on_behalf_of"`
	Severity   string    `json:"severity"`
	Timestamp  time.Time `json:"timestamp"`
}

// Notification is what a transition's actions carry (Aodh's webhook body
// fields), recorded with the transition so any member can deliver it.
type Notification struct {
	AlarmName  string          `json:"alarm_name"`
	Severity   string          `json:"severity"`
	Previous   string          `json:"previous"`
	Current    string          `json:"current"`
	Reason     string          `json:"reason"`
	ReasonData json.RawMessage `json:"reason_data,omitempty"`
}

// Delivery is a committed transition whose actions have not all been run:
// the alarm's owner runs them; a new owner finishes what a dead one left.
type Delivery struct {
	TransitionID string       `json:"transition_id"`
	AlarmID      string       `json:"alarm_id"`
	ProjectID    string       `json:"project_id"`
	Actions      []string     `json:"actions"` // still to run
	Notification Notification `json:"notification"`
	Committed    time.Time    `json:"committed"`
}

// HistoryLimits bound the history; they travel in each command that adds
// history so every member prunes alike.
type HistoryLimits struct {
	// PerAlarm is the most entries kept per alarm (oldest go first).
	PerAlarm int `json:"per_alarm"`
	// MaxAge drops entries older than this (0: no age limit).
	MaxAge time.Duration `json:"max_age"`
}

// DefaultHistoryLimits are the alarm block's defaults (host/config).
var DefaultHistoryLimits = HistoryLimits{PerAlarm: config.DefaultAlarmHistory, MaxAge: config.DefaultAlarmHistoryAge}
