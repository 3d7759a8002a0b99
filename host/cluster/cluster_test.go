package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/auth"
	"github.com/altimeter/altimeter/host/cluster/fsm"
	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/sample"
)

const testHB = 500 * time.Millisecond

func testLogger(t *testing.T, name string) hclog.Logger {
	t.Helper()
	w := &testWriter{t: t}
	t.Cleanup(w.close)
	return hclog.New(&hclog.LoggerOptions{Name: name, Output: w, Level: hclog.Info})
}

type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

// freeAddr is an address for a member to bind later (see peer.FreePort).
func freeAddr(t *testing.T) string {
	t.Helper()
	p, err := peer.FreePort("tcp")
	require.NoError(t, err)
	return fmt.Sprintf("127.0.0.1:%d", p)
}

type member struct {
	t    *testing.T
	cfg  Config
	node *Node
}

func newMember(t *testing.T, id string, join ...string) *member {
	t.Helper()
	m := &member{t: t, cfg: Config{
		NodeID: id, Dir: filepath.Join(t.TempDir(), "raft"), BindAddress: freeAddr(t), Join: join,
		HeartbeatTimeout: testHB, APIAddress: "127.0.0.1:1", Logger: testLogger(t, id),
	}}
	m.start()
	t.Cleanup(func() { _ = m.node.Close() })
	return m
}

