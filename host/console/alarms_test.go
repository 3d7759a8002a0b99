package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/alarm"
	"github.com/altimeter/altimeter/host/alarm/action"
	"github.com/altimeter/altimeter/host/alarm/rule"
	"github.com/altimeter/altimeter/host/cluster"
)

// apiAlarm is the part of an Aodh alarm the console lists.
type apiAlarm struct {
	ID             string `json:"alarm_id"`
	Name           string `json:"name"`
	Type           string `json:"type"`
	State          string `json:"state"`
	Severity       string `json:"severity"`
	Enabled        bool   `json:"enabled"`
	StateTimestamp string `json:"state_timestamp"`
	ProjectID      string `json:"project_id"`
}

// apiChange is one alarm history entry.
type apiChange struct {
	Type      string `json:"type"`
	Detail    string `json:"detail"`
	Timestamp string `json:"timestamp"`
	UserID    string `json:"user_id"`
}

// send sends a JSON request to the API as token and decodes a 2xx answer
// into out (when not nil); it returns the status. It does not fail the
// test, so Eventually conditions may use it.
func send(method, u, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w: %s", method, u, err, raw)
		}
	}
	return resp.StatusCode, nil
}

// call is send that fails the test on a transport or decoding error.
func call(t *testing.T, method, u, token string, body, out any) int {
	t.Helper()
	code, err := send(method, u, token, body, out)
	require.NoError(t, err)
	return code
}

func thresholdAlarm(name, severity, resource string, threshold float64) map[string]any {
	return map[string]any{"name": name, "type": "threshold", "severity": severity, "description": "max cpu_util of " + resource,
		"threshold_rule": map[string]any{"meter_name": "cpu_util", "statistic": "max", "comparison_operator": "gt",
			"threshold": threshold, "period": 600, "evaluation_periods": 1,
			"query": []map[string]string{{"field": "resource_id", "op": "eq", "value": resource}}}}
}

// alarmFixture creates, through the API, three alarms of p1 (as the
// member) and one of p2 (as the admin); evaluates them with the real
// scheduler over the store's cpu_util samples (cpu-high-vm0 goes to alarm
// and runs its log:// action, runaway-vm2 to ok, the disabled one
// stays); then sets runaway-vm2 to alarm with PUT .../state. It
// returns the alarms' ids by name.
func alarmFixture(t *testing.T, ctx context.Context, log hclog.Logger, base, member, admin string, node *cluster.Node, src rule.Source) map[string]string {
	t.Helper()
	ids := map[string]string{}
	create := func(token string, body map[string]any) {
		var a apiAlarm
		require.Equal(t, http.StatusCreated, call(t, http.MethodPost, base+"/v2/alarms", token, body, &a), body["name"])
		ids[a.Name] = a.ID
	}
	high := thresholdAlarm("cpu-high-vm0", "critical", "vm-0", 5)
	high["alarm_actions"] = []string{"log://"}
	create(member, high)
	create(member, thresholdAlarm("runaway-vm2", "low", "vm-2", 1000))
	off := thresholdAlarm("cpu-idle-vm4", "moderate", "vm-4", 50)
	off["enabled"] = false
	create(member, off)
	secret := thresholdAlarm("p2-secret-vm1", "critical", "vm-1", 5)
	secret["project_id"] = "p2"
	create(admin, secret)

	notifier, err := action.New(action.Options{Logger: log})
	require.NoError(t, err)
	sched := alarm.NewScheduler(alarm.SchedulerOptions{Node: node, Owns: node.OwnsAlarm,
		Evaluator: rule.NewEvaluator(src, log), Notifier: notifier, Logger: log})
	state := func(name string) string {
		var s string
		if code, err := send(http.MethodGet, base+"/v2/alarms/"+ids[name]+"/state", admin, nil, &s); err != nil || code != http.StatusOK {
			return fmt.Sprintf("%d %v", code, err)
		}
		return s
	}
	// The member owns the alarms once its partition map is applied.
	require.Eventually(t, func() bool {
		sched.Cycle(ctx)
		return state("cpu-high-vm0") == "alarm" && state("runaway-vm2") == "ok" && state("p2-secret-vm1") == "alarm"
	}, time.Minute, 200*time.Millisecond, "the scheduler evaluates the alarms")
	require.Equal(t, "insufficient data", state("cpu-idle-vm4"), "a disabled alarm is not evaluated")
	// The log:// action's outcome is committed after the transition.
	require.Eventually(t, func() bool {
		var hist []apiChange
		code, err := send(http.MethodGet, base+"/v2/alarms/"+ids["cpu-high-vm0"]+"/history", member, nil, &hist)
		return err == nil && code == http.StatusOK && slices.ContainsFunc(hist, func(c apiChange) bool { return c.Type == "action" })
	}, time.Minute, 100*time.Millisecond, "the log:// action's outcome is in the history")

	var s string
	require.Equal(t, http.StatusOK, call(t, http.MethodPut, base+"/v2/alarms/"+ids["runaway-vm2"]+"/state", member, "alarm", &s))
	require.Equal(t, "alarm", s)
	return ids
}

