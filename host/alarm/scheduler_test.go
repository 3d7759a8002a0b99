package alarm

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/alarm/action"
	"github.com/altimeter/altimeter/host/alarm/rule"
	"github.com/altimeter/altimeter/host/cluster/fsm"
	"github.com/altimeter/altimeter/host/config"
	"github.com/altimeter/altimeter/sdk/sample"
)

// stateEval answers each alarm with the state set for it.
type stateEval struct {
	mu    sync.Mutex
	state map[string]string
}

func (e *stateEval) set(id, st string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state[id] = st
}

func (e *stateEval) Evaluate(_ context.Context, in rule.Input, _ time.Time) (rule.Outcome, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, ok := e.state[in.AlarmID]
	if !ok {
		return rule.Outcome{}, errors.New("no data")
	}
	changed := st != in.State
	return rule.Outcome{State: st, Reason: "because", ReasonData: map[string]any{"type": "test"}, Changed: changed, Notify: changed || in.RepeatActions}, nil
}

// countNotifier counts notifications per transition id and action.
type countNotifier struct {
	mu    sync.Mutex
	calls map[string]int
	fail  error
}

func (n *countNotifier) Notify(_ context.Context, u string, nt action.Notification) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls[nt.TransitionID+" "+u]++
	return n.fail
}

func (n *countNotifier) snapshot() map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string]int{}
	for k, v := range n.calls {
		out[k] = v
	}
	return out
}

func newTestScheduler(t *testing.T, node *MemNode, owns func(string) bool) (*Scheduler, *stateEval, *countNotifier) {
	t.Helper()
	ev := &stateEval{state: map[string]string{}}
	nt := &countNotifier{calls: map[string]int{}}
	s := NewScheduler(SchedulerOptions{Node: node, Owns: owns, Evaluator: ev, Notifier: nt, Limits: DefaultHistoryLimits, TakeoverDelay: time.Second})
	return s, ev, nt
}

func addAlarm(t *testing.T, n *MemNode, id, typ string, r string) {
	t.Helper()
	a := testAlarm(id, "p1", "name-"+id)
	a.Type, a.Rule = typ, json.RawMessage(r)
	require.NoError(t, n.Apply(t.Context(), Create{Alarm: a, EventID: "ev-" + id, Limits: DefaultHistoryLimits}))
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, 5*time.Millisecond)
}

func TestSchedulerCommitsThenNotifiesOnce(t *testing.T) {
	t.Parallel()
	n := NewMemNode()
	addAlarm(t, n, "a1", "threshold", `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt"}`)
	addAlarm(t, n, "a2", "threshold", `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt"}`)
	s, ev, nt := newTestScheduler(t, n, func(id string) bool { return id == "a1" })
	ev.set("a1", StateAlarm)
	ev.set("a2", StateAlarm)
	st := s.Cycle(t.Context())
	require.Equal(t, 1, st.Evaluated, "only the owned alarm")
	require.Equal(t, 1, st.Transitions)
	a, _ := getAlarm(n, "a1")
	require.Equal(t, StateAlarm, a.State)
	require.Equal(t, "because", a.StateReason)
	waitFor(t, func() bool { return len(pendingOf(n)) == 0 })
	calls := nt.snapshot()
	require.Len(t, calls, 2, "both alarm actions of the one transition")
	for k, v := range calls {
		require.Equal(t, 1, v, k)
	}
	// Unchanged state, no repeat_actions: nothing more.
	st = s.Cycle(t.Context())
	require.Equal(t, 0, st.Transitions)
	s.wg.Wait()
	require.Len(t, nt.snapshot(), 2)
	// Back to ok: one more transition, its ok action once.
	ev.set("a1", StateOK)
	s.Cycle(t.Context())
	waitFor(t, func() bool { return len(pendingOf(n)) == 0 })
	require.Len(t, nt.snapshot(), 3)
}

