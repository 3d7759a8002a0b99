package alarm

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/cluster"
	"github.com/altimeter/altimeter/host/cluster/fsm"
	"github.com/altimeter/altimeter/internal/peer"
)

// raftMember is a cluster member on real raft, for the tests of what a
// member restarting from its data dir does.
type raftMember struct {
	t    *testing.T
	cfg  cluster.Config
	node *cluster.Node
}

func startRaftMember(t *testing.T, id string, join ...string) *raftMember {
	t.Helper()
	p, err := peer.FreePort("tcp")
	require.NoError(t, err)
	m := &raftMember{t: t, cfg: cluster.Config{
		NodeID: id, Dir: filepath.Join(t.TempDir(), "raft"), BindAddress: fmt.Sprintf("127.0.0.1:%d", p), Join: join,
		HeartbeatTimeout: 2 * time.Second, APIAddress: "127.0.0.1:1", Logger: hclog.NewNullLogger(),
	}}
	m.open()
	t.Cleanup(func() { _ = m.node.Close() })
	return m
}

func (m *raftMember) open() {
	m.t.Helper()
	n, err := cluster.Open(m.cfg)
	require.NoError(m.t, err)
	m.node = n
}

// TestIntegrationRestartedMemberResendsNothing: a member restarted from
// its data dir replays its log once the leader has contacted it, and
// passes through states where deliveries done long ago are pending again.
// Takeover checks run meanwhile (as the scheduler's do from its start)
// must send none of them: each was delivered once already.
func TestIntegrationRestartedMemberResendsNothing(t *testing.T) {
	t.Parallel()
	m1 := startRaftMember(t, "n1")
	m2 := startRaftMember(t, "n2", m1.node.Address())
	m3 := startRaftMember(t, "n3", m1.node.Address())
	ms := []*raftMember{m1, m2, m3}
	ctx := t.Context()
	waitFor(t, func() bool {
		f := m1.node.Raft().GetConfiguration()
		return f.Error() == nil && len(f.Configuration().Servers) == 3 && m2.node.CaughtUp() && m3.node.CaughtUp()
	})
	// Every alarm's transition is committed and delivered (its outcomes
	// committed too), by whichever member.
	const nAlarms = 40
	for i := range nAlarms {
		a := testAlarm(fmt.Sprintf("a%03d", i), "p1", fmt.Sprintf("name-%03d", i))
		n := ms[i%3].node
		require.NoError(t, n.Apply(ctx, Create{Alarm: a, EventID: "ev-" + a.ID, Limits: DefaultHistoryLimits}))
		require.NoError(t, n.Apply(ctx, Transition{TransitionID: "t-" + a.ID, AlarmID: a.ID, From: StateInsufficientData, To: StateAlarm, Notify: true, Limits: DefaultHistoryLimits}))
	}
	for i := range nAlarms {
		a := testAlarm(fmt.Sprintf("a%03d", i), "p1", "")
		for _, u := range a.AlarmActions {
			require.NoError(t, ms[i%3].node.Apply(ctx, DeliveryDone{TransitionID: "t-" + a.ID, Action: u, Outcome: OutcomeDelivered, Limits: DefaultHistoryLimits}))
		}
	}
	var f *raftMember
	for _, m := range ms {
		if !m.node.IsLeader() {
			f = m
		}
	}
	require.NoError(t, f.node.Barrier(ctx))
	require.NoError(t, f.node.Close())
	f.open()

	// The restarted member checks for takeovers while it replays, as its
	// scheduler does, with every alarm its own and every delivery old
	// enough.
	nt := &countNotifier{calls: map[string]int{}}
	s := NewScheduler(SchedulerOptions{Node: f.node, Evaluator: &stateEval{state: map[string]string{}}, Notifier: nt,
		Limits: DefaultHistoryLimits, TakeoverDelay: time.Nanosecond})
	caughtUp := false
	for deadline := time.Now().Add(20 * time.Second); !caughtUp && time.Now().Before(deadline); {
		caughtUp = f.node.CaughtUp() && len(pendingIn(f.node)) == 0
		s.takeOver(ctx, time.Now())
	}
	s.wg.Wait()
	require.True(t, caughtUp, "the restarted member caught up")
	require.Empty(t, nt.snapshot(), "deliveries done before the restart sent again")
}

// pendingIn is what the node's applied state holds pending.
func pendingIn(n Node) []Delivery {
	var ds []Delivery
	n.FSM().Read(func(st *fsm.State) { ds = Of(st).Pending() })
	return ds
}
