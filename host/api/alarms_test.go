package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/alarm"
)

// Fixture alarms: project A has alarm-a1 and alarm-a2, project B alarm-b1.
const (
	alarmA1 = "alarm-a1"
	alarmA2 = "alarm-a2"
	alarmB1 = "alarm-b1"
)

const thresholdRule = `{"meter_name":"cpu_util","threshold":80,"comparison_operator":"gt","statistic":"avg","period":60,"evaluation_periods":3}`

// testAlarms returns an alarm service over an in-memory FSM holding the
// fixture alarms.
func testAlarms(t testing.TB) *alarm.Service {
	t.Helper()
	n := alarm.NewMemNode()
	svc := alarm.NewService(n, alarm.Checker{}, alarm.DefaultHistoryLimits)
	for _, f := range []struct{ id, project, name string }{{alarmA1, projectA, "cpu high"}, {alarmA2, projectA, "cpu low"}, {alarmB1, projectB, "cpu high"}} {
		canon, err := alarm.Checker{}.ParseRule(t.Context(), f.project, "threshold", json.RawMessage(thresholdRule))
		require.NoError(t, err)
		a := alarm.Alarm{ID: f.id, Name: f.name, Type: "threshold", Rule: canon, Enabled: true, Severity: "low",
			ProjectID: f.project, UserID: "u", AlarmActions: []string{"log://"}, TimeConstraints: []alarm.TimeConstraint{}}
		require.NoError(t, n.Apply(t.Context(), alarm.Create{Alarm: a, EventID: "ev-" + f.id, Limits: alarm.DefaultHistoryLimits}))
	}
	return svc
}

func decodeJSON[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal([]byte(body), &v), body)
	return v
}

