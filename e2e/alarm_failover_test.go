package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// alarmMemberBody: deliveries start 2 s after a cycle's commits and a
// request may take 10 s (the defaults, written out: an attempt that timed
// out after the receiver counted it would be retried, a duplicate of the
// notifier's own making; the timeout runs from when the request has one
// of the receiver's 4 slots, so it takes a receiver stalled that long, not
// a long queue), and a dead member's pending deliveries are taken over
// once 15 s old (more than delivery_delay + webhook_timeout). The old
// transitions once delivered twice (an alarm's first transition, again
// 25 s or more later, after the member's restart) were the restarted
// member's: it restored a snapshot in which they were still pending, held
// its lease through the leader's heartbeats before the later log entries
// arrived, and took them over, once a second (a takeover now confirms
// what is due after a barrier).
const alarmMemberBody = `
alarm {
  evaluation_interval = "1s"
  webhook_timeout     = "10s"
  delivery_delay      = "2s"
  takeover_delay      = "15s"
}
`

// TestIntegrationAlarmFailover: three members, 300 threshold alarms with
// webhooks. The alarms cross their thresholds; the member that evaluates
// most of them is SIGKILLed as soon as it is seen (through /metrics) to
// have committed a transition. Every committed transition's action
// arrives exactly once: the dead member had not started its deliveries
// (they wait delivery_delay after its cycle's commits), the survivors take
// them over, and a transition id seen twice at the receiver fails the
// test. Then the dead member comes back (its first evaluations may find
// no samples yet: insufficient data and back to alarm, more transitions,
// delivered once too), the alarms cross back, and the leader is SIGKILLed
// during evaluation: no committed transition is lost (and none is
// delivered twice).
func TestIntegrationAlarmFailover(t *testing.T) {
	skipShort(t)
	const nAlarms = 300
	// The receiver answers 100 ms after a request arrived: a sender that
	// dies meanwhile has sent a transition without committing its
	// outcome, and the next owner would send it again.
	rcv, hook := newSlowReceiver(t, 100*time.Millisecond)

	n1 := startMember(t, "n1", nil, alarmMemberBody)
	n2 := startMember(t, "n2", []string{n1.raft}, alarmMemberBody)
	n3 := startMember(t, "n3", []string{n1.raft}, alarmMemberBody)
	members := []*clusterMember{n1, n2, n3}
	admin := n1.admin()
	waitLive(t, admin, members...)
	tok := strings.TrimSpace(n1.cli("token", "create", "--project", "p", "--role", "member", "--data-dir", "data"))
	clients := map[*clusterMember]*client{}
	for _, m := range members {
		clients[m] = &client{t: t, base: "http://" + m.api, token: tok}
	}
	// The token is replicated: a follower knows it once it applied the entry.
	waitFor(t, 10*time.Second, "the token on every member", func() bool {
		for _, c := range clients {
			if code, _ := c.do("GET", "/v2/alarms", nil); code != http.StatusOK {
				return false
			}
		}
		return true
	})
	for i := range nAlarms {
		code, body := clients[members[i%3]].do("POST", "/v2/alarms", map[string]any{
			"name": fmt.Sprintf("a%03d", i), "type": "threshold",
			"threshold_rule": map[string]any{"meter_name": "load", "threshold": 50, "comparison_operator": "gt", "statistic": "max",
				"period": 1, "evaluation_periods": 1, "query": []map[string]string{{"field": "resource_id", "op": "eq", "value": fmt.Sprintf("r%03d", i)}}},
			"alarm_actions": []string{hook + "/alarm"}, "ok_actions": []string{hook + "/ok"},
		})
		require.Equal(t, http.StatusCreated, code, string(body))
	}

	// Each member evaluates against its own store: every member gets the
	// samples. A feeder posts them every 200 ms from its own goroutine
	// until stopped, so an alarm's window (period 1 s) always holds a
	// sample however slow the test's own checks are on a loaded machine:
	// an evaluation that found none would commit "insufficient data" and
	// back, transitions the test does not expect (seen: 103 alarms went
	// alarm -> insufficient data -> alarm while the test slept a second).
	startFeeder := func(live []*clusterMember, value float64) (stop func()) {
		return feedEvery(t, 200*time.Millisecond, func() error {
			samples := make([]map[string]any, nAlarms)
			ts := time.Now().UTC().Format("2006-01-02T15:04:05.000000")
			for i := range samples {
				samples[i] = map[string]any{"counter_name": "load", "counter_type": "gauge", "counter_unit": "%",
					"counter_volume": value, "resource_id": fmt.Sprintf("r%03d", i), "timestamp": ts}
			}
			for _, m := range live {
				if err := postJSON(clients[m], "/v2/meters/load", samples); err != nil {
					return err
				}
			}
			return nil
		})
	}
	states := func(m *clusterMember) map[string]int {
		code, body := clients[m].do("GET", "/v2/alarms?limit=10000", nil)
		require.Equal(t, http.StatusOK, code, string(body))
		var rows []map[string]any
		require.NoError(t, json.Unmarshal(body, &rows))
		out := map[string]int{}
		for _, r := range rows {
			out[r["state"].(string)]++
		}
		return out
	}
	delivered := func(state string) int {
		got, _ := rcv.transitions()
		n := 0
		for _, s := range got {
			if s == state {
				n++
			}
		}
		return n
	}
	committed := func(m *clusterMember) float64 {
		return metric(m.metrics(), `altimeter_alarm_transitions_total{result="committed"}`)
	}
	// settled: every alarm in state, at least n transitions to it
	// delivered, and no delivery pending on the live members.
	settled := func(live []*clusterMember, state string, n int) func() bool {
		return func() bool {
			if states(live[0])[state] != nAlarms || delivered(state) < n {
				return false
			}
			for _, m := range live {
				if metric(m.metrics(), "altimeter_alarm_pending_deliveries") != 0 {
					return false
				}
			}
			return true
		}
	}
	others := func(dead *clusterMember) []*clusterMember {
		var out []*clusterMember
		for _, m := range members {
			if m != dead {
				out = append(out, m)
			}
		}
		return out
	}
	// checkDelivered: every committed transition to alarm or ok (the
	// history's, on a live member) was delivered, nothing else was, and
	// none twice.
	checkDelivered := func(m *clusterMember, phase string) {
		got, dups := rcv.transitions()
		want := map[string]string{}
		code, body := clients[m].do("POST", "/v2/query/alarms/history", map[string]any{"filter": `{"=": {"type": "state transition"}}`, "limit": 10000})
		require.Equal(t, http.StatusOK, code, string(body))
		var hist []map[string]any
		require.NoError(t, json.Unmarshal(body, &hist))
		for _, h := range hist {
			var d map[string]string
			require.NoError(t, json.Unmarshal([]byte(h["detail"].(string)), &d))
			if d["state"] == "alarm" || d["state"] == "ok" {
				want[h["event_id"].(string)] = d["state"]
			}
		}
		require.Equal(t, want, got, "%s: each committed transition delivered, nothing else", phase)
		sort.Strings(dups)
		t.Logf("%s: %d transitions delivered, %d duplicates %v", phase, len(got), len(dups), dups)
		for _, id := range dups {
			// Who sent each copy: the arrivals, and what the members
			// logged about the transition (its commit, a takeover).
			t.Logf("duplicate %s arrived at %v", id, rcv.arrivals(id))
			for _, m := range members {
				for _, l := range strings.Split(m.log.String(), "\n") {
					if strings.Contains(l, id) {
						t.Logf("  %s: %s", m.id, l)
					}
				}
			}
		}
		require.Empty(t, dups, "%s: transitions delivered twice", phase)
	}

	// All ok first, every ok transition delivered and its outcome
	// committed (nothing pending anywhere).
	stopFeeder := startFeeder(members, 10)
	waitFor(t, 60*time.Second, "all alarms ok and delivered", settled(members, "ok", nAlarms))
	victim := members[0]
	for _, m := range members[1:] {
		if committed(m) > committed(victim) {
			victim = m
		}
	}
	live := others(victim)
	base := committed(victim)
	st, _ := victim.status(admin)
	t.Logf("victim %s evaluates about %.0f of %d alarms; leader %s", victim.id, base, nAlarms, st.LeaderID)

	// Cross the thresholds; SIGKILL the victim as soon as it committed.
	stopFeeder()
	stopFeeder = startFeeder(members, 90)
	waitFor(t, 30*time.Second, "the victim to commit a transition", func() bool { return committed(victim) > base })
	stopFeeder()
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGKILL))
	killedAt := time.Now()
	stopFeeder = startFeeder(live, 90)
	t.Logf("killed %s after it committed transitions; %d alarm deliveries received so far", victim.id, delivered("alarm"))
	waitFor(t, 90*time.Second, "every alarm in alarm, every transition delivered, nothing pending", settled(live, "alarm", nAlarms))
	t.Logf("all %d transitions to alarm delivered %s after the kill", nAlarms, time.Since(killedAt).Round(time.Millisecond))
	checkDelivered(live[0], "member kill")

	// The victim comes back from its data dir (fed at once, so that its
	// first evaluations find samples), and takes its share back.
	stopFeeder()
	victim.restart()
	stopFeeder = startFeeder(members, 90)
	waitLive(t, admin, members...)
	waitFor(t, 30*time.Second, "the restarted member evaluating", func() bool {
		return metric(victim.metrics(), `altimeter_alarm_evaluations_total{result="ok"}`) > 0
	})
	waitFor(t, 30*time.Second, "every alarm in alarm, nothing pending", settled(members, "alarm", nAlarms))

	// Cross back; SIGKILL the leader as soon as it committed a transition
	// (it evaluates its share too): the other two elect a leader and
	// finish.
	var leader *clusterMember
	waitFor(t, 10*time.Second, "a leader", func() bool {
		st, ok := members[0].status(admin)
		for _, m := range members {
			if ok && m.id == st.LeaderID {
				leader = m
			}
		}
		return leader != nil
	})
	live = others(leader)
	base = committed(leader)
	okBefore := delivered("ok")
	stopFeeder()
	stopFeeder = startFeeder(members, 10)
	waitFor(t, 30*time.Second, "the leader to commit a transition", func() bool { return committed(leader) > base })
	stopFeeder()
	require.NoError(t, leader.cmd.Process.Signal(syscall.SIGKILL))
	killedAt = time.Now()
	stopFeeder = startFeeder(live, 10)
	defer func() { stopFeeder() }()
	t.Logf("killed the leader %s after it committed transitions", leader.id)
	waitFor(t, 90*time.Second, "every alarm ok, every transition delivered, nothing pending", settled(live, "ok", okBefore+nAlarms))
	t.Logf("all %d transitions to ok delivered %s after the leader's kill", nAlarms, time.Since(killedAt).Round(time.Millisecond))
	checkDelivered(live[0], "leader kill")
}

