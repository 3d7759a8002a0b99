package alarm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/altimeter/altimeter/host/alarm/action"
	"github.com/altimeter/altimeter/host/alarm/rule"
	"github.com/altimeter/altimeter/host/cluster/fsm"
	"github.com/altimeter/altimeter/host/config"
	"github.com/altimeter/altimeter/sdk/sample"
)

// Defaults of the scheduler. The defaults of its settings (evaluation
// interval, delivery and takeover delays, history limits) are the alarm
// block's, in host/config: the agent passes the block's values, and a
// zero field here takes config's.
const (
	defaultWorkers = 8
	// takeoverCheck is how often, at most, pending deliveries are looked
	// at for takeover between cycles: a dead member's deliveries are
	// taken over within it of the partition map change (or of their
	// takeover delay), not at the next evaluation.
	takeoverCheck = time.Second
	// maxEventQueue bounds the event batches waiting for event alarms.
	maxEventQueue = 256
	// takeoverBarrier bounds the wait for a current state before a
	// takeover (the evaluation loop waits meanwhile); without one in time
	// the takeover waits for the next check.
	takeoverBarrier = 5 * time.Second
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
	// Interval is evaluation_interval (zero: config.DefaultEvaluationInterval).
	Interval time.Duration
	// DeliveryDelay is how long the committing member waits, after the
	// last commit of a cycle, before it starts that cycle's deliveries: a
	// member that dies right after committing has then sent nothing, and
	// the next owner sends each transition once (the agent passes
	// delivery_delay, default config.DefaultDeliveryDelay). Zero starts
	// each delivery as soon as its transition is committed (a member that
	// dies right after committing may then have sent some, and the next
	// owner sends them again).
	DeliveryDelay time.Duration
	// TakeoverDelay is how old a pending delivery must be before a member
	// that did not commit it runs it: the committing member gets that
	// long to finish its own delivery first (the agent passes
	// takeover_delay, whose default config derives from the delivery delay
	// and the webhook timeout; zero: that default, as for a config
	// without an alarm block).
	TakeoverDelay time.Duration
	Limits        HistoryLimits
	// Workers evaluate alarms concurrently (default 8).
	Workers    int
	Logger     hclog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Settings are the scheduler's settings that a reload may change (the
// alarm block); zero fields take the defaults as in SchedulerOptions.
type Settings struct {
	Interval, DeliveryDelay, TakeoverDelay time.Duration
	Limits                                 HistoryLimits
}

// Scheduler evaluates, every interval, the enabled alarms this member
// owns; commits each state change through the leader; and only then runs
// the new state's actions, once per committed transition: the
// transitions of a cycle are delivered together, DeliveryDelay after the
// cycle's last commit; each action's outcome is committed too
// (DeliveryDone), and a delivery its committing member did not finish
// (it died) is run by the alarm's owner once TakeoverDelay old. Event
// alarms are decided when events are stored (Events), not polled.
type Scheduler struct {
	o        SchedulerOptions // fixed fields; Settings are in set
	log      hclog.Logger
	metrics  *schedMetrics
	events   chan []sample.Event
	stopped  chan struct{} // closed when Run returns
	reconfig chan struct{} // a Reconfigure for Run (buffered 1)

	mu       sync.Mutex
	set      Settings
	inflight map[string]bool     // transition ids being delivered here, or waiting for the delivery delay
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
		reconfig: make(chan struct{}, 1),
		set:      withDefaults(Settings{Interval: o.Interval, DeliveryDelay: o.DeliveryDelay, TakeoverDelay: o.TakeoverDelay, Limits: o.Limits}),
		inflight: map[string]bool{}, rules: map[string]ruleMemo{},
	}
}

func withDefaults(st Settings) Settings {
	if st.Interval <= 0 {
		st.Interval = config.DefaultEvaluationInterval
	}
	if st.DeliveryDelay < 0 {
		st.DeliveryDelay = 0
	}
	if st.TakeoverDelay <= 0 {
		st.TakeoverDelay = config.AlarmDefaults().TakeoverDelay
	}
	return st
}

// Settings returns the settings in force.
func (s *Scheduler) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set
}

// Reconfigure changes the settings (a reload of the alarm block). Pending
// deliveries are kept: those waiting for the delivery delay start as
// planned, and the new takeover delay applies to every pending delivery
// from the next check on. A new interval starts with the next cycle.
func (s *Scheduler) Reconfigure(st Settings) {
	st = withDefaults(st)
	s.mu.Lock()
	s.set = st
	s.mu.Unlock()
	select {
	case s.reconfig <- struct{}{}:
	default: // Run has one to read already
	}
	s.log.Info("alarm settings changed", "interval", st.Interval, "delivery_delay", st.DeliveryDelay, "takeover_delay", st.TakeoverDelay)
}