func (m *member) start() {
	m.t.Helper()
	n, err := Open(m.cfg)
	require.NoError(m.t, err)
	n.SetCapabilities([]string{"pollster.snmp"}, nil)
	m.node = n
	m.cfg.BindAddress = n.Address()
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func live(n *Node) []string {
	var out []string
	for _, m := range n.view.Load().live {
		out = append(out, m.ID)
	}
	return out
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// threeMembers starts n1 (bootstrap) and n2, n3 joining it, and waits for
// a partition map with all three on every member.
func threeMembers(t *testing.T) []*member {
	m1 := newMember(t, "n1")
	m2 := newMember(t, "n2", m1.node.Address())
	m3 := newMember(t, "n3", m1.node.Address())
	ms := []*member{m1, m2, m3}
	waitFor(t, 20*time.Second, "three live members everywhere", func() bool {
		for _, m := range ms {
			if len(live(m.node)) != 3 {
				return false
			}
		}
		return true
	})
	return ms
}

// followerOf returns a member that is not the leader (the last one).
func followerOf(ms []*member) *member {
	var f *member
	for _, m := range ms {
		if !m.node.IsLeader() {
			f = m
		}
	}
	return f
}

func leaderOf(t *testing.T, ms []*member) *member {
	t.Helper()
	var out *member
	waitFor(t, 15*time.Second, "a leader", func() bool {
		for _, m := range ms {
			if m.node != nil && m.node.IsLeader() {
				out = m
				return true
			}
		}
		return false
	})
	return out
}

func TestIntegrationClusterTokensAndFailover(t *testing.T) {
	t.Parallel()
	ms := threeMembers(t)
	ctx := ctxT(t)
	// Writes from a follower are forwarded; the token works everywhere.
	follower := followerOf(ms)
	tok, p, err := follower.node.Tokens().Create(ctx, "demo", auth.RoleMember)
	require.NoError(t, err)
	_, err = follower.node.Tokens().Authenticate(ctx, tok)
	require.NoError(t, err, "read-your-writes on the member that proposed")
	for _, m := range ms {
		waitFor(t, time.Second, "the token on "+m.node.ID(), func() bool {
			_, err := m.node.Tokens().Authenticate(ctx, tok)
			return err == nil
		})
	}
	// A revoke is refused everywhere within a second.
	require.NoError(t, ms[0].node.Tokens().Revoke(ctx, p.TokenID))
	for _, m := range ms {
		waitFor(t, time.Second, "the revoke on "+m.node.ID(), func() bool {
			_, err := m.node.Tokens().Authenticate(ctx, tok)
			return err != nil
		})
	}
	require.ErrorIs(t, ms[1].node.Tokens().Revoke(ctx, p.TokenID), auth.ErrUnknownToken)

	// Kill the leader: a new one, and a map without it.
	old := leaderOf(t, ms)
	before, _, err := follower.node.Tokens().Create(ctx, "p", auth.RoleMember)
	require.NoError(t, err)
	require.NoError(t, old.node.Close())
	var rest []*member
	for _, m := range ms {
		if m != old {
			rest = append(rest, m)
		}
	}
	nl := leaderOf(t, rest)
	require.NotEqual(t, old.node.ID(), nl.node.ID())
	waitFor(t, 10*time.Second, "a partition map without the old leader", func() bool {
		for _, m := range rest {
			if len(live(m.node)) != 2 {
				return false
			}
		}
		return true
	})
	after, _, err := rest[0].node.Tokens().Create(ctx, "p", auth.RoleMember)
	require.NoError(t, err)
	for _, m := range rest {
		for _, tk := range []string{before, after} {
			waitFor(t, time.Second, "tokens on the survivors", func() bool {
				_, err := m.node.Tokens().Authenticate(ctx, tk)
				return err == nil
			})
		}
	}
	// The old leader restarts from its data dir, without join, catches
	// up and gets its share back.
	old.start()
	waitFor(t, 15*time.Second, "the old leader back in the map", func() bool {
		for _, m := range ms {
			if len(live(m.node)) != 3 {
				return false
			}
		}
		return true
	})
	waitFor(t, 5*time.Second, "the restarted member has the later token", func() bool {
		_, err := old.node.Tokens().Authenticate(ctx, after)
		return err == nil
	})
}

func TestIntegrationClusterOwnership(t *testing.T) {
	t.Parallel()
	ms := threeMembers(t)
	var rs []sample.Resource
	for i := range 60 {
		id := fmt.Sprintf("snmp://127.0.0.%d:161", i+2)
		rs = append(rs, sample.Resource{ID: id, Endpoint: id})
	}
	count := func(ms []*member) map[string]int {
		c := map[string]int{}
		for _, r := range rs {
			owners := 0
			for _, m := range ms {
				if m.node.Owns("pollster.snmp", r) {
					owners++
					c[m.node.ID()]++
				}
			}
			require.Equal(t, 1, owners, "resource %s has %d owners", r.ID, owners)
		}
		return c
	}
	c := count(ms)
	require.Len(t, c, 3, "every member owns a share: %v", c)
	// Local resources are always owned; a pollster no member runs is
	// nobody's.
	require.True(t, ms[0].node.Owns("pollster.host", sample.Resource{ID: "h"}))
	require.False(t, ms[0].node.Owns("pollster.ipmi", rs[0]))
	p := ms[0].node.Partitions(context.Background())
	require.Len(t, p.Resources, 61)
	require.Equal(t, c["n1"], p.Counts["n1"])
}

func TestIntegrationClusterBadInput(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	m1 := newMember(t, "n1")
	waitFor(t, 10*time.Second, "n1 live", func() bool { return len(live(m1.node)) == 1 })
	// A wrong address: nothing answers there; the cluster keeps its quorum.
	err := m1.node.Join(ctx, "n9", freeAddr(t))
	require.ErrorIs(t, err, ErrUnreachable)
	// An address that answers as another node.
	m2 := newMember(t, "n2", "127.0.0.1:1") // joins nowhere useful
	err = m1.node.Join(ctx, "n7", m2.node.Address())
	require.ErrorIs(t, err, fsm.ErrInvalid)
	require.ErrorContains(t, err, `answers as node "n2", not "n7"`)
	// A duplicate node id at another address.
	require.NoError(t, m1.node.Join(ctx, "n2", m2.node.Address()))
	m3 := newMember(t, "n2", "127.0.0.1:1")
	err = m1.node.Join(ctx, "n2", m3.node.Address())
	require.ErrorIs(t, err, fsm.ErrConflict)
	require.ErrorContains(t, err, `node id "n2" is already a member`)
	// Removing the leader.
	err = m2.node.Remove(ctx, "n1")
	require.ErrorIs(t, err, ErrRemoveLeader)
	require.ErrorContains(t, err, "cluster leave")
	err = m1.node.Remove(ctx, "nobody")
	require.ErrorIs(t, err, fsm.ErrNotFound)
	// Bad ids and addresses never reach raft.
	require.ErrorIs(t, m1.node.Join(ctx, "bad id", "127.0.0.1:1"), fsm.ErrInvalid)
	require.ErrorIs(t, m1.node.Join(ctx, "n5", "nowhere"), fsm.ErrInvalid)
}

func TestOpenRefusesDamagedState(t *testing.T) {
	t.Parallel()
	m := newMember(t, "n1")
	waitFor(t, 10*time.Second, "n1 live", func() bool { return len(live(m.node)) == 1 })
	_, _, err := m.node.Tokens().Create(ctxT(t), "p", auth.RoleMember)
	require.NoError(t, err)
	require.NoError(t, m.node.Close())
	dir := m.cfg.Dir
	db := filepath.Join(dir, raftDBFile)

	// Another node id on the same directory.
	cfg := m.cfg
	cfg.NodeID = "other"
	_, err = Open(cfg)
	require.ErrorContains(t, err, `belongs to node "n1", not "other"`)

	// A corrupted raft.db.
	orig, err := os.ReadFile(db)
	require.NoError(t, err)
	bad := append([]byte{}, orig...)
	for i := 0; i < 8192 && i < len(bad); i++ { // both meta pages
		bad[i] = 0xA5
	}
	require.NoError(t, os.WriteFile(db, bad, 0o600))
	_, err = Open(m.cfg)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "raft.db")

	// A missing raft.db (and no snapshot) with the node-id marker: never a
	// silently empty member.
	require.NoError(t, os.Remove(db))
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "snapshots")))
	_, err = Open(m.cfg)
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, "refusing to start with an empty state")
}