func TestSchedulerTakesOverUnfinishedDelivery(t *testing.T) {
	t.Parallel()
	n := NewMemNode()
	now := time.Now()
	n.Now = func() time.Time { return now }
	addAlarm(t, n, "a1", "threshold", `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt"}`)
	// Another member committed the transition and died before delivering.
	require.NoError(t, n.Apply(t.Context(), Transition{TransitionID: "t-dead", AlarmID: "a1", From: StateInsufficientData, To: StateAlarm, Notify: true, Limits: DefaultHistoryLimits}))
	s, ev, nt := newTestScheduler(t, n, nil)
	ev.set("a1", StateAlarm)
	s.o.Now = func() time.Time { return now.Add(500 * time.Millisecond) }
	s.Cycle(t.Context())
	s.wg.Wait()
	require.Empty(t, nt.snapshot(), "too fresh: the committing member may still be delivering")
	s.o.Now = func() time.Time { return now.Add(2 * time.Second) }
	s.Cycle(t.Context())
	waitFor(t, func() bool { return len(pendingOf(n)) == 0 })
	require.Equal(t, map[string]int{"t-dead http://127.0.0.1:9/a": 1, "t-dead log://": 1}, nt.snapshot())
}

func TestSchedulerFailedDeliveryRecorded(t *testing.T) {
	t.Parallel()
	n := NewMemNode()
	addAlarm(t, n, "a1", "threshold", `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt"}`)
	s, ev, nt := newTestScheduler(t, n, nil)
	nt.fail = errors.New("receiver answered 500")
	ev.set("a1", StateAlarm)
	s.Cycle(t.Context())
	waitFor(t, func() bool { return len(pendingOf(n)) == 0 })
	var failed int
	n.FSM().Read(func(st *fsm.State) {
		for _, c := range Of(st).History("a1") {
			if c.Type == ChangeAction {
				require.Contains(t, c.Detail, `"outcome":"failed"`)
				failed++
			}
		}
	})
	require.Equal(t, 2, failed)
}

func TestSchedulerQueueFullStaysPending(t *testing.T) {
	t.Parallel()
	n := NewMemNode()
	addAlarm(t, n, "a1", "threshold", `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt"}`)
	s, ev, nt := newTestScheduler(t, n, nil)
	nt.fail = action.ErrQueueFull
	ev.set("a1", StateAlarm)
	s.Cycle(t.Context())
	s.wg.Wait()
	require.Len(t, pendingOf(n), 1)
	require.Len(t, pendingOf(n)[0].Actions, 2)
}

func TestSchedulerEventAlarm(t *testing.T) {
	t.Parallel()
	n := NewMemNode()
	addAlarm(t, n, "e1", "event", `{"event_type":"compute.instance.*","query":[{"field":"traits.state","op":"eq","value":"error"}]}`)
	s, _, nt := newTestScheduler(t, n, nil)
	ev := func(state, project string) sample.Event {
		return sample.Event{MessageID: "m-" + state + project, EventType: "compute.instance.update", Traits: []sample.Trait{
			{Name: "state", Type: sample.TraitText, Text: state}, {Name: "project_id", Type: sample.TraitText, Text: project}}}
	}
	s.evaluateEvents(t.Context(), []sample.Event{ev("active", "p1"), ev("error", "p2")})
	a, _ := getAlarm(n, "e1")
	require.Equal(t, StateInsufficientData, a.State, "no match, and another project's event")
	s.evaluateEvents(t.Context(), []sample.Event{ev("error", "p1"), ev("error", "p1")})
	a, _ = getAlarm(n, "e1")
	require.Equal(t, StateAlarm, a.State)
	require.Contains(t, a.StateReason, "Event <id=m-errorp1")
	waitFor(t, func() bool { return len(pendingOf(n)) == 0 })
	require.Len(t, nt.snapshot(), 2, "one transition (the second event finds the alarm in alarm), two actions")
}

func getAlarm(n *MemNode, id string) (Alarm, bool) {
	var (
		a  Alarm
		ok bool
	)
	n.FSM().Read(func(st *fsm.State) { a, ok = Of(st).Get(id) })
	return a, ok
}

func pendingOf(n *MemNode) []Delivery {
	var ds []Delivery
	n.FSM().Read(func(st *fsm.State) { ds = Of(st).Pending() })
	return ds
}

// hangNotifier blocks on one receiver until released; others answer at
// once.
type hangNotifier struct {
	countNotifier
	hang    string
	release chan struct{}
}

