package alarm

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/altimeter/altimeter/host/cluster/fsm"
)

// Node is the cluster member the service proposes through and reads from
// (*cluster.Node).
type Node interface {
	// Apply commits c through the leader; it returns once this member
	// applied it.
	Apply(ctx context.Context, c fsm.Command) error
	// Barrier returns once this member has applied everything the leader
	// had committed when it was called: the local state is then current,
	// not a replica still catching up (after a restart, the log it
	// replays).
	Barrier(ctx context.Context) error
	FSM() *fsm.FSM
}

// Service is the alarm API's model: validation, project scoping, and
// commands through the cluster. Reads serve this member's applied state
// (after a write on this member, its own write is visible).
type Service struct {
	node     Node
	check    Checker
	limits   HistoryLimits
	rejected *prometheus.CounterVec
}

// NewService returns a service over node. limits bound the history.
// Refused writes are counted in altimeter_alarm_requests_rejected_total
// once Register is called.
func NewService(node Node, check Checker, limits HistoryLimits) *Service {
	return &Service{node: node, check: check, limits: limits, rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "altimeter_alarm_requests_rejected_total",
		Help: "Alarm writes refused, by operation (create, update, delete, state) and reason (invalid, conflict, not_found).",
	}, []string{"op", "reason"})}
}

// Register adds the service's metrics to reg.
func (s *Service) Register(reg prometheus.Registerer) { reg.MustRegister(s.rejected) }

// count records a refused write and returns err.
func (s *Service) count(op string, err error) error {
	switch {
	case err == nil:
	case errors.Is(err, ErrInvalid):
		s.rejected.WithLabelValues(op, "invalid").Inc()
	case errors.Is(err, ErrConflict):
		s.rejected.WithLabelValues(op, "conflict").Inc()
	case errors.Is(err, ErrUnknownAlarm):
		s.rejected.WithLabelValues(op, "not_found").Inc()
	}
	return err
}

// Limits returns the history limits the service records with.
func (s *Service) Limits() HistoryLimits { return s.limits }

func newID() string { return uuid.NewString() }

// Create validates and commits a new alarm.
func (s *Service) Create(ctx context.Context, who Caller, b *Body) (Alarm, error) {
	a, err := s.create(ctx, who, b)
	return a, s.count("create", err)
}

func (s *Service) create(ctx context.Context, who Caller, b *Body) (Alarm, error) {
	a, err := build(ctx, s.check, who, b, nil)
	if err != nil {
		return Alarm{}, err
	}
	a.ID = newID()
	if err := s.node.Apply(ctx, Create{Alarm: a, EventID: newID(), Limits: s.limits}); err != nil {
		return Alarm{}, commandErr(err)
	}
	return s.Get(who, a.ID)
}

// Get returns an alarm the caller may see.
func (s *Service) Get(who Caller, id string) (Alarm, error) {
	var (
		a  Alarm
		ok bool
	)
	s.node.FSM().Read(func(st *fsm.State) { a, ok = Of(st).Get(id) })
	if !ok || !who.Sees(a.ProjectID) {
		return Alarm{}, fmt.Errorf("alarm %s: %w", truncate(id), ErrUnknownAlarm)
	}
	return a, nil
}

// List returns the alarms the caller sees that keep returns true for, in
// id order (callers sort and page).
func (s *Service) List(who Caller, keep func(*Alarm) bool) []Alarm {
	var out []Alarm
	s.node.FSM().Read(func(st *fsm.State) {
		Of(st).Each(func(a *Alarm) bool {
			if who.Sees(a.ProjectID) && (keep == nil || keep(a)) {
				out = append(out, a.Clone())
			}
			return true
		})
	})
	return out
}

// Update replaces an alarm's definition (PUT).
func (s *Service) Update(ctx context.Context, who Caller, id string, b *Body) (Alarm, error) {
	a, err := s.update(ctx, who, id, b)
	return a, s.count("update", err)
}

func (s *Service) update(ctx context.Context, who Caller, id string, b *Body) (Alarm, error) {
	old, err := s.Get(who, id)
	if err != nil {
		return Alarm{}, err
	}
	a, err := build(ctx, s.check, who, b, &old)
	if err != nil {
		return Alarm{}, err
	}
	if err := s.node.Apply(ctx, Update{Alarm: a, UserID: who.User, ProjectID: who.Project, EventID: newID(), Limits: s.limits}); err != nil {
		return Alarm{}, commandErr(err)
	}
	return s.Get(who, id)
}

// Delete removes an alarm.
func (s *Service) Delete(ctx context.Context, who Caller, id string) error {
	if _, err := s.Get(who, id); err != nil {
		return s.count("delete", err)
	}
	return s.count("delete", commandErr(s.node.Apply(ctx, Delete{ID: id, UserID: who.User, ProjectID: who.Project, EventID: newID(), Limits: s.limits})))
}

// SetState sets an alarm's state (PUT .../state): recorded in history,
// no actions run, as Aodh.
func (s *Service) SetState(ctx context.Context, who Caller, id, state string) (Alarm, error) {
	a, err := s.setState(ctx, who, id, state)
	return a, s.count("state", err)
}

func (s *Service) setState(ctx context.Context, who Caller, id, state string) (Alarm, error) {
	if !slices.Contains(States, state) {
		return Alarm{}, fieldErr("state", state, "state invalid; one of ok, alarm, insufficient data")
	}
	if _, err := s.Get(who, id); err != nil {
		return Alarm{}, err
	}
	c := Transition{
		TransitionID: newID(), AlarmID: id, To: state, Reason: "Manually set via API",
		UserID: who.User, ProjectID: who.Project, Limits: s.limits,
	}
	if err := s.node.Apply(ctx, c); err != nil {
		return Alarm{}, commandErr(err)
	}
	return s.Get(who, id)
}

// History returns the alarm's history entries the caller may see: those
// of an alarm it sees, or of a deleted alarm of its project.
func (s *Service) History(who Caller, keep func(*Change) bool) []Change {
	var out []Change
	s.node.FSM().Read(func(st *fsm.State) {
		Of(st).EachHistory(func(c *Change) bool {
			if who.Sees(c.OnBehalfOf) && (keep == nil || keep(c)) {
				out = append(out, *c)
			}
			return true
		})
	})
	return out
}

// AlarmHistory returns one alarm's history (404 for an alarm the caller
// cannot see; a deleted alarm's history is still served).
func (s *Service) AlarmHistory(who Caller, id string) ([]Change, error) {
	var (
		h    []Change
		seen bool
	)
	s.node.FSM().Read(func(st *fsm.State) {
		r := Of(st)
		if a, ok := r.alarms[id]; ok {
			seen = who.Sees(a.ProjectID)
		}
		h = r.History(id)
		if !seen && len(h) > 0 {
			seen = who.Sees(h[0].OnBehalfOf)
		}
	})
	if !seen {
		return nil, fmt.Errorf("alarm %s: %w", truncate(id), ErrUnknownAlarm)
	}
	return h, nil
}

// commandErr maps the FSM's refusals to this package's errors.
func commandErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fsm.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrUnknownAlarm, err)
	case errors.Is(err, fsm.ErrConflict):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	case errors.Is(err, fsm.ErrInvalid):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}
