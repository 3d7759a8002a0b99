package alarm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/altimeter/altimeter/host/alarm/action"
	"github.com/altimeter/altimeter/host/alarm/rule"
	"github.com/altimeter/altimeter/host/cluster/fsm"
	"github.com/altimeter/altimeter/sdk/sample"
)

// Defaults of the scheduler.
const (
	DefaultEvaluationInterval = 60 * time.Second
	// DefaultTakeoverDelay is how old a pending delivery must be before a
	// member that did not commit it runs it: the committing member gets
	// that long to finish its own delivery first.
	DefaultTakeoverDelay = 10 * time.Second
	defaultWorkers       = 8
	// maxEventQueue bounds the event batches waiting for event alarms.
	maxEventQueue = 256
)

// Evaluator decides a polled alarm's state (*rule.Evaluator).
type Evaluator interface {
	Evaluate(ctx context.Context, in rule.Input, now time.Time) (rule.Outcome, error)
}

// Notifier runs one action of a transition (*action.Notifier).
type Notifier interface {
	Notify(ctx context.Context, actionURL string, nt action.Notification) error
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	Node Node
	// Owns reports whether this member evaluates the alarm (the cluster's
	// partition map); nil owns every alarm.
	Owns      func(alarmID string) bool
	Evaluator Evaluator
	Notifier  Notifier
	// Interval is evaluation_interval (default 60 s).
	Interval time.Duration
	// TakeoverDelay: see DefaultTakeoverDelay.
	TakeoverDelay time.Duration
	Limits        HistoryLimits
	// Workers evaluate alarms concurrently (default 8).
	Workers    int
	Logger     hclog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Scheduler evaluates, every interval, the enabled alarms this member
// owns; commits each state change through the leader; and only then runs
// the new state's actions, once per committed transition: each action's
// outcome is committed too (DeliveryDone), and a delivery its committing
// member did not finish (it died) is run by the alarm's owner. Event
// alarms are decided when events are stored (Events), not polled.
type Scheduler struct {
	o       SchedulerOptions
	log     hclog.Logger
	metrics *schedMetrics
	events  chan []sample.Event
	stopped chan struct{} // closed when Run returns

	mu       sync.Mutex
	inflight map[string]bool     // transition ids being delivered here
	rules    map[string]ruleMemo // alarm id -> parsed rule
	wg       sync.WaitGroup      // deliveries
}

type ruleMemo struct {
	raw  string
	rule rule.Rule
	tcs  []rule.TimeConstraint
}

// NewScheduler returns a scheduler; Run starts it.
func NewScheduler(o SchedulerOptions) *Scheduler {
	if o.Interval <= 0 {
		o.Interval = DefaultEvaluationInterval
	}
	if o.TakeoverDelay <= 0 {
		o.TakeoverDelay = DefaultTakeoverDelay
	}
	if o.Workers <= 0 {
		o.Workers = defaultWorkers
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Owns == nil {
		o.Owns = func(string) bool { return true }
	}
	return &Scheduler{
		o: o, log: o.Logger.Named("alarm"), metrics: newSchedMetrics(o.Registerer),
		events: make(chan []sample.Event, maxEventQueue), stopped: make(chan struct{}),
		inflight: map[string]bool{}, rules: map[string]ruleMemo{},
	}
}

// Run evaluates every interval until ctx ends, then waits for deliveries
// in progress (they end with ctx; what they did not finish stays pending
// for the next owner).
func (s *Scheduler) Run(ctx context.Context) error {
	defer close(s.stopped)
	defer s.wg.Wait()
	t := time.NewTicker(s.o.Interval)
	defer t.Stop()
	s.log.Info("alarm evaluation started", "interval", s.o.Interval)
	for {
		select {
		case <-ctx.Done():
			return nil
		case batch := <-s.events:
			s.evaluateEvents(ctx, batch)
		case <-t.C:
			s.Cycle(ctx)
		}
	}
}

// Events hands stored events to the event alarms (the store publisher
// calls it after writing them). It blocks while the queue is full (the
// publisher's backpressure), until ctx ends or the scheduler has stopped
// (at shutdown: the events are stored, but fire no alarm).
func (s *Scheduler) Events(ctx context.Context, evs []sample.Event) {
	if len(evs) == 0 {
		return
	}
	select {
	case s.events <- evs:
	case <-ctx.Done():
	case <-s.stopped:
	}
}

// CycleStats is what one evaluation cycle did.
type CycleStats struct {
	Evaluated, Transitions, Errors int
	Duration                       time.Duration
}

// Cycle evaluates the owned alarms once and starts the actions of the
// committed transitions, and of pending deliveries this member should
// take over. It returns when every evaluation and commit is done (not the
// deliveries).
func (s *Scheduler) Cycle(ctx context.Context) CycleStats {
	start := time.Now()
	now := s.o.Now()
	var todo []Alarm
	live := map[string]bool{}
	s.o.Node.FSM().Read(func(st *fsm.State) {
		Of(st).Each(func(a *Alarm) bool {
			live[a.ID] = true
			if a.Enabled && a.Type != rule.TypeEvent && s.o.Owns(a.ID) {
				todo = append(todo, a.Clone())
			}
			return true
		})
	})
	s.forgetRules(live)
	var (
		stats CycleStats
		mu    sync.Mutex
		wg    sync.WaitGroup
	)
	work := make(chan *Alarm)
	for range s.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range work {
				changed, err := s.evaluate(ctx, a, now)
				mu.Lock()
				stats.Evaluated++
				if err != nil {
					stats.Errors++
				}
				if changed {
					stats.Transitions++
				}
				mu.Unlock()
			}
		}()
	}
	for i := range todo {
		select {
		case work <- &todo[i]:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	s.takeOver(ctx, now)
	stats.Duration = time.Since(start)
	s.metrics.cycle.Observe(stats.Duration.Seconds())
	s.log.Debug("evaluation cycle", "alarms", stats.Evaluated, "transitions", stats.Transitions, "errors", stats.Errors, "duration", stats.Duration)
	return stats
}

// parsed returns the alarm's rule and time constraints, parsed once per
// definition.
func (s *Scheduler) parsed(a *Alarm) (ruleMemo, error) {
	s.mu.Lock()
	m, ok := s.rules[a.ID]
	s.mu.Unlock()
	if ok && m.raw == string(a.Rule) {
		return m, nil
	}
	r, err := rule.Parse(a.Type, a.Rule)
	if err != nil {
		return ruleMemo{}, fmt.Errorf("parse rule of alarm %s: %w", a.ID, err)
	}
	m = ruleMemo{raw: string(a.Rule), rule: r}
	for _, tc := range a.TimeConstraints {
		m.tcs = append(m.tcs, rule.TimeConstraint{Name: tc.Name, Description: tc.Description, Start: tc.Start, Duration: int(tc.Duration), Timezone: tc.Timezone})
	}
	s.mu.Lock()
	s.rules[a.ID] = m
	s.mu.Unlock()
	return m, nil
}

func (s *Scheduler) forgetRules(live map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.rules {
		if !live[id] {
			delete(s.rules, id)
		}
	}
}

func (s *Scheduler) input(a *Alarm, m ruleMemo) rule.Input {
	return rule.Input{
		AlarmID: a.ID, ProjectID: a.ProjectID, Type: a.Type, Rule: m.rule, State: a.State,
		StateTimestamp: a.StateTimestamp, RepeatActions: a.RepeatActions, TimeConstraints: m.tcs,
	}
}

// evaluate decides one alarm and commits a change; changed reports a
// committed transition.
func (s *Scheduler) evaluate(ctx context.Context, a *Alarm, now time.Time) (bool, error) {
	m, err := s.parsed(a)
	if err != nil {
		s.metrics.evaluations.WithLabelValues("error").Inc()
		s.log.Warn("alarm rule unreadable", "alarm_id", a.ID, "error", err)
		return false, err
	}
	out, err := s.o.Evaluator.Evaluate(ctx, s.input(a, m), now)
	if err != nil {
		s.metrics.evaluations.WithLabelValues("error").Inc()
		s.log.Warn("alarm evaluation failed", "alarm_id", a.ID, "error", err)
		return false, err
	}
	if out.Skipped {
		s.metrics.evaluations.WithLabelValues("skipped").Inc()
		return false, nil
	}
	s.metrics.evaluations.WithLabelValues("ok").Inc()
	if !out.Changed && !out.Notify {
		return false, nil
	}
	return s.commit(ctx, a, out)
}

// commit proposes a transition, then runs its actions.
func (s *Scheduler) commit(ctx context.Context, a *Alarm, out rule.Outcome) (bool, error) {
	var rd json.RawMessage
	if out.ReasonData != nil {
		b, err := json.Marshal(out.ReasonData)
		if err != nil {
			return false, fmt.Errorf("encode reason data: %w", err)
		}
		rd = b
	}
	c := Transition{
		TransitionID: newID(), AlarmID: a.ID, From: a.State, To: out.State, Reason: truncateReason(out.Reason),
		ReasonData: rd, Notify: out.Notify, UserID: a.UserID, ProjectID: a.ProjectID, Limits: s.o.Limits,
	}
	if err := s.o.Node.Apply(ctx, c); err != nil {
		if errors.Is(err, fsm.ErrConflict) || errors.Is(err, fsm.ErrNotFound) {
			// Changed or deleted since it was read: the next cycle decides.
			s.metrics.transitions.WithLabelValues("stale").Inc()
			return false, nil
		}
		s.metrics.transitions.WithLabelValues("failed").Inc()
		s.log.Warn("alarm transition not committed", "alarm_id", a.ID, "error", err)
		return false, fmt.Errorf("commit transition of %s: %w", a.ID, err)
	}
	s.metrics.transitions.WithLabelValues("committed").Inc()
	if out.Changed {
		s.log.Info("alarm state changed", "alarm_id", a.ID, "previous", a.State, "current", out.State, "transition_id", c.TransitionID)
	}
	if d, ok := s.pending(c.TransitionID); ok {
		s.deliver(ctx, d)
	}
	return out.Changed, nil
}

func truncateReason(r string) string {
	if len(r) > 4096 {
		return r[:4096] + "..."
	}
	return r
}

func (s *Scheduler) pending(transitionID string) (Delivery, bool) {
	var (
		d  Delivery
		ok bool
	)
	s.o.Node.FSM().Read(func(st *fsm.State) {
		p, found := Of(st).pending[transitionID]
		if found {
			d, ok = *p, true
			d.Actions = append([]string(nil), p.Actions...)
		}
	})
	return d, ok
}

// takeOver starts the pending deliveries of owned alarms that nobody here
// is running and that are older than the takeover delay: those of a
// member that died, or that failed to commit their outcome.
func (s *Scheduler) takeOver(ctx context.Context, now time.Time) {
	var ds []Delivery
	s.o.Node.FSM().Read(func(st *fsm.State) { ds = Of(st).Pending() })
	s.metrics.pending.Set(float64(len(ds)))
	for _, d := range ds {
		if now.Sub(d.Committed) < s.o.TakeoverDelay || !s.o.Owns(d.AlarmID) {
			continue
		}
		s.deliver(ctx, d)
	}
}

// deliver runs d's remaining actions, each in its own goroutine (a slow
// receiver delays nobody else), and commits each outcome.
func (s *Scheduler) deliver(ctx context.Context, d Delivery) {
	s.mu.Lock()
	if s.inflight[d.TransitionID] {
		s.mu.Unlock()
		return
	}
	s.inflight[d.TransitionID] = true
	s.mu.Unlock()
	var rd map[string]any
	if len(d.Notification.ReasonData) > 0 {
		_ = json.Unmarshal(d.Notification.ReasonData, &rd)
	}
	nt := action.Notification{
		TransitionID: d.TransitionID, AlarmID: d.AlarmID, AlarmName: d.Notification.AlarmName, Severity: d.Notification.Severity,
		Previous: d.Notification.Previous, Current: d.Notification.Current, Reason: d.Notification.Reason, ReasonData: rd,
	}
	var wg sync.WaitGroup
	for _, u := range d.Actions {
		wg.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer wg.Done()
			s.runAction(ctx, d.TransitionID, u, nt)
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		wg.Wait()
		s.mu.Lock()
		delete(s.inflight, d.TransitionID)
		s.mu.Unlock()
	}()
}

func (s *Scheduler) runAction(ctx context.Context, transitionID, u string, nt action.Notification) {
	err := s.o.Notifier.Notify(ctx, u, nt)
	outcome, detail := OutcomeDelivered, ""
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return // shutting down: the delivery stays pending for the next owner
	case errors.Is(err, action.ErrQueueFull):
		s.metrics.deliveries.WithLabelValues("queue_full").Inc()
		return // stays pending; retried at the next cycle
	default:
		outcome, detail = OutcomeFailed, err.Error()
	}
	s.metrics.deliveries.WithLabelValues(outcome).Inc()
	c := DeliveryDone{TransitionID: transitionID, Action: u, Outcome: outcome, Detail: detail, Limits: s.o.Limits}
	if err := s.o.Node.Apply(ctx, c); err != nil && !errors.Is(err, fsm.ErrNotFound) {
		s.log.Warn("delivery outcome not committed; it will run again", "transition_id", transitionID, "error", err)
	}
}

// evaluateEvents decides the owned, enabled event alarms of each event's
// project, as Aodh's event evaluator.
func (s *Scheduler) evaluateEvents(ctx context.Context, evs []sample.Event) {
	var alarms []Alarm
	s.o.Node.FSM().Read(func(st *fsm.State) {
		Of(st).Each(func(a *Alarm) bool {
			if a.Enabled && a.Type == rule.TypeEvent && s.o.Owns(a.ID) {
				alarms = append(alarms, a.Clone())
			}
			return true
		})
	})
	if len(alarms) == 0 {
		return
	}
	for i := range evs {
		ev := eventOf(&evs[i])
		project := eventProject(ev.Traits)
		for j := range alarms {
			a := &alarms[j]
			if a.ProjectID != "" && a.ProjectID != project {
				continue // an alarm sees only its project's events
			}
			m, err := s.parsed(a)
			if err != nil {
				continue
			}
			out, fired := rule.EvaluateEvent(s.input(a, m), ev)
			if !fired || (!out.Changed && !out.Notify) {
				continue
			}
			s.metrics.evaluations.WithLabelValues("event").Inc()
			if _, err := s.commit(ctx, a, out); err == nil {
				a.State = out.State // later events of the batch see it
			}
		}
	}
}

func eventOf(e *sample.Event) rule.Event {
	traits := make(map[string]any, len(e.Traits))
	for _, t := range e.Traits {
		switch t.Type {
		case sample.TraitInt:
			traits[t.Name] = t.Int
		case sample.TraitFloat:
			traits[t.Name] = t.Float
		case sample.TraitDatetime:
			traits[t.Name] = t.Datetime
		default:
			traits[t.Name] = t.Text
		}
	}
	return rule.Event{MessageID: e.MessageID, EventType: e.EventType, Traits: traits}
}

// eventProject is the project an event concerns: its project_id or
// tenant_id trait, as Aodh reads it.
func eventProject(traits map[string]any) string {
	for _, k := range []string{"project_id", "tenant_id"} {
		if v, ok := traits[k].(string); ok && v != "" {
			return v
		}
	}
	return ""
}

type schedMetrics struct {
	evaluations *prometheus.CounterVec
	transitions *prometheus.CounterVec
	deliveries  *prometheus.CounterVec
	pending     prometheus.Gauge
	cycle       prometheus.Histogram
}

func newSchedMetrics(reg prometheus.Registerer) *schedMetrics {
	m := &schedMetrics{
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "altimeter_alarm_evaluations_total", Help: "Alarm evaluations by result (ok, skipped, error, event)."}, []string{"result"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "altimeter_alarm_transitions_total", Help: "Alarm transitions proposed, by result (committed, stale, failed)."}, []string{"result"}),
		deliveries:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "altimeter_alarm_deliveries_total", Help: "Alarm action runs by outcome (delivered, failed after retries, queue_full)."}, []string{"outcome"}),
		pending:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "altimeter_alarm_pending_deliveries", Help: "Committed transitions whose actions have not all run."}),
		cycle:       prometheus.NewHistogram(prometheus.HistogramOpts{Name: "altimeter_alarm_cycle_seconds", Help: "Wall time of one evaluation cycle on this member.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}),
	}
	if reg != nil {
		reg.MustRegister(m.evaluations, m.transitions, m.deliveries, m.pending, m.cycle)
	}
	return m
}