// pageTable reads the cells of the table sel as text, row by row.
func pageTable(t *testing.T, bctx context.Context, sel string) [][]string {
	t.Helper()
	js, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify([...document.querySelectorAll(`+jsString(sel)+
		` + " tbody tr")].map(tr => [...tr.cells].map(td => td.textContent)))`))
	require.NoError(t, err, sel)
	var rows [][]string
	require.NoError(t, json.Unmarshal([]byte(js), &rows))
	return rows
}

func jsString(s string) string {
	b, _ := json.Marshal(s) //nolint:errchkjson // a string always encodes
	return string(b)
}

// tabTo presses Tab until the focus is on sel (at most 30 times): sel is
// reachable by keyboard from where the focus is.
func tabTo(t *testing.T, bctx context.Context, sel string) {
	t.Helper()
	for range 30 {
		on, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.activeElement !== null && document.activeElement.matches(`+jsString(sel)+`)`))
		require.NoError(t, err)
		if on {
			return
		}
		require.NoError(t, chromedp.Do(bctx, chromedp.KeyEvent(kb.Tab)))
	}
	t.Fatalf("%s: not reached with 30 Tab presses", sel)
}

// requireLabelled checks that every control on the page has a label with
// text (the screen reader's name).
func requireLabelled(t *testing.T, bctx context.Context) {
	t.Helper()
	js, err := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify([...document.querySelectorAll("#page input, #page select, #page textarea")]
		.filter(el => !(el.labels && [...el.labels].some(l => l.textContent.trim() !== "")) && !el.getAttribute("aria-label"))
		.map(el => el.outerHTML))`))
	require.NoError(t, err)
	require.Equal(t, "[]", js, "controls without a label")
}

func enabledText(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// checkAlarmsPage drives the alarms pages as the signed-in member, with
// the keyboard: the list equals the API's, the filter by state and name
// equals the API's filter, and an alarm's history equals the API's,
// newest first. Another project's alarm is neither listed nor shown.
func checkAlarmsPage(t *testing.T, bctx context.Context, base, member string, ids map[string]string,
	ready func(string) chromedp.Action[chromedp.Void], shot func(string) chromedp.Action[chromedp.Void]) {
	t.Helper()
	// From the meters page to the alarms page by keyboard: Tab to the
	// navigation link, Enter.
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(base+"/#/meters"), ready("#/meters")))
	tabTo(t, bctx, `nav a[href="#/alarms"]`)
	require.NoError(t, chromedp.Do(bctx, chromedp.KeyEvent(kb.Enter), ready("#/alarms"),
		chromedp.WaitVisible(chromedp.CSS("#alarms")), shot("alarms")))
	requireLabelled(t, bctx)

	rowsOf := func(as []apiAlarm) [][]string {
		slices.SortFunc(as, func(a, b apiAlarm) int { return strings.Compare(a.Name, b.Name) })
		var rows [][]string
		for _, a := range as {
			rows = append(rows, []string{a.Name, a.Type, a.State, a.Severity, enabledText(a.Enabled), a.StateTimestamp, a.ProjectID})
		}
		return rows
	}
	var all []apiAlarm
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, base+"/v2/alarms", member, nil, &all))
	require.Len(t, all, 3, "the member sees p1's alarms")
	require.Equal(t, rowsOf(all), pageTable(t, bctx, "#alarms"))
	body, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#page")))
	require.NoError(t, err)
	require.NotContains(t, body, "p2-secret")

	// Filter by keyboard: from the page (focused after loading) Tab to the
	// state list, ArrowDown twice (any → ok → alarm), Tab to the name,
	// type "cpu" and Enter.
	tabTo(t, bctx, "#alarm-state")
	require.NoError(t, chromedp.Do(bctx, chromedp.KeyEvent(kb.ArrowDown+kb.ArrowDown)))
	tabTo(t, bctx, "#alarm-name")
	require.NoError(t, chromedp.Do(bctx, chromedp.KeyEvent("cpu"+kb.Enter)))
	var filtered []apiAlarm
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, base+"/v2/alarms?"+url.Values{"q.field": {"state"}, "q.value": {"alarm"}}.Encode(), member, nil, &filtered))
	filtered = slices.DeleteFunc(filtered, func(a apiAlarm) bool { return !strings.Contains(a.Name, "cpu") })
	require.Len(t, filtered, 1, "cpu-high-vm0: runaway-vm2 (set to alarm by PUT) has no cpu in its name, cpu-idle-vm4 is not in alarm")
	require.NoError(t, chromedp.Do(bctx, chromedp.Poll[chromedp.Void](
		`document.body.dataset.ready === "#/alarms" && location.hash.includes("state=alarm") && location.hash.includes("name=cpu") &&
		 document.querySelector("#alarms caption").textContent === "1 alarm"`, chromedp.WithPollingTimeout(time.Minute))))
	require.Equal(t, rowsOf(filtered), pageTable(t, bctx, "#alarms"))

	// Open cpu-high-vm0 by keyboard: Tab to its link, Enter. Its history:
	// the log:// action's outcome, the evaluated transition, the creation.
	id := ids["cpu-high-vm0"]
	tabTo(t, bctx, `#alarms a[href="#/alarms?id=`+id+`"]`)
	require.NoError(t, chromedp.Do(bctx, chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#alarm-history")),
		ready("#/alarms"), shot("alarm")))
	checkAlarmDetail(t, bctx, base, member, id, []string{"action", "state transition", "creation"})

	// runaway-vm2: the manual transition, the evaluated one, the creation.
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(base+"/#/alarms?id="+ids["runaway-vm2"]),
		chromedp.Poll[chromedp.Void](`document.body.dataset.ready === "#/alarms" && document.querySelector("h2").textContent === "Alarm runaway-vm2"`,
			chromedp.WithPollingTimeout(time.Minute)), shot("alarm-manual")))
	checkAlarmDetail(t, bctx, base, member, ids["runaway-vm2"], []string{"state transition", "state transition", "creation"})

	// Another project's alarm is a 404 for the member.
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(base+"/#/alarms?id="+ids["p2-secret-vm1"]),
		chromedp.Poll[chromedp.Void](`document.body.dataset.ready === "#/alarms" && document.querySelector("#status").textContent.includes("404")`,
			chromedp.WithPollingTimeout(time.Minute))))
	body, err = chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#page")))
	require.NoError(t, err)
	require.NotContains(t, body, "p2-secret")
}