// Run evaluates every interval until ctx ends, then waits for deliveries
// in progress (they end with ctx; what they did not finish stays pending
// for the next owner).
func (s *Scheduler) Run(ctx context.Context) error {
	defer close(s.stopped)
	defer s.wg.Wait()
	interval := s.Settings().Interval
	t := time.NewTicker(interval)
	defer t.Stop()
	// Between cycles, pending deliveries are checked for takeover more
	// often: a member that left hands its deliveries over within
	// takeoverCheck of the partition map change, not an interval later.
	tk := time.NewTicker(min(interval, takeoverCheck))
	defer tk.Stop()
	s.log.Info("alarm evaluation started", "interval", interval)
	for {
		select {
		case <-ctx.Done():
			return nil
		case batch := <-s.events:
			s.evaluateEvents(ctx, batch)
		case <-t.C:
			s.Cycle(ctx)
		case <-tk.C:
			s.takeOver(ctx, s.o.Now())
		case <-s.reconfig:
			if next := s.Settings().Interval; next != interval {
				interval = next
				t.Reset(interval)
				tk.Reset(min(interval, takeoverCheck))
			}
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
	set := s.Settings() // for the whole cycle
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
		batch []string // transitions committed in this cycle, to deliver
	)
	work := make(chan *Alarm)
	for range s.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range work {
				changed, tid, err := s.evaluate(ctx, set, a, now)
				mu.Lock()
				stats.Evaluated++
				if err != nil {
					stats.Errors++
				}
				if changed {
					stats.Transitions++
				}
				if tid != "" {
					batch = append(batch, tid)
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
	s.deliverLater(ctx, batch, set.DeliveryDelay)
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
// committed state change, and tid is the id of a committed transition
// whose delivery waits in the cycle's batch.
func (s *Scheduler) evaluate(ctx context.Context, set Settings, a *Alarm, now time.Time) (changed bool, tid string, err error) {
	m, err := s.parsed(a)
	if err != nil {
		s.metrics.evaluations.WithLabelValues("error").Inc()
		s.log.Warn("alarm rule unreadable", "alarm_id", a.ID, "error", err)
		return false, "", err
	}
	out, err := s.o.Evaluator.Evaluate(ctx, s.input(a, m), now)
	if err != nil {
		s.metrics.evaluations.WithLabelValues("error").Inc()
		s.log.Warn("alarm evaluation failed", "alarm_id", a.ID, "error", err)
		return false, "", err
	}
	if out.Skipped {
		s.metrics.evaluations.WithLabelValues("skipped").Inc()
		return false, "", nil
	}
	s.metrics.evaluations.WithLabelValues("ok").Inc()
	if !out.Changed && !out.Notify {
		return false, "", nil
	}
	return s.commit(ctx, set, a, out)
}

// commit proposes a transition. With a delivery delay, the transition's
// delivery is reserved here (no takeover on this member starts it) and
// its id returned for the caller's batch (deliverLater); without, its
// actions start at once.
func (s *Scheduler) commit(ctx context.Context, set Settings, a *Alarm, out rule.Outcome) (changed bool, tid string, err error) {
	var rd json.RawMessage
	if out.ReasonData != nil {
		b, err := json.Marshal(out.ReasonData)
		if err != nil {
			return false, "", fmt.Errorf("encode reason data: %w", err)
		}
		rd = b
	}
	c := Transition{
		TransitionID: newID(), AlarmID: a.ID, From: a.State, To: out.State, Reason: truncateReason(out.Reason),
		ReasonData: rd, Notify: out.Notify, UserID: a.UserID, ProjectID: a.ProjectID, Limits: set.Limits,
	}
	// Reserved before the commit, so that no takeover here can start the
	// delivery before its delay (a new id: always free).
	s.reserve(c.TransitionID)
	if err := s.o.Node.Apply(ctx, c); err != nil {
		s.release(c.TransitionID)
		if errors.Is(err, fsm.ErrConflict) || errors.Is(err, fsm.ErrNotFound) {
			// Changed or deleted since it was read: the next cycle decides.
			s.metrics.transitions.WithLabelValues("stale").Inc()
			return false, "", nil
		}
		s.metrics.transitions.WithLabelValues("failed").Inc()
		s.log.Warn("alarm transition not committed", "alarm_id", a.ID, "error", err)
		return false, "", fmt.Errorf("commit transition of %s: %w", a.ID, err)
	}
	s.metrics.transitions.WithLabelValues("committed").Inc()
	if out.Changed {
		s.log.Info("alarm state changed", "alarm_id", a.ID, "previous", a.State, "current", out.State, "transition_id", c.TransitionID)
	}
	if set.DeliveryDelay > 0 {
		return out.Changed, c.TransitionID, nil
	}
	s.startReserved(ctx, c.TransitionID)
	return out.Changed, "", nil
}

// reserve marks a transition's delivery as this member's; false when it
// already was (being delivered here, or waiting for its delay).
func (s *Scheduler) reserve(tid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[tid] {
		return false
	}
	s.inflight[tid] = true
	return true
}

func (s *Scheduler) release(tid string) {
	s.mu.Lock()
	delete(s.inflight, tid)
	s.mu.Unlock()
}

// deliverLater starts the reserved deliveries of tids together, once
// delay (the delivery delay when they were committed) has passed since the
// last of their commits; if ctx ends first they stay pending for the next
// owner (a takeover).
func (s *Scheduler) deliverLater(ctx context.Context, tids []string, delay time.Duration) {
	if len(tids) == 0 {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			for _, tid := range tids {
				s.release(tid)
			}
			return
		case <-t.C:
		}
		for _, tid := range tids {
			s.startReserved(ctx, tid)
		}
	}()
}

// startReserved starts the reserved delivery of tid with what is still
// pending of it (a takeover elsewhere may have finished it meanwhile).
func (s *Scheduler) startReserved(ctx context.Context, tid string) {
	d, ok := s.pending(tid)
	if !ok || len(d.Actions) == 0 {
		s.release(tid)
		return
	}
	s.run(ctx, d)
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
// member that died, or that failed to commit their outcome. The local
// state may be behind the leader's: a member that restarted starts from
// its last snapshot, where deliveries done since are pending (and old
// enough), and the leader's heartbeats give it its lease (Owns) seconds
// before the log entries after the snapshot arrive. So what looks due is
// read again after a barrier, and only what is still due then is run.
func (s *Scheduler) takeOver(ctx context.Context, now time.Time) {
	if len(s.due(now)) == 0 {
		return
	}
	bctx, cancel := context.WithTimeout(ctx, takeoverBarrier)
	err := s.o.Node.Barrier(bctx)
	cancel()
	if err != nil {
		s.log.Debug("pending deliveries not taken over: the local state is not known to be current", "error", err)
		return
	}
	for _, d := range s.due(now) {
		if s.reserve(d.TransitionID) {
			s.log.Info("taking over a pending delivery", "transition_id", d.TransitionID, "alarm_id", d.AlarmID, "committed", d.Committed)
			s.run(ctx, d)
		}
	}
}

// due returns the pending deliveries this member should take over at now
// by its applied state: owned, older than the takeover delay, and not
// already running or waiting here. It sets the pending gauge.
func (s *Scheduler) due(now time.Time) []Delivery {
	var ds []Delivery
	s.o.Node.FSM().Read(func(st *fsm.State) { ds = Of(st).Pending() })
	s.metrics.pending.Set(float64(len(ds)))
	delay := s.Settings().TakeoverDelay
	out := ds[:0]
	for _, d := range ds {
		if now.Sub(d.Committed) >= delay && s.o.Owns(d.AlarmID) {
			out = append(out, d)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.DeleteFunc(out, func(d Delivery) bool { return s.inflight[d.TransitionID] })
}

// run runs d's remaining actions, each in its own goroutine (a slow
// receiver delays nobody else), commits each outcome, and then releases
// d's reservation (the caller made it).
func (s *Scheduler) run(ctx context.Context, d Delivery) {
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
	c := DeliveryDone{TransitionID: transitionID, Action: u, Outcome: outcome, Detail: detail, Limits: s.Settings().Limits}
	if err := s.commitOutcome(ctx, c); err != nil {
		s.log.Warn("delivery outcome not committed; it will run again", "transition_id", transitionID, "error", err)
	}
}

// Retry bounds of commitOutcome.
const (
	outcomeRetry    = 100 * time.Millisecond
	outcomeMaxRetry = 2 * time.Second
)

// commitOutcome commits an action's outcome, retrying what the cluster
// itself does not retry, for at most the takeover delay. (Node.Apply
// already waits for a new leader when the old one's address refuses the
// request; it does not resend one that met a closing connection, since
// that may have been applied: for this command a second apply is
// harmless, so it is sent again here.) The delivery stays reserved here
// meanwhile, so no takeover on this member sends it again; an outcome
// lost for good is what makes a receiver see a transition twice. A
// DeliveryDone applied twice (an answer lost with the leader) is harmless:
// the second finds nothing pending (ErrNotFound).
func (s *Scheduler) commitOutcome(ctx context.Context, c DeliveryDone) error {
	ctx, cancel := context.WithTimeout(ctx, s.Settings().TakeoverDelay)
	defer cancel()
	wait := outcomeRetry
	for {
		err := s.o.Node.Apply(ctx, c)
		if err == nil || errors.Is(err, fsm.ErrNotFound) {
			return nil
		}
		if errors.Is(err, fsm.ErrInvalid) {
			return err
		}
		s.log.Debug("delivery outcome not committed yet; retrying", "transition_id", c.TransitionID, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, outcomeMaxRetry)
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
	set := s.Settings()
	var batch []string // the batch's transitions, delivered together
	defer func() { s.deliverLater(ctx, batch, set.DeliveryDelay) }()
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
			if _, tid, err := s.commit(ctx, set, a, out); err == nil {
				a.State = out.State // later events of the batch see it
				if tid != "" {
					batch = append(batch, tid)
				}
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