// feedEvery calls post every interval from its own goroutine, until the
// returned stop is called; stop fails the test with post's error, if it
// had one (post ends the feeding on its first error).
func feedEvery(t *testing.T, every time.Duration, post func() error) (stop func()) {
	done, errc := make(chan struct{}), make(chan error, 1)
	go func() {
		defer close(errc)
		for {
			if err := post(); err != nil {
				errc <- err
				return
			}
			select {
			case <-done:
				return
			case <-time.After(every):
			}
		}
	}()
	return func() {
		close(done)
		require.NoError(t, <-errc)
	}
}

// alarmState is the state of alarm id as c sees it.
func alarmState(c *client, id string) string {
	c.t.Helper()
	code, body := c.do("GET", "/v2/alarms/"+id+"/state", nil)
	require.Equal(c.t, http.StatusOK, code, string(body))
	var s string
	require.NoError(c.t, json.Unmarshal(body, &s))
	return s
}

// postJSON posts body to path without failing the test (for goroutines
// other than the test's): an error for a failed request or an answer
// other than 201.
func postJSON(c *client, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST %s answered %d: %s", path, resp.StatusCode, out)
	}
	return nil
}

// waitLive waits until every member sees all of them live.
func waitLive(t *testing.T, admin *client, members ...*clusterMember) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("%d live members", len(members)), func() bool {
		for _, m := range members {
			st, ok := m.status(admin)
			if !ok || len(st.Members) != len(members) {
				return false
			}
			for _, mm := range st.Members {
				if mm.State != "live" && mm.State != "leader" {
					return false
				}
			}
		}
		return true
	})
}
