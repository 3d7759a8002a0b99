package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const alarmTmpl = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}
alarm {
  evaluation_interval = "1s"
  webhook_timeout     = "2s"
}
`

// aodhBin is Debian's python3-aodhclient (scripts/peers.sh installs it);
// it runs under /usr/bin/python3.
const aodhBin = "/usr/bin/aodh"

// aodh runs the real aodh CLI against the agent with token (osClient).
func aodh(t *testing.T, a *agentProc, token string, wantErr bool, args ...string) (string, string) {
	t.Helper()
	return osClient(t, aodhBin, a, token, wantErr, args...)
}

func aodhJSON[T any](t *testing.T, a *agentProc, token string, args ...string) T {
	t.Helper()
	return osJSON[T](t, aodhBin, a, token, args...)
}

// TestIntegrationAodhClient drives the alarm API with python3-aodhclient:
// every rule type created, listed with filters, shown, updated, its state
// got and set, its history shown and searched, queried, deleted; bad input
// answered with the field at fault; another project sees nothing.
func TestIntegrationAodhClient(t *testing.T) {
	skipShort(t)
	if _, err := os.Stat(aodhBin); err != nil {
		t.Fatalf("%s missing (install with: make peers, or apt-get install python3-aodhclient)", aodhBin)
	}
	a := startAgent(t, alarmTmpl)
	a.adminToken()
	tok := strings.TrimSpace(a.cli("token", "create", "--project", "p-a", "--role", "member", "--data-dir", "data"))
	other := strings.TrimSpace(a.cli("token", "create", "--project", "p-b", "--role", "member", "--data-dir", "data"))

	caps := aodhJSON[map[string]any](t, a, tok, "capabilities", "list")
	require.Contains(t, fmt.Sprint(caps["alarm_storage"]), "production_ready")

	metricID := base64.StdEncoding.EncodeToString([]byte("r1+cpu_util"))
	created := map[string]string{}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"thr", []string{"-t", "threshold", "-m", "cpu_util", "--threshold", "80", "--comparison-operator", "gt", "--period", "60",
			"--evaluation-periods", "2", "--statistic", "avg", "--query", "resource_id=r1", "--alarm-action", "log://", "--severity", "moderate"}},
		{"evt", []string{"-t", "event", "--event-type", "compute.instance.*", "--query", "traits.state=string::error", "--enabled", "False"}},
		{"gres", []string{"-t", "gnocchi_resources_threshold", "--metric", "cpu_util", "--threshold", "5", "--resource-id", "r1",
			"--resource-type", "instance", "--aggregation-method", "mean", "--granularity", "60"}},
		{"gmet", []string{"-t", "gnocchi_aggregation_by_metrics_threshold", "--metric", metricID, "--threshold", "5",
			"--aggregation-method", "mean", "--granularity", "60"}},
		{"gby", []string{"-t", "gnocchi_aggregation_by_resources_threshold", "--metric", "cpu_util", "--threshold", "5",
			"--aggregation-method", "mean", "--granularity", "60", "--resource-type", "instance", "--query", `{"=": {"server_group": "g"}}`}},
		{"comp", []string{"-t", "composite", "--composite-rule",
			`{"or": [{"type": "threshold", "meter_name": "cpu_util", "threshold": 1, "comparison_operator": "gt"}, {"and": [{"type": "threshold", "meter_name": "memory", "threshold": 1, "comparison_operator": "lt"}, {"type": "gnocchi_resources_threshold", "metric": "cpu_util", "resource_id": "r1", "resource_type": "instance", "aggregation_method": "mean", "granularity": 60, "threshold": 2, "comparison_operator": "gt"}]}]}`}},
	} {
		al := aodhJSON[map[string]any](t, a, tok, append([]string{"alarm", "create", "--name", c.name}, c.args...)...)
		require.Equal(t, "p-a", al["project_id"], c.name)
		created[c.name] = al["alarm_id"].(string)
	}

	// List, with a simple filter and a query.
	rows := aodhJSON[[]map[string]any](t, a, tok, "alarm", "list")
	require.Len(t, rows, len(created))
	rows = aodhJSON[[]map[string]any](t, a, tok, "alarm", "list", "--filter", "type=event")
	require.Len(t, rows, 1)
	require.Equal(t, created["evt"], rows[0]["alarm_id"])
	rows = aodhJSON[[]map[string]any](t, a, tok, "alarm", "list", "--query", "severity=moderate")
	require.Len(t, rows, 1)
	require.Equal(t, created["thr"], rows[0]["alarm_id"])
	rows = aodhJSON[[]map[string]any](t, a, tok, "alarm", "list", "--limit", "2", "--sort", "name:asc")
	require.Len(t, rows, 2)
	require.Equal(t, "comp", rows[0]["name"])

	// Show by id and by name.
	al := aodhJSON[map[string]any](t, a, tok, "alarm", "show", created["evt"])
	require.Equal(t, "compute.instance.*", al["event_type"])
	al = aodhJSON[map[string]any](t, a, tok, "alarm", "show", "--name", "thr")
	require.Equal(t, "cpu_util", al["meter_name"])

	// Update: the client GETs, merges and PUTs.
	al = aodhJSON[map[string]any](t, a, tok, "alarm", "update", created["thr"], "--severity", "critical", "--threshold", "90")
	require.Equal(t, "critical", al["severity"])
	require.EqualValues(t, 90, al["threshold"])

	// State of the (disabled, never evaluated) event alarm.
	aodh(t, a, tok, false, "alarm", "state", "set", "--state", "alarm", created["evt"])
	out, _ := aodh(t, a, tok, false, "alarm", "state", "get", created["evt"], "-f", "value")
	require.Equal(t, "alarm", strings.TrimSpace(out))

	// History: newest first.
	hist := aodhJSON[[]map[string]any](t, a, tok, "alarm-history", "show", created["thr"])
	require.GreaterOrEqual(t, len(hist), 2)
	require.Equal(t, "rule change", hist[0]["type"])
	require.Equal(t, "creation", hist[len(hist)-1]["type"])
	hist = aodhJSON[[]map[string]any](t, a, tok, "alarm-history", "search", "--query", "alarm_id="+created["evt"])
	types := []string{}
	for _, h := range hist {
		types = append(types, h["type"].(string))
	}
	require.ElementsMatch(t, []string{"creation", "state transition"}, types)

	// Another project sees none of it.
	rows = aodhJSON[[]map[string]any](t, a, other, "alarm", "list")
	require.Empty(t, rows)
	_, stderr := aodh(t, a, other, true, "alarm", "show", created["thr"])
	require.Contains(t, stderr, "404")

	// Bad input: a 400 naming the field, as Aodh.
	for _, c := range []struct {
		field string
		args  []string
	}{
		{"time_constraints[0].timezone", []string{"alarm", "create", "--name", "bad", "-t", "threshold", "-m", "cpu_util", "--threshold", "1", "--time-constraint", "name=n;start=0 1 * * *;duration=10;timezone=Mars/Olympus"}},
		{"comparison_operator", []string{"alarm", "create", "--name", "bad", "-t", "composite", "--composite-rule", `{"or": [{"type": "threshold", "meter_name": "a", "threshold": 1, "comparison_operator": "bigger"}, {"type": "threshold", "meter_name": "b", "threshold": 1}]}`}},
		{"alarm_actions", []string{"alarm", "create", "--name", "bad", "-t", "threshold", "-m", "cpu_util", "--threshold", "1", "--alarm-action", "ftp://127.0.0.1/x"}},
		{"granularity", []string{"alarm", "create", "--name", "bad", "-t", "gnocchi_resources_threshold", "--metric", "cpu_util", "--threshold", "5", "--resource-id", "r1", "--resource-type", "instance", "--aggregation-method", "mean", "--granularity", "7"}},
	} {
		_, stderr := aodh(t, a, tok, true, c.args...)
		require.Contains(t, stderr, c.field, stderr)
		require.Contains(t, stderr, "400", stderr)
	}

	// Delete.
	for name, id := range created {
		aodh(t, a, tok, false, "alarm", "delete", id)
		_, stderr := aodh(t, a, tok, true, "alarm", "show", id)
		require.Contains(t, stderr, "404", name)
	}
	hist = aodhJSON[[]map[string]any](t, a, tok, "alarm-history", "show", created["thr"])
	require.Equal(t, "deletion", hist[0]["type"], "history outlives the alarm")
}

// receiver counts webhook deliveries per transition id.
type receiver struct {
	mu     sync.Mutex
	counts map[string]int
	bodies map[string]map[string]any
	paths  map[string]string
	times  map[string][]time.Time // arrivals, by transition id
}

func newReceiver(t *testing.T) (*receiver, string) {
	return newSlowReceiver(t, 0)
}

// newSlowReceiver is a receiver that counts a request as it arrives and
// answers it after delay (a sender that dies meanwhile never learns that
// it was received).
func newSlowReceiver(t *testing.T, delay time.Duration) (*receiver, string) {
	r := &receiver{counts: map[string]int{}, bodies: map[string]map[string]any{}, paths: map[string]string{}, times: map[string][]time.Time{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		id := req.Header.Get("X-Altimeter-Transition-Id")
		r.mu.Lock()
		r.counts[id]++
		r.times[id] = append(r.times[id], time.Now())
		r.bodies[id], r.paths[id] = body, req.URL.Path
		r.mu.Unlock()
		time.Sleep(delay)
	}))
	t.Cleanup(srv.Close)
	return r, srv.URL
}

// transitions returns the transitions received, by id, with the state
// each announced; dups lists ids received more than once.
func (r *receiver) transitions() (map[string]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]string{}
	var dups []string
	for id, n := range r.counts {
		out[id], _ = r.bodies[id]["current"].(string)
		if n > 1 {
			dups = append(dups, id)
		}
	}
	return out, dups
}

// arrivals returns when each copy of transition id arrived.
func (r *receiver) arrivals(id string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.times[id])
}

// TestIntegrationAlarmWebhook: posted samples drive a threshold alarm to
// alarm and back to ok; the webhook receiver gets each committed
// transition exactly once, with Aodh's body, and the history's transition
// ids are the ones delivered.
func TestIntegrationAlarmWebhook(t *testing.T) {
	skipShort(t)
	rcv, hook := newReceiver(t)
	a := startAgent(t, alarmTmpl)
	a.adminToken()
	tok := strings.TrimSpace(a.cli("token", "create", "--project", "p-a", "--role", "member", "--data-dir", "data"))
	c := &client{t: t, base: "http://" + a.api, token: tok}
	code, body := c.do("POST", "/v2/alarms", map[string]any{
		"name": "hot", "type": "threshold", "severity": "critical",
		"threshold_rule": map[string]any{"meter_name": "cpu_util", "threshold": 50, "comparison_operator": "gt", "statistic": "max",
			"period": 1, "evaluation_periods": 1, "query": []map[string]string{{"field": "resource_id", "op": "eq", "value": "r1"}}},
		"alarm_actions": []string{hook + "/alarm"}, "ok_actions": []string{hook + "/ok"},
	})
	require.Equal(t, http.StatusCreated, code, string(body))
	var al map[string]any
	require.NoError(t, json.Unmarshal(body, &al))
	id := al["alarm_id"].(string)

	// feed posts value every 100 ms until stop is closed.
	feed := func(value float64, until func() bool) {
		t.Helper()
		waitFor(t, 30*time.Second, fmt.Sprintf("alarm state after feeding %v", value), func() bool {
			code, body := c.do("POST", "/v2/meters/cpu_util", []map[string]any{{
				"counter_name": "cpu_util", "counter_type": "gauge", "counter_unit": "%", "counter_volume": value,
				"resource_id": "r1", "timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000000"),
			}})
			require.Equal(t, http.StatusCreated, code, string(body))
			return until()
		})
	}
	state := func() string { return alarmState(c, id) }
	received := func(st string) bool {
		got, _ := rcv.transitions()
		for _, s := range got {
			if s == st {
				return true
			}
		}
		return false
	}
	feed(90, func() bool { return state() == "alarm" && received("alarm") })
	feed(10, func() bool { return state() == "ok" && received("ok") })

	// Every transition in the history with actions arrived exactly once.
	code, body = c.do("GET", "/v2/alarms/"+id+"/history", nil)
	require.Equal(t, http.StatusOK, code, string(body))
	var hist []map[string]any
	require.NoError(t, json.Unmarshal(body, &hist))
	want := map[string]string{}
	for _, h := range hist {
		if h["type"] != "state transition" {
			continue
		}
		var d map[string]string
		require.NoError(t, json.Unmarshal([]byte(h["detail"].(string)), &d))
		if d["state"] == "alarm" || d["state"] == "ok" {
			want[h["event_id"].(string)] = d["state"]
		}
	}
	waitFor(t, 10*time.Second, "every delivery", func() bool {
		got, _ := rcv.transitions()
		return len(got) >= len(want)
	})
	got, dups := rcv.transitions()
	require.Empty(t, dups, "a transition delivered twice")
	require.Equal(t, want, got)
	rcv.mu.Lock()
	for tid, b := range rcv.bodies {
		require.Equal(t, id, b["alarm_id"])
		require.Equal(t, "hot", b["alarm_name"])
		require.Equal(t, "critical", b["severity"])
		require.Contains(t, b, "reason_data")
		require.Equal(t, "/"+b["current"].(string), rcv.paths[tid])
	}
	rcv.mu.Unlock()
	m := a.metrics()
	require.GreaterOrEqual(t, metric(m, `altimeter_alarm_deliveries_total{outcome="delivered"}`), float64(len(want)))

	// An alarm of another project on this project's resource: a 400
	// naming the field (its rule would read only its own project anyway).
	otherTok := strings.TrimSpace(a.cli("token", "create", "--project", "p-b", "--role", "member", "--data-dir", "data"))
	code, body = (&client{t: t, base: c.base, token: otherTok}).do("POST", "/v2/alarms", map[string]any{
		"name": "spy", "type": "threshold",
		"threshold_rule": map[string]any{"meter_name": "cpu_util", "threshold": 50, "comparison_operator": "gt",
			"query": []map[string]string{{"field": "resource_id", "op": "eq", "value": "r1"}}},
	})
	require.Equal(t, http.StatusBadRequest, code, string(body))
	require.Contains(t, string(body), "threshold_rule.query[0].value")
	waitFor(t, 10*time.Second, "no pending delivery", func() bool {
		return metric(a.metrics(), "altimeter_alarm_pending_deliveries") == 0
	})
}