func (n *hangNotifier) Notify(ctx context.Context, u string, nt action.Notification) error {
	if u == n.hang {
		select {
		case <-n.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return n.countNotifier.Notify(ctx, u, nt)
}

// TestSchedulerHangingReceiverDelaysNobody: a receiver that hangs holds
// only its own action; the alarm's other action and other alarms' actions
// are delivered, and the hanging one is delivered once released.
func TestSchedulerHangingReceiverDelaysNobody(t *testing.T) {
	t.Parallel()
	n := NewMemNode()
	addAlarm(t, n, "a1", "threshold", `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt"}`)
	addAlarm(t, n, "a2", "threshold", `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt"}`)
	ev := &stateEval{state: map[string]string{"a1": StateAlarm, "a2": StateAlarm}}
	nt := &hangNotifier{countNotifier: countNotifier{calls: map[string]int{}}, hang: "http://127.0.0.1:9/a", release: make(chan struct{})}
	s := NewScheduler(SchedulerOptions{Node: n, Evaluator: ev, Notifier: nt, Limits: DefaultHistoryLimits})
	st := s.Cycle(t.Context())
	require.Equal(t, 2, st.Transitions, "the cycle does not wait for deliveries")
	waitFor(t, func() bool { return len(nt.snapshot()) == 2 }) // both log:// actions
	// Their outcomes are committed after Notify returns: wait for them.
	waitFor(t, func() bool {
		ds := pendingOf(n)
		for _, d := range ds {
			if len(d.Actions) != 1 {
				return false
			}
		}
		return len(ds) == 2
	})
	for _, d := range pendingOf(n) {
		require.Equal(t, []string{"http://127.0.0.1:9/a"}, d.Actions, "only the hanging action is pending")
	}
	close(nt.release)
	waitFor(t, func() bool { return len(pendingOf(n)) == 0 })
	require.Len(t, nt.snapshot(), 4)
}

// TestSchedulerEventsAfterStop: the store publisher is never blocked by a
// stopped scheduler.
func TestSchedulerEventsAfterStop(t *testing.T) {
	t.Parallel()
	s, _, _ := newTestScheduler(t, NewMemNode(), nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx)
	}()
	cancel()
	<-done
	evs := []sample.Event{{MessageID: "m", EventType: "x"}}
	for range maxEventQueue + 1 {
		s.Events(t.Context(), evs)
	}
}

// TestSchedulerDeliveryDelay: a cycle's transitions are delivered
// together, DeliveryDelay after its commits. A member that dies within the
// delay (its context ends) has sent nothing, and the next owner sends each
// action once.
func TestSchedulerDeliveryDelay(t *testing.T) {
	t.Parallel()
	n := NewMemNode()
	now := time.Now()
	n.Now = func() time.Time { return now }
	addAlarm(t, n, "a1", "threshold", `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt"}`)
	addAlarm(t, n, "a2", "threshold", `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt"}`)
	ev := &stateEval{state: map[string]string{"a1": StateAlarm, "a2": StateAlarm}}
	dead := &countNotifier{calls: map[string]int{}}
	ctx, die := context.WithCancel(t.Context())
	s := NewScheduler(SchedulerOptions{Node: n, Evaluator: ev, Notifier: dead, Limits: DefaultHistoryLimits,
		DeliveryDelay: time.Hour, TakeoverDelay: 2 * time.Second, Now: func() time.Time { return now.Add(3 * time.Second) }})
	st := s.Cycle(ctx)
	require.Equal(t, 2, st.Transitions)
	s.takeOver(ctx, now.Add(time.Minute))
	require.Empty(t, dead.snapshot(), "its own deliveries wait for the delay, takeover or not")
	require.Len(t, pendingOf(n), 2)
	die()
	s.wg.Wait()
	require.Empty(t, dead.snapshot(), "died within the delay: nothing sent")

	next, _, nt := newTestScheduler(t, n, nil)
	next.o.Now = func() time.Time { return now.Add(3 * time.Second) }
	next.Cycle(t.Context())
	waitFor(t, func() bool { return len(pendingOf(n)) == 0 })
	calls := nt.snapshot()
	require.Len(t, calls, 4, "two actions of two transitions")
	for k, v := range calls {
		require.Equal(t, 1, v, k)
	}

	// A live member delivers once the delay has passed.
	ev.set("a1", StateOK)
	live := &countNotifier{calls: map[string]int{}}
	s = NewScheduler(SchedulerOptions{Node: n, Evaluator: ev, Notifier: live, Limits: DefaultHistoryLimits, DeliveryDelay: 300 * time.Millisecond})
	start := time.Now()
	require.Equal(t, 1, s.Cycle(t.Context()).Transitions)
	require.Empty(t, live.snapshot())
	waitFor(t, func() bool { return len(pendingOf(n)) == 0 })
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	require.Len(t, live.snapshot(), 1, "the ok action, once")
}

// TestSchedulerReconfigure: a new interval applies to the running
// scheduler, and a delivery waiting for its delay when the settings change
// is still delivered, once.
func TestSchedulerReconfigure(t *testing.T) {
	t.Parallel()
	n := NewMemNode()
	addAlarm(t, n, "a1", "threshold", `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt"}`)
	ev := &stateEval{state: map[string]string{"a1": StateAlarm}}
	nt := &countNotifier{calls: map[string]int{}}
	s := NewScheduler(SchedulerOptions{Node: n, Evaluator: ev, Notifier: nt, Limits: DefaultHistoryLimits,
		Interval: time.Hour, DeliveryDelay: 500 * time.Millisecond})
	require.Equal(t, Settings{Interval: time.Hour, DeliveryDelay: 500 * time.Millisecond, TakeoverDelay: config.AlarmDefaults().TakeoverDelay, Limits: DefaultHistoryLimits}, s.Settings())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	time.Sleep(100 * time.Millisecond)
	a, _ := getAlarm(n, "a1")
	require.Equal(t, StateInsufficientData, a.State, "an hour to the first cycle")
	s.Reconfigure(Settings{Interval: 50 * time.Millisecond, DeliveryDelay: 200 * time.Millisecond, Limits: DefaultHistoryLimits})
	waitFor(t, func() bool { a, _ := getAlarm(n, "a1"); return a.State == StateAlarm })
	require.Len(t, pendingOf(n), 1, "waiting for its delivery delay")
	s.Reconfigure(Settings{Interval: time.Hour, DeliveryDelay: time.Hour, TakeoverDelay: time.Hour, Limits: DefaultHistoryLimits})
	waitFor(t, func() bool { return len(pendingOf(n)) == 0 })
	require.Equal(t, map[string]int{}, filterCalls(nt.snapshot(), 1), "each action once")
	require.Len(t, nt.snapshot(), 2)
}

// filterCalls returns the calls not made exactly want times.
func filterCalls(calls map[string]int, want int) map[string]int {
	out := map[string]int{}
	for k, v := range calls {
		if v != want {
			out[k] = v
		}
	}
	return out
}

// flakyNode fails the first fails DeliveryDone commits as a dead
// leader's address does.
type flakyNode struct {
	*MemNode
	mu    sync.Mutex
	fails int
}

func (n *flakyNode) Apply(ctx context.Context, c fsm.Command) error {
	if _, ok := c.(DeliveryDone); ok {
		n.mu.Lock()
		fail := n.fails > 0
		n.fails--
		n.mu.Unlock()
		if fail {
			return errors.New("member unreachable: connection refused")
		}
	}
	return n.MemNode.Apply(ctx, c)
}

// TestSchedulerOutcomeCommitRetried: an outcome that cannot be committed
// at first (the leader died) is committed once the cluster takes it again;
// the delivery is not sent twice meanwhile, even by a takeover.
func TestSchedulerOutcomeCommitRetried(t *testing.T) {
	t.Parallel()
	mem := NewMemNode()
	addAlarm(t, mem, "a1", "threshold", `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt"}`)
	n := &flakyNode{MemNode: mem, fails: 4}
	ev := &stateEval{state: map[string]string{"a1": StateAlarm}}
	nt := &countNotifier{calls: map[string]int{}}
	s := NewScheduler(SchedulerOptions{Node: n, Evaluator: ev, Notifier: nt, Limits: DefaultHistoryLimits, TakeoverDelay: 5 * time.Second})
	s.Cycle(t.Context())
	waitFor(t, func() bool { return len(nt.snapshot()) == 2 })
	s.takeOver(t.Context(), time.Now().Add(time.Minute)) // while the outcomes are retried
	waitFor(t, func() bool { return len(pendingOf(mem)) == 0 })
	s.takeOver(t.Context(), time.Now().Add(time.Minute))
	s.wg.Wait()
	require.Equal(t, map[string]int{}, filterCalls(nt.snapshot(), 1), "each action once")
}

// replicaNode is a member whose applied state may be behind the committed
// log, as a member that restarted and replays its log after the leader's
// first contact: Apply commits and applies up to the new entry (a writer
// reads its own write), commitElsewhere commits an entry this member has
// not applied yet, and Barrier applies the whole log.
type replicaNode struct {
	now func() time.Time

	mu       sync.Mutex
	f        *fsm.FSM
	log      [][]byte // committed entries, encoded
	applied  int      // entries of log applied to f
	barriers int
}

func newReplicaNode(now func() time.Time) *replicaNode {
	return &replicaNode{now: now, f: fsm.New(hclog.NewNullLogger())}
}

func (n *replicaNode) commitElsewhere(t *testing.T, c fsm.Command) {
	t.Helper()
	b, err := fsm.Encode(c, n.now())
	require.NoError(t, err)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.log = append(n.log, b)
}

// applyUpTo applies the log's entries up to the index'th (1-based),
// returning the last one's answer.
func (n *replicaNode) applyUpTo(index int) error {
	var err error
	for ; n.applied < index; n.applied++ {
		res := n.f.Apply(&raft.Log{Index: uint64(n.applied + 1), Term: 1, Type: raft.LogCommand, Data: n.log[n.applied]})
		err, _ = res.(error)
	}
	return err
}

func (n *replicaNode) Apply(_ context.Context, c fsm.Command) error {
	b, err := fsm.Encode(c, n.now())
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.log = append(n.log, b)
	return n.applyUpTo(len(n.log))
}

func (n *replicaNode) Barrier(context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.barriers++
	_ = n.applyUpTo(len(n.log))
	return nil
}

func (n *replicaNode) FSM() *fsm.FSM { return n.f }

// TestSchedulerTakeOverReadsCurrentState: a member whose state is behind
// (restarted, replaying its log) sees a delivery pending that was done
// long ago; it takes over only what is still pending once it has caught
// up. (ci5 of TestIntegrationAlarmFailover: an alarm's first transition,
// delivered and done, was delivered again by the member restarted after
// the member kill.)
func TestSchedulerTakeOverReadsCurrentState(t *testing.T) {
	t.Parallel()
	committed := time.Now()
	n := newReplicaNode(func() time.Time { return committed })
	a := testAlarm("a1", "p1", "name-a1")
	require.NoError(t, n.Apply(t.Context(), Create{Alarm: a, EventID: "ev-a1", Limits: DefaultHistoryLimits}))
	b := testAlarm("a2", "p1", "name-a2")
	require.NoError(t, n.Apply(t.Context(), Create{Alarm: b, EventID: "ev-a2", Limits: DefaultHistoryLimits}))
	// Both alarms' transitions were committed long ago; a1's was
	// delivered (its outcomes committed: entries this member has not
	// replayed yet), a2's committing member died before delivering.
	require.NoError(t, n.Apply(t.Context(), Transition{TransitionID: "t-done", AlarmID: "a1", From: StateInsufficientData, To: StateAlarm, Notify: true, Limits: DefaultHistoryLimits}))
	require.NoError(t, n.Apply(t.Context(), Transition{TransitionID: "t-dead", AlarmID: "a2", From: StateInsufficientData, To: StateAlarm, Notify: true, Limits: DefaultHistoryLimits}))
	for _, u := range a.AlarmActions {
		n.commitElsewhere(t, DeliveryDone{TransitionID: "t-done", Action: u, Outcome: OutcomeDelivered, Limits: DefaultHistoryLimits})
	}
	ev := &stateEval{state: map[string]string{}}
	nt := &countNotifier{calls: map[string]int{}}
	s := NewScheduler(SchedulerOptions{Node: n, Evaluator: ev, Notifier: nt, Limits: DefaultHistoryLimits, TakeoverDelay: time.Second})
	s.takeOver(t.Context(), committed.Add(time.Minute))
	s.wg.Wait()
	require.Equal(t, map[string]int{"t-dead http://127.0.0.1:9/a": 1, "t-dead log://": 1}, nt.snapshot(),
		"only what is still pending at the leader is taken over")
	s.takeOver(t.Context(), committed.Add(time.Minute))
	s.wg.Wait()
	require.Equal(t, 1, n.barriers, "nothing due: no barrier")
}
