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

const alarmMemberBody = `
alarm {
  evaluation_interval = "1s"
  webhook_timeout     = "2s"
}
`

// TestIntegrationAlarmFailover: three members, 300 threshold alarms with
// webhooks. The alarms cross their thresholds; the member that evaluates
// most of them is SIGKILLed right after it starts committing transitions.
// Every committed transition's action arrives (the survivors finish what
// the dead member left pending), no committed transition is lost, and a
// transition arrives twice only if the dead member was delivering it when
// it died (the receiver deduplicates on the transition id; see README).
func TestIntegrationAlarmFailover(t *testing.T) {
	skipShort(t)
	const nAlarms = 300
	rcv, hook := newReceiver(t)

	n1 := startMember(t, "n1", nil, alarmMemberBody)
	n2 := startMember(t, "n2", []string{n1.raft}, alarmMemberBody)
	n3 := startMember(t, "n3", []string{n1.raft}, alarmMemberBody)
	members := []*clusterMember{n1, n2, n3}
	admin := n1.admin()
	waitLive(t, admin, members...)
	tok := strings.TrimSpace(n1.cli("token", "create", "--project", "p", "--role", "member", "--data-dir", "data"))
	clients := make([]*client, len(members))
	for i, m := range members {
		clients[i] = &client{t: t, base: "http://" + m.api, token: tok}
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
		code, body := clients[i%3].do("POST", "/v2/alarms", map[string]any{
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
	startFeeder := func(live []*client, value float64) (stop func()) {
		done, errc := make(chan struct{}), make(chan error, 1)
		go func() {
			defer close(errc)
			for {
				samples := make([]map[string]any, nAlarms)
				ts := time.Now().UTC().Format("2006-01-02T15:04:05.000000")
				for i := range samples {
					samples[i] = map[string]any{"counter_name": "load", "counter_type": "gauge", "counter_unit": "%",
						"counter_volume": value, "resource_id": fmt.Sprintf("r%03d", i), "timestamp": ts}
				}
				for _, c := range live {
					if err := postJSON(c, "/v2/meters/load", samples); err != nil {
						errc <- err
						return
					}
				}
				select {
				case <-done:
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
		}()
		return func() {
			close(done)
			require.NoError(t, <-errc)
		}
	}
	states := func(c *client) map[string]int {
		code, body := c.do("GET", "/v2/alarms?limit=10000", nil)
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

	// All ok first, every ok transition delivered.
	stopFeeder := startFeeder(clients, 10)
	waitFor(t, 60*time.Second, "all alarms ok and delivered", func() bool {
		return states(clients[0])["ok"] == nAlarms && delivered("ok") == nAlarms
	})
	victim := members[0]
	for _, m := range members[1:] {
		if committed(m) > committed(victim) {
			victim = m
		}
	}
	var live []*client
	for i, m := range members {
		if m != victim {
			live = append(live, clients[i])
		}
	}
	base := committed(victim)
	st, _ := victim.status(admin)
	t.Logf("victim %s evaluates about %.0f of %d alarms; leader %s", victim.id, base, nAlarms, st.LeaderID)

	// Cross the thresholds; SIGKILL the victim as soon as it committed.
	stopFeeder()
	stopFeeder = startFeeder(clients, 90)
	waitFor(t, 30*time.Second, "the victim to commit a transition", func() bool { return committed(victim) > base })
	stopFeeder()
	require.NoError(t, victim.cmd.Process.Signal(syscall.SIGKILL))
	killedAt := time.Now()
	stopFeeder = startFeeder(live, 90)
	defer func() { stopFeeder() }()
	// A request the victim had written before it died still reaches the
	// receiver from the kernel's buffers: in flight at the kill too.
	time.Sleep(time.Second)
	before, _ := rcv.transitions()
	t.Logf("killed %s after it committed transitions; %d alarm deliveries received so far", victim.id, delivered("alarm"))

	waitFor(t, 90*time.Second, "every alarm in alarm, every transition delivered, nothing pending", func() bool {
		if states(live[0])["alarm"] != nAlarms || delivered("alarm") < nAlarms {
			return false
		}
		for _, m := range members {
			if m != victim && metric(m.metrics(), "altimeter_alarm_pending_deliveries") != 0 {
				return false
			}
		}
		return true
	})
	t.Logf("all %d transitions to alarm delivered %s after the kill", nAlarms, time.Since(killedAt).Round(time.Millisecond))

	// Every committed transition (the history's, on a survivor) was
	// delivered; duplicates only for deliveries in flight at the kill.
	got, dups := rcv.transitions()
	want := map[string]string{}
	code, body := live[0].do("POST", "/v2/query/alarms/history", map[string]any{"filter": `{"=": {"type": "state transition"}}`, "limit": 10000})
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
	require.Len(t, want, 2*nAlarms, "one transition to ok and one to alarm per alarm")
	require.Equal(t, want, got, "each committed transition delivered, nothing else")
	sort.Strings(dups)
	for _, id := range dups {
		_, inFlight := before[id]
		require.True(t, inFlight, "transition %s delivered twice though not in flight at the kill", id)
	}
	t.Logf("%d transitions, %d delivered twice (in flight when the member died)", len(want), len(dups))
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