// checkAlarmDetail checks the detail page shown against the API: the
// attributes, the rule, and the history row by row (types wantTypes,
// newest first).
func checkAlarmDetail(t *testing.T, bctx context.Context, base, token, id string, wantTypes []string) {
	t.Helper()
	var a map[string]any
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, base+"/v2/alarms/"+id, token, nil, &a))
	attrs := map[string]string{}
	for _, r := range pageTable(t, bctx, "#alarm") {
		attrs[r[0]] = r[1]
	}
	for field, key := range map[string]string{"Name": "name", "ID": "alarm_id", "Type": "type", "State": "state",
		"State reason": "state_reason", "State since": "state_timestamp", "Severity": "severity", "Project": "project_id"} {
		require.Equal(t, a[key], attrs[field], field)
	}
	require.Equal(t, enabledText(a["enabled"].(bool)), attrs["Enabled"])
	ruleRows := map[string]string{}
	for _, r := range pageTable(t, bctx, "#rule") {
		ruleRows[r[0]] = r[1]
	}
	rule := a["threshold_rule"].(map[string]any)
	require.Len(t, ruleRows, len(rule))
	for k, v := range rule {
		want, ok := v.(string)
		if !ok {
			b, err := json.Marshal(v)
			require.NoError(t, err)
			want = string(b)
		}
		require.Equal(t, want, ruleRows[k], "rule field %s", k)
	}

	var hist []apiChange
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, base+"/v2/alarms/"+id+"/history", token, nil, &hist))
	var types []string
	for _, c := range hist {
		types = append(types, c.Type)
	}
	require.Equal(t, wantTypes, types, "the API's history")
	rows := pageTable(t, bctx, "#alarm-history")
	require.Len(t, rows, len(hist))
	for i, c := range hist {
		var d map[string]any
		require.NoError(t, json.Unmarshal([]byte(c.Detail), &d))
		state, _ := d["state"].(string)
		require.Equal(t, []string{c.Timestamp, c.Type, state}, rows[i][:3], "history row %d", i)
		if c.Type == "state transition" {
			require.Equal(t, d["transition_reason"], rows[i][3], "history row %d", i)
		}
		require.Equal(t, c.UserID, rows[i][4], "history row %d", i)
	}
}