func TestAlarmLifecycle(t *testing.T) {
	t.Parallel()
	srv, _ := testServer(t)
	body := `{"name":"disk","type":"threshold","threshold_rule":` + thresholdRule + `,"severity":"critical",
		"alarm_actions":["http://127.0.0.1:9/hook","http://127.0.0.1:9/hook"],"time_constraints":[{"name":"nights","start":"0 22 * * *","duration":3600,"timezone":"Europe/Paris"}]}`
	rec := call(t, srv, "POST", "/v2/alarms", tokA, body)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	a := decodeJSON[map[string]any](t, rec.Body.String())
	id := a["alarm_id"].(string)
	require.Equal(t, projectA, a["project_id"])
	require.Equal(t, "insufficient data", a["state"])
	require.Equal(t, []any{"http://127.0.0.1:9/hook"}, a["alarm_actions"], "duplicates run once")
	require.Equal(t, "cpu_util", a["threshold_rule"].(map[string]any)["meter_name"])
	tc := a["time_constraints"].([]any)[0].(map[string]any)
	require.Equal(t, "Time constraint at 0 22 * * * lasting for 3600 seconds", tc["description"])

	// Same name in the project: 409, as Aodh.
	rec = call(t, srv, "POST", "/v2/alarms", tokA, body)
	require.Equal(t, http.StatusConflict, rec.Code, rec.Body.String())

	// Show, with and without the trailing slash; another project: 404.
	for _, p := range []string{"/v2/alarms/" + id, "/v2/alarms/" + id + "/"} {
		rec = call(t, srv, "GET", p, tokA, "")
		require.Equal(t, http.StatusOK, rec.Code, p)
	}
	rec = call(t, srv, "GET", "/v2/alarms/"+id, tokB, "")
	require.Equal(t, http.StatusNotFound, rec.Code)
	rec = call(t, srv, "PUT", "/v2/alarms/"+id+"/state", tokB, `"ok"`)
	require.Equal(t, http.StatusNotFound, rec.Code)
	rec = call(t, srv, "DELETE", "/v2/alarms/"+id, tokB, "")
	require.Equal(t, http.StatusNotFound, rec.Code)

	// Update: what GET returned, changed, goes back (aodhclient's way).
	rec = call(t, srv, "GET", "/v2/alarms/"+id, tokA, "")
	a = decodeJSON[map[string]any](t, rec.Body.String())
	a["severity"] = "moderate"
	a["threshold_rule"].(map[string]any)["threshold"] = 90
	b, _ := json.Marshal(a)
	rec = call(t, srv, "PUT", "/v2/alarms/"+id, tokA, string(b))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	a = decodeJSON[map[string]any](t, rec.Body.String())
	require.Equal(t, "moderate", a["severity"])
	require.InDelta(t, 90, a["threshold_rule"].(map[string]any)["threshold"], 0)

	// State.
	rec = call(t, srv, "PUT", "/v2/alarms/"+id+"/state", tokA, `"alarm"`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.JSONEq(t, `"alarm"`, rec.Body.String())
	rec = call(t, srv, "GET", "/v2/alarms/"+id+"/state", tokA, "")
	require.JSONEq(t, `"alarm"`, rec.Body.String())
	rec = call(t, srv, "PUT", "/v2/alarms/"+id+"/state", tokA, `"on fire"`)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, rec.Body.String(), "field/attribute state")

	// History: newest first; creation, rule change, state transition.
	rec = call(t, srv, "GET", "/v2/alarms/"+id+"/history", tokA, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	hist := decodeJSON[[]map[string]any](t, rec.Body.String())
	require.Len(t, hist, 3)
	require.Equal(t, "state transition", hist[0]["type"])
	require.Equal(t, "rule change", hist[1]["type"])
	require.Equal(t, "creation", hist[2]["type"])
	rec = call(t, srv, "GET", "/v2/alarms/"+id+"/history?limit=1&marker="+hist[0]["event_id"].(string)+"&sort=timestamp:desc", tokA, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Len(t, decodeJSON[[]map[string]any](t, rec.Body.String()), 1)

	// Delete; history stays reachable.
	rec = call(t, srv, "DELETE", "/v2/alarms/"+id, tokA, "")
	require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
	rec = call(t, srv, "GET", "/v2/alarms/"+id, tokA, "")
	require.Equal(t, http.StatusNotFound, rec.Code)
	rec = call(t, srv, "GET", "/v2/alarms/"+id+"/history", tokA, "")
	require.Len(t, decodeJSON[[]map[string]any](t, rec.Body.String()), 4)
	rec = call(t, srv, "GET", "/v2/alarms/"+id+"/history", tokB, "")
	require.Equal(t, http.StatusNotFound, rec.Code)
}

func TestAlarmListAndQuery(t *testing.T) {
	t.Parallel()
	srv, _ := testServer(t)
	ids := func(body string) []string {
		var out []string
		for _, a := range decodeJSON[[]map[string]any](t, body) {
			out = append(out, a["alarm_id"].(string))
		}
		return out
	}
	cases := []struct {
		name, method, target, token, body string
		want                              []string
	}{
		{"member sees its project", "GET", "/v2/alarms?sort=name:asc", tokA, "", []string{alarmA1, alarmA2}},
		{"admin sees all", "GET", "/v2/alarms/?sort=alarm_id", tokAdmin, "", []string{alarmA1, alarmA2, alarmB1}},
		{"filter by name", "GET", "/v2/alarms?q.field=name&q.op=eq&q.value=cpu+high&sort=alarm_id", tokAdmin, "", []string{alarmA1, alarmB1}},
		{"filter ne and project", "GET", "/v2/alarms?q.field=name&q.op=ne&q.value=cpu+high&q.field=project_id&q.op=eq&q.value=proj-a", tokAdmin, "", []string{alarmA2}},
		{"filter bool", "GET", "/v2/alarms?q.field=enabled&q.value=false", tokAdmin, "", nil},
		{"page", "GET", "/v2/alarms?sort=alarm_id:asc&limit=1&marker=alarm-a1", tokAdmin, "", []string{alarmA2}},
		{"query", "POST", "/v2/query/alarms", tokAdmin, `{"filter":"{\"and\":[{\"=\":{\"type\":\"threshold\"}},{\"=~\":{\"name\":\"^cpu\"}}]}","orderby":"[{\"alarm_id\":\"desc\"}]","limit":2}`, []string{alarmB1, alarmA2}},
		{"query limit as a string, as WSME takes it", "POST", "/v2/query/alarms", tokAdmin, `{"orderby":"[{\"alarm_id\":\"desc\"}]","limit":"1"}`, []string{alarmB1}},
		{"query confined", "POST", "/v2/query/alarms/", tokB, `{"filter":"{\"=\":{\"state\":\"insufficient data\"}}"}`, []string{alarmB1}},
		{"query in", "POST", "/v2/query/alarms", tokAdmin, `{"filter":{"in":{"alarm_id":["alarm-a2","alarm-b1"]}},"orderby":[{"alarm_id":"asc"}]}`, []string{alarmA2, alarmB1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := call(t, srv, tc.method, tc.target, tc.token, tc.body)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, tc.want, ids(rec.Body.String()))
		})
	}
	rec := call(t, srv, "POST", "/v2/query/alarms/history", tokA, `{"filter":"{\"=\":{\"type\":\"creation\"}}"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Len(t, decodeJSON[[]map[string]any](t, rec.Body.String()), 2, "project A's creations only")
	rec = call(t, srv, "GET", "/v2/capabilities/", tokA, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	caps := decodeJSON[map[string]any](t, rec.Body.String())
	require.Equal(t, true, caps["api"].(map[string]any)["alarms:query:complex"])
	require.Equal(t, true, caps["alarm_storage"].(map[string]any)["storage:production_ready"])
}

// TestAlarmHostile: bad input is a 400 naming the field (413 for a huge
// body, 404 for ids no alarm can have), and nothing is created.
func TestAlarmHostile(t *testing.T) {
	t.Parallel()
	srv, _ := testServer(t)
	withRule := func(typ, rule string, extra string) string {
		return `{"name":"x","type":"` + typ + `","` + typ + `_rule":` + rule + extra + `}`
	}
	deep := strings.Repeat(`{"and":[`, 100) + thresholdLeaf + strings.Repeat(`,`+thresholdLeaf+`]}`, 100)
	cases := []struct {
		name, method, target, body string
		code                       int
		field                      string
	}{
		{"unknown rule type", "POST", "/v2/alarms", withRule("nonsense", `{}`, ""), 400, "type"},
		{"missing name", "POST", "/v2/alarms", `{"type":"threshold","threshold_rule":` + thresholdRule + `}`, 400, "field/attribute name"},
		{"missing rule", "POST", "/v2/alarms", `{"name":"x","type":"threshold"}`, 400, "threshold_rule"},
		{"other rule", "POST", "/v2/alarms", `{"name":"x","type":"threshold","threshold_rule":` + thresholdRule + `,"event_rule":{}}`, 400, "event_rule"},
		{"bad comparison operator", "POST", "/v2/alarms", withRule("threshold", strings.Replace(thresholdRule, `"gt"`, `"bigger"`, 1), ""), 400, "comparison_operator"},
		{"bad severity", "POST", "/v2/alarms", withRule("threshold", thresholdRule, `,"severity":"apocalyptic"`), 400, "field/attribute severity"},
		{"bad state", "POST", "/v2/alarms", withRule("threshold", thresholdRule, `,"state":"on fire"`), 400, "field/attribute state"},
		{"enabled not a bool", "POST", "/v2/alarms", withRule("threshold", thresholdRule, `,"enabled":"perhaps"`), 400, "field/attribute enabled"},
		{"unknown attribute", "POST", "/v2/alarms", withRule("threshold", thresholdRule, `,"colour":"red"`), 400, "colour"},
		{"malformed time constraints", "POST", "/v2/alarms", withRule("threshold", thresholdRule, `,"time_constraints":{"name":"x"}`), 400, "time_constraints"},
		{"bad cron", "POST", "/v2/alarms", withRule("threshold", thresholdRule, `,"time_constraints":[{"name":"a","start":"every day","duration":10}]`), 400, "time_constraints[0].start"},
		{"unknown timezone", "POST", "/v2/alarms", withRule("threshold", thresholdRule, `,"time_constraints":[{"name":"a","start":"0 1 * * *","duration":10,"timezone":"Mars/Olympus"}]`), 400, "time_constraints[0].timezone"},
		{"webhook of another scheme", "POST", "/v2/alarms", withRule("threshold", thresholdRule, `,"ok_actions":["ftp://127.0.0.1/x"]`), 400, "ok_actions"},
		{"too many actions", "POST", "/v2/alarms", withRule("threshold", thresholdRule, `,"alarm_actions":[`+strings.TrimSuffix(strings.Repeat(`"log://",`, alarm.MaxActions+1), ",")+`]`), 400, "alarm_actions"},
		{"long name", "POST", "/v2/alarms", `{"name":"` + strings.Repeat("n", 300) + `","type":"threshold","threshold_rule":` + thresholdRule + `}`, 400, "field/attribute name"},
		{"other project", "POST", "/v2/alarms", withRule("threshold", thresholdRule, `,"project_id":"proj-b"`), 400, "project_id"},
		{"other user", "POST", "/v2/alarms", withRule("threshold", thresholdRule, `,"user_id":"someone-else"`), 400, "field/attribute user_id"},
		{"composite 100 deep", "POST", "/v2/alarms", withRule("composite", deep, ""), 400, "composite_rule"},
		{"not an object", "POST", "/v2/alarms", `[1,2]`, 400, "data"},
		{"trailing data", "POST", "/v2/alarms", withRule("threshold", thresholdRule, "") + `{}`, 400, "data"},
		{"huge body", "POST", "/v2/alarms", `{"name":"` + strings.Repeat("x", alarm.MaxBodyBytes) + `"}`, 413, ""},
		{"huge query", "POST", "/v2/query/alarms", `{"filter":"` + strings.Repeat(" ", MaxBodyBytes) + `"}`, 413, ""},
		{"deep query", "POST", "/v2/query/alarms", `{"filter":` + strings.Repeat(`{"not":`, 100) + `{"=":{"name":"x"}}` + strings.Repeat(`}`, 100) + `}`, 400, "nested deeper"},
		{"query unknown field", "POST", "/v2/query/alarms/history", `{"filter":{"=":{"colour":"red"}}}`, 400, "unknown field"},
		{"query bad orderby", "POST", "/v2/query/alarms", `{"orderby":[{"colour":"asc"}]}`, 400, "order-by"},
		{"list unknown field", "GET", "/v2/alarms?q.field=colour&q.value=red", "", 400, "q.field"},
		{"list bad op", "GET", "/v2/alarms?q.field=name&q.op=like&q.value=x", "", 400, "q.op"},
		{"list bad limit", "GET", "/v2/alarms?limit=-3", "", 400, "limit"},
		{"list bad sort", "GET", "/v2/alarms?sort=colour", "", 400, "sort"},
		{"list unknown marker", "GET", "/v2/alarms?marker=nope", "", 400, "marker"},
		{"bad id", "GET", "/v2/alarms/" + strings.Repeat("i", 300), "", 404, ""},
		{"unknown id", "GET", "/v2/alarms/nope/state", "", 404, ""},
		{"state not a string", "PUT", "/v2/alarms/" + alarmA1 + "/state", `{"state":"ok"}`, 400, "state"},
		{"put bad severity", "PUT", "/v2/alarms/" + alarmA1, withRule("threshold", thresholdRule, `,"severity":"x"`), 400, "severity"},
		{"put another project's", "PUT", "/v2/alarms/" + alarmB1, withRule("threshold", thresholdRule, ""), 404, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := call(t, srv, tc.method, tc.target, tokA, tc.body)
			require.Equal(t, tc.code, rec.Code, rec.Body.String())
			require.Contains(t, rec.Body.String(), tc.field)
			require.Contains(t, rec.Body.String(), "faultstring")
		})
	}
	rec := call(t, srv, "POST", "/v2/alarms", tokAdmin, `{"name":"x","type":"threshold","threshold_rule":`+thresholdRule+`}`)
	require.Equal(t, http.StatusBadRequest, rec.Code, "an admin token without a project names the alarm's")
	require.Contains(t, rec.Body.String(), "project_id")
	rec = call(t, srv, "POST", "/v2/alarms", tokAdmin, `{"name":"x","type":"threshold","threshold_rule":`+thresholdRule+`,"project_id":"proj-b"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rec = call(t, srv, "GET", "/v2/alarms", tokA, "")
	require.Len(t, decodeJSON[[]map[string]any](t, rec.Body.String()), 2, "nothing was created in project A")
}

// TestAlarmOwnership: as Aodh's rbac.get_limited_to, a member creates
// alarms of its own project and user only (naming another user is a 400
// naming user_id), and becomes the user of an alarm it updates whatever
// the body says; an admin names any user, and an update without user_id
// keeps the alarm's.
func TestAlarmOwnership(t *testing.T) {
	t.Parallel()
	srv, _ := testServer(t)
	body := func(name, extra string) string {
		return `{"name":"` + name + `","type":"threshold","threshold_rule":` + thresholdRule + extra + `}`
	}
	cases := []struct {
		name, method, target, token, body string
		code                              int
		user                              string // user_id of the answer, or the field of the error
	}{
		{"member, no user_id", "POST", "/v2/alarms", tokA, body("o1", ""), 201, "t1"},
		{"member, its own user_id", "POST", "/v2/alarms", tokA, body("o2", `,"user_id":"t1"`), 201, "t1"},
		{"member, empty user_id", "POST", "/v2/alarms", tokA, body("o3", `,"user_id":""`), 201, "t1"},
		{"member, another user", "POST", "/v2/alarms", tokA, body("o4", `,"user_id":"t2"`), 400, "user_id"},
		{"member, another user and project", "POST", "/v2/alarms", tokA, body("o5", `,"user_id":"t2","project_id":"proj-b"`), 400, "_id"},
		{"admin, any user", "POST", "/v2/alarms", tokAdmin, body("o6", `,"user_id":"u-x","project_id":"proj-a"`), 201, "u-x"},
		{"admin, no user_id", "POST", "/v2/alarms", tokAdmin, body("o7", `,"project_id":"proj-a"`), 201, "t0"},
		{"member update takes the alarm", "PUT", "/v2/alarms/" + alarmA1, tokA, body("cpu high", `,"user_id":"u"`), 200, "t1"},
		{"member update naming another user", "PUT", "/v2/alarms/" + alarmA2, tokA, body("cpu low", `,"user_id":"someone-else"`), 200, "t1"},
		{"admin update names a user", "PUT", "/v2/alarms/" + alarmB1, tokAdmin, body("cpu high", `,"user_id":"u-y"`), 200, "u-y"},
		{"admin update keeps it", "PUT", "/v2/alarms/" + alarmB1, tokAdmin, body("cpu high", ""), 200, "u-y"},
	}
	for _, tc := range cases {
		rec := call(t, srv, tc.method, tc.target, tc.token, tc.body)
		require.Equal(t, tc.code, rec.Code, "%s: %s", tc.name, rec.Body.String())
		if tc.code >= 400 {
			require.Contains(t, rec.Body.String(), tc.user, tc.name)
			continue
		}
		require.Equal(t, tc.user, decodeJSON[map[string]any](t, rec.Body.String())["user_id"], tc.name)
	}
	names := strs(decodeJSON[[]map[string]any](t, call(t, srv, "GET", "/v2/alarms?q.field=name&q.op=ge&q.value=o", tokAdmin, "").Body.String()), "name")
	require.ElementsMatch(t, []string{"o1", "o2", "o3", "o6", "o7"}, names, "nothing created for the refused")
}

const thresholdLeaf = `{"type":"threshold","meter_name":"cpu_util","threshold":1,"comparison_operator":"gt"}`

// alarmCases exercise the alarm endpoints for the conformance test, in
// success and every described error. They run in order: the delete comes
// last.
var alarmCases = []struct {
	method, path, target, token, body string
	code                              int
}{
	{"GET", "/v2/alarms", "/v2/alarms?q.field=state&q.op=eq&q.value=insufficient+data&limit=5&sort=name:asc", tokA, "", 200},
	{"GET", "/v2/alarms", "/v2/alarms?marker=" + alarmA1, tokAdmin, "", 200},
	{"GET", "/v2/alarms", "/v2/alarms?q.field=colour&q.value=x", tokA, "", 400},
	{"GET", "/v2/alarms", "/v2/alarms", "", "", 401},
	{"POST", "/v2/alarms", "/v2/alarms", tokA, `{"name":"new","type":"threshold","threshold_rule":` + thresholdRule + `,"ok_actions":["log://"]}`, 201},
	{"POST", "/v2/alarms", "/v2/alarms", tokA, `{"name":"x","type":"threshold"}`, 400},
	{"POST", "/v2/alarms", "/v2/alarms", "", `{}`, 401},
	{"POST", "/v2/alarms", "/v2/alarms", tokA, `{"name":"cpu high","type":"threshold","threshold_rule":` + thresholdRule + `}`, 409},
	{"POST", "/v2/alarms", "/v2/alarms", tokA, `{"name":"` + strings.Repeat("x", alarm.MaxBodyBytes) + `"}`, 413},
	{"GET", "/v2/alarms/{id}", "/v2/alarms/" + alarmA1, tokA, "", 200},
	{"GET", "/v2/alarms/{id}", "/v2/alarms/" + alarmA1, "", "", 401},
	{"GET", "/v2/alarms/{id}", "/v2/alarms/" + alarmB1, tokA, "", 404},
	{"PUT", "/v2/alarms/{id}", "/v2/alarms/" + alarmA1, tokA, `{"name":"cpu high","type":"threshold","threshold_rule":` + thresholdRule + `,"severity":"critical"}`, 200},
	{"PUT", "/v2/alarms/{id}", "/v2/alarms/" + alarmA1, tokA, `{"name":"cpu high","type":"threshold","threshold_rule":` + thresholdRule + `,"severity":"x"}`, 400},
	{"PUT", "/v2/alarms/{id}", "/v2/alarms/" + alarmA1, "", `{}`, 401},
	{"PUT", "/v2/alarms/{id}", "/v2/alarms/" + alarmB1, tokA, `{}`, 404},
	{"PUT", "/v2/alarms/{id}", "/v2/alarms/" + alarmA1, tokA, `{"name":"cpu low"}`, 409},
	{"GET", "/v2/alarms/{id}/state", "/v2/alarms/" + alarmA1 + "/state", tokA, "", 200},
	{"GET", "/v2/alarms/{id}/state", "/v2/alarms/" + alarmA1 + "/state", "", "", 401},
	{"GET", "/v2/alarms/{id}/state", "/v2/alarms/" + alarmB1 + "/state", tokA, "", 404},
	{"PUT", "/v2/alarms/{id}/state", "/v2/alarms/" + alarmA1 + "/state", tokA, `"alarm"`, 200},
	{"PUT", "/v2/alarms/{id}/state", "/v2/alarms/" + alarmA1 + "/state", tokA, `"on fire"`, 400},
	{"PUT", "/v2/alarms/{id}/state", "/v2/alarms/" + alarmA1 + "/state", "", `"ok"`, 401},
	{"PUT", "/v2/alarms/{id}/state", "/v2/alarms/" + alarmB1 + "/state", tokA, `"ok"`, 404},
	{"GET", "/v2/alarms/{id}/history", "/v2/alarms/" + alarmA1 + "/history?q.field=type&q.op=eq&q.value=creation&limit=2&sort=timestamp:asc", tokA, "", 200},
	{"GET", "/v2/alarms/{id}/history", "/v2/alarms/" + alarmA1 + "/history?marker=unknown", tokA, "", 400},
	{"GET", "/v2/alarms/{id}/history", "/v2/alarms/" + alarmA1 + "/history", "", "", 401},
	{"GET", "/v2/alarms/{id}/history", "/v2/alarms/" + alarmB1 + "/history", tokA, "", 404},
	{"POST", "/v2/query/alarms", "/v2/query/alarms", tokA, `{"filter":"{\"=\":{\"severity\":\"critical\"}}","orderby":"[{\"name\":\"asc\"}]","limit":3}`, 200},
	{"POST", "/v2/query/alarms", "/v2/query/alarms", tokA, `{"filter":"{\"=\":{\"colour\":\"red\"}}"}`, 400},
	{"POST", "/v2/query/alarms", "/v2/query/alarms", "", `{}`, 401},
	{"POST", "/v2/query/alarms", "/v2/query/alarms", tokA, `{"filter": "` + strings.Repeat(" ", MaxBodyBytes) + `"}`, 413},
	{"POST", "/v2/query/alarms/history", "/v2/query/alarms/history", tokA, `{"filter":"{\"=\":{\"alarm_id\":\"alarm-a1\"}}"}`, 200},
	{"POST", "/v2/query/alarms/history", "/v2/query/alarms/history", tokA, `{"limit":0}`, 400},
	{"POST", "/v2/query/alarms/history", "/v2/query/alarms/history", "", `{}`, 401},
	{"POST", "/v2/query/alarms/history", "/v2/query/alarms/history", tokA, `{"filter": "` + strings.Repeat(" ", MaxBodyBytes) + `"}`, 413},
	{"DELETE", "/v2/alarms/{id}", "/v2/alarms/" + alarmA2, tokA, "", 204},
	{"DELETE", "/v2/alarms/{id}", "/v2/alarms/" + alarmA2, "", "", 401},
	{"DELETE", "/v2/alarms/{id}", "/v2/alarms/" + alarmB1, tokA, "", 404},
}