func TestAssignMovesOnlyItsShare(t *testing.T) {
	t.Parallel()
	mk := func(ids ...string) []fsm.Member {
		var out []fsm.Member
		for _, id := range ids {
			out = append(out, fsm.Member{ID: id, Pollsters: []string{"p"}})
		}
		return out
	}
	three, four := mk("a", "b", "c"), mk("a", "b", "c", "d")
	moved, n := 0, 10000
	per := map[string]int{}
	for i := range n {
		k := fmt.Sprintf("r%d", i)
		o3, o4 := Assign(three, "p", k), Assign(four, "p", k)
		per[o3]++
		if o3 != o4 {
			moved++
			require.Equal(t, "d", o4, "a join moves keys only to the new member")
		}
	}
	require.InDelta(t, 0.25, float64(moved)/float64(n), 0.03)
	for _, c := range per {
		require.InDelta(t, n/3, c, float64(n)/20, "balanced: %v", per)
	}
	require.Equal(t, "", Assign(mk("a"), "q", "k"), "no member runs q")
	require.Equal(t, "snmp://host:161/x?resource_id=r1&version=3", redact("snmp://secret@host:161/x?password=p&priv_password_env=X&resource_id=r1&version=3"))
}

func TestAssignAlarmSpreadsAndMovesOnlyItsShare(t *testing.T) {
	t.Parallel()
	three := []fsm.Member{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	two := three[:2]
	per := map[string]int{}
	n := 9000
	for i := range n {
		id := fmt.Sprintf("alarm-%d", i)
		o3, o2 := AssignAlarm(three, id), AssignAlarm(two, id)
		per[o3]++
		if o3 != "c" {
			require.Equal(t, o3, o2, "c leaving moves only c's alarms")
		}
	}
	for _, c := range per {
		require.InDelta(t, n/3, c, float64(n)/20, "balanced: %v", per)
	}
	require.Equal(t, "", AssignAlarm(nil, "x"))
}

// TestIntegrationRestartNeverUnauthorized: a restarted member replays its
// log after it opens; until it has caught up, a token it has not replayed
// yet is auth.ErrNotReady (503), never auth.ErrUnauthorized (401).
func TestIntegrationRestartNeverUnauthorized(t *testing.T) {
	t.Parallel()
	m := newMember(t, "solo")
	ctx := ctxT(t)
	waitFor(t, 10*time.Second, "caught up", m.node.CaughtUp)
	var toks []string
	for range 50 {
		tok, _, err := m.node.Tokens().Create(ctx, "p", auth.RoleMember)
		require.NoError(t, err)
		toks = append(toks, tok)
	}
	require.NoError(t, m.node.Close())
	m.start()
	notReady := 0
	for !m.node.CaughtUp() {
		for _, tok := range toks {
			_, err := m.node.Tokens().Authenticate(ctx, tok)
			if err != nil {
				require.ErrorIs(t, err, auth.ErrNotReady, "a valid token before catch-up")
				notReady++
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("%d lookups answered not ready before catch-up", notReady)
	for _, tok := range toks {
		_, err := m.node.Tokens().Authenticate(ctx, tok)
		require.NoError(t, err)
	}
	_, err := m.node.Tokens().Authenticate(ctx, "no-such-token")
	require.ErrorIs(t, err, auth.ErrUnauthorized)
}

// TestIntegrationFollowerRestartNeverUnauthorized: the same for a
// follower, whose commit index after a restart is stale until the leader
// tells it more: it asks the leader how far to catch up.
func TestIntegrationFollowerRestartNeverUnauthorized(t *testing.T) {
	t.Parallel()
	ms := threeMembers(t)
	ctx := ctxT(t)
	f := followerOf(ms)
	waitFor(t, 10*time.Second, "caught up", f.node.CaughtUp)
	require.NoError(t, f.node.Close())
	var toks []string
	for range 30 {
		tok, _, err := ms[0].node.Tokens().Create(ctx, "p", auth.RoleMember)
		require.NoError(t, err)
		toks = append(toks, tok)
	}
	f.start()
	for !f.node.CaughtUp() {
		for _, tok := range toks {
			if _, err := f.node.Tokens().Authenticate(ctx, tok); err != nil {
				require.ErrorIs(t, err, auth.ErrNotReady, "a valid token before catch-up")
			}
		}
		time.Sleep(time.Millisecond)
	}
	for _, tok := range toks {
		_, err := f.node.Tokens().Authenticate(ctx, tok)
		require.NoError(t, err, "after catch-up every token is known")
	}
}

// TestIntegrationWriteWhileLeaderDies: a write forwarded by a follower
// while the leader has just died (its address refuses connections, and the
// follower still names it until its heartbeat times out) waits for the next
// leader within its context instead of failing "member unreachable": a
// request that was never sent may be sent again.
func TestIntegrationWriteWhileLeaderDies(t *testing.T) {
	t.Parallel()
	ms := threeMembers(t)
	old := leaderOf(t, ms)
	var follower *member
	for _, m := range ms {
		if m != old {
			follower = m
		}
	}
	require.NoError(t, old.node.Close())
	// Its idle connections are gone (a request that met one closing could
	// have been applied, and is not sent again): this is the refused dial.
	follower.node.httpc.CloseIdleConnections()
	_, addr := follower.node.Leader()
	require.Equal(t, old.cfg.BindAddress, addr, "the follower still names the dead leader")
	ctx := ctxT(t)
	tok, _, err := follower.node.Tokens().Create(ctx, "p", auth.RoleMember)
	require.NoError(t, err, "a write while the leader is gone waits for the next one")
	_, err = follower.node.Tokens().Authenticate(ctx, tok)
	require.NoError(t, err)
}

// TestIntegrationBarrierWaitsForTheView: after Barrier, Owns and OwnsAlarm
// answer from the state Barrier waited for, not from the view of an
// earlier one (the view is rebuilt from its own goroutine).
func TestIntegrationBarrierWaitsForTheView(t *testing.T) {
	t.Parallel()
	ms := threeMembers(t)
	ctx := ctxT(t)
	f := followerOf(ms)
	for range 50 {
		l := leaderOf(t, ms)
		_, _, err := l.node.Tokens().Create(ctx, "p", auth.RoleMember)
		require.NoError(t, err)
		committed, _ := l.node.fsm.Watch()
		require.NoError(t, f.node.Barrier(ctx))
		require.GreaterOrEqual(t, f.node.view.Load().index, committed, "the view after a barrier")
	}
}
