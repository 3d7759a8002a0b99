package api

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/archive"
	"github.com/altimeter/altimeter/sdk/sample"
)

// archiveServer serves archiveFixture alone.
func archiveServer(t *testing.T) *Server {
	t.Helper()
	log := hclog.New(&hclog.LoggerOptions{Output: testWriter{t}, Level: hclog.Warn})
	return New(Options{Address: "127.0.0.1:0", Logger: log, Notifications: archiveFixture(t), Auth: testAuth})
}

// archiveFixture is a real archive holding one request (req-1) across nova
// and cinder in project A, one error notification of project B and a
// projectless one.
func archiveFixture(t testing.TB) *archive.DB {
	t.Helper()
	db, err := archive.Open(context.Background(), filepath.Join(t.TempDir(), "archive.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	n := func(id, typ, prio, pub, project, req string, sec int) sample.Notification {
		raw, _ := json.Marshal(map[string]any{"message_id": id, "event_type": typ, "payload": map[string]any{"tenant_id": project, "secret": "s-" + project}})
		return sample.Notification{MessageID: id, EventType: typ, Priority: prio, PublisherID: pub, Timestamp: t0.Add(time.Duration(sec) * time.Second),
			RequestID: req, ProjectID: project, UserID: "u-" + project, ResourceID: "vm-" + project, Raw: raw}
	}
	require.NoError(t, db.Put(context.Background(), []sample.Notification{
		n("a-end", "compute.instance.create.end", "info", "compute.c1", projectA, "req-1", 3),
		n("a-start", "compute.instance.create.start", "info", "compute.c1", projectA, "req-1", 1),
		n("a-err", "volume.attach.error", "error", "volume.v1", projectA, "req-1", 2),
		n("b-err", "compute.instance.create.error", "error", "compute.c2", projectB, "req-2", 4),
		n("x-auth", "identity.authenticate", "info", "identity.k1", "", "req-3", 5),
	}))
	// Two hourly exists periods of project A's instance with a gap.
	ex := func(id string, hour int) sample.Notification {
		begin := t0.Add(time.Duration(hour) * time.Hour)
		raw, _ := json.Marshal(map[string]any{"event_type": "compute.instance.exists", "payload": map[string]any{
			"instance_id": "vm-" + projectA, "tenant_id": projectA, "launched_at": "2023-01-01 00:00:00",
			"audit_period_beginning": begin.Format(time.RFC3339), "audit_period_ending": begin.Add(time.Hour).Format(time.RFC3339)}})
		return sample.Notification{MessageID: id, EventType: "compute.instance.exists", Priority: "info", PublisherID: "compute.c9",
			Timestamp: begin.Add(time.Hour + time.Minute), ProjectID: projectA, ResourceID: "vm-" + projectA, Raw: raw}
	}
	require.NoError(t, db.Put(context.Background(), []sample.Notification{ex("ex-0", 0), ex("ex-2", 2)}))
	return db
}

// notificationCases are the archive endpoints' cases of the OpenAPI
// conformance test.
var notificationCases = []struct {
	method, path, target, token, body string
	code                              int
}{
	{"GET", "/v2/notifications", "/v2/notifications", tokAdmin, "", 200},
	{"GET", "/v2/notifications", "/v2/notifications?raw=true&event_type=compute.*&priority=info&publisher_id=compute.c1&host=c1&request_id=req-1&project_id=proj-a&user_id=u-proj-a&resource_id=vm-proj-a&start=2024-01-02T03:00:00Z&end=2024-01-02T04:00:00Z&limit=5&marker=a-start", tokA, "", 200},
	{"GET", "/v2/notifications", "/v2/notifications?message_id=b-err", tokB, "", 200},
	{"GET", "/v2/notifications", "/v2/notifications?limit=100000", tokA, "", 400},
	{"GET", "/v2/notifications", "/v2/notifications", "", "", 401},
	{"GET", "/v2/notifications", "/v2/notifications?project_id=proj-b", tokA, "", 403},
	{"GET", "/v2/notifications/{message_id}", "/v2/notifications/a-err", tokA, "", 200},
	{"GET", "/v2/notifications/{message_id}", "/v2/notifications/" + strings.Repeat("m", 256), tokA, "", 400},
	{"GET", "/v2/notifications/{message_id}", "/v2/notifications/a-err", "", "", 401},
	{"GET", "/v2/notifications/{message_id}", "/v2/notifications/a-err", tokB, "", 404},
	{"GET", "/v2/requests/{request_id}", "/v2/requests/req-1?raw=true&priority=error", tokA, "", 200},
	{"GET", "/v2/requests/{request_id}", "/v2/requests/req-1?event_type=%5B", tokA, "", 400},
	{"GET", "/v2/requests/{request_id}", "/v2/requests/req-1", "", "", 401},
	{"GET", "/v2/requests/{request_id}", "/v2/requests/req-1?project_id=proj-a", tokB, "", 403},
	{"GET", "/v2/requests/{request_id}", "/v2/requests/req-1", tokB, "", 404},
	{"GET", "/v2/timings", "/v2/timings?event_type=compute.instance.create&group_by=host&start=2024-01-02T03:00:00Z&end=2024-01-02T04:00:00Z", tokA, "", 200},
	{"GET", "/v2/timings", "/v2/timings?event_type=compute.*", tokA, "", 400},
	{"GET", "/v2/timings", "/v2/timings?event_type=compute.instance.create", "", "", 401},
	{"GET", "/v2/audit/usage", "/v2/audit/usage?start=2024-01-02T03:00:00Z&end=2024-01-02T06:00:00Z", tokA, "", 200},
	{"GET", "/v2/audit/usage", "/v2/audit/usage?start=2024-01-02T03:00:00Z", tokA, "", 400},
	{"GET", "/v2/audit/usage", "/v2/audit/usage?start=2024-01-02T03:00:00Z&end=2024-01-02T06:00:00Z", "", "", 401},
}

func TestNotifications(t *testing.T) {
	t.Parallel()
	srv := archiveServer(t)
	cases := []struct {
		name, token, query string
		want               []string
	}{
		{"admin sees all in time order", tokAdmin, "", []string{"a-start", "a-err", "a-end", "b-err", "x-auth", "ex-0", "ex-2"}},
		{"member sees its project", tokA, "", []string{"a-start", "a-err", "a-end", "ex-0", "ex-2"}},
		{"member B", tokB, "", []string{"b-err"}},
		{"glob", tokAdmin, "?event_type=compute.instance.create.*", []string{"a-start", "a-end", "b-err"}},
		{"priority", tokAdmin, "?priority=error", []string{"a-err", "b-err"}},
		{"priority scoped", tokA, "?priority=error", []string{"a-err"}},
		{"host", tokAdmin, "?host=c1", []string{"a-start", "a-end"}},
		{"publisher_id", tokAdmin, "?publisher_id=volume.v1", []string{"a-err"}},
		{"request_id", tokAdmin, "?request_id=req-1", []string{"a-start", "a-err", "a-end"}},
		{"user_id", tokAdmin, "?user_id=u-" + projectB, []string{"b-err"}},
		{"resource_id", tokAdmin, "?resource_id=vm-" + projectA, []string{"a-start", "a-err", "a-end", "ex-0", "ex-2"}},
		{"project_id", tokAdmin, "?project_id=" + projectB, []string{"b-err"}},
		{"message_id of another project", tokA, "?message_id=b-err", []string{}},
		{"time range", tokAdmin, qs("start", "2024-01-02T03:00:02Z", "end", "2024-01-02T03:00:04Z"), []string{"a-err", "a-end"}},
		{"limit and marker", tokAdmin, "?limit=2&marker=a-err", []string{"a-end", "b-err"}},
		{"exists", tokA, "?event_type=compute.instance.exists", []string{"ex-0", "ex-2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := call(t, srv, "GET", "/v2/notifications"+tc.query, tc.token, "")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, tc.want, ids(t, rec.Body.Bytes()))
			require.NotContains(t, rec.Body.String(), `"raw"`)
		})
	}
	rec := call(t, srv, "GET", "/v2/notifications?raw=true&priority=error", tokA, "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `"secret":"s-proj-a"`)
	require.NotContains(t, rec.Body.String(), "s-proj-b")
}

func TestNotificationShowAndRequest(t *testing.T) {
	t.Parallel()
	srv := archiveServer(t)
	rec := call(t, srv, "GET", "/v2/notifications/a-err", tokA, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	got := decodeObject(t, rec.Body.Bytes())
	require.Equal(t, "volume.attach.error", got["event_type"])
	require.Equal(t, "v1", got["host"])
	require.Equal(t, "s-proj-a", got["raw"].(map[string]any)["payload"].(map[string]any)["secret"])
	// Another project's notification, and a projectless one, do not exist
	// for a member.
	requireError(t, call(t, srv, "GET", "/v2/notifications/b-err", tokA, ""), http.StatusNotFound, "b-err")
	requireError(t, call(t, srv, "GET", "/v2/notifications/x-auth", tokA, ""), http.StatusNotFound, "x-auth")
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/v2/notifications/x-auth", tokAdmin, "").Code)

	rec = call(t, srv, "GET", "/v2/requests/req-1", tokAdmin, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var req struct {
		RequestID     string           `json:"request_id"`
		Notifications []map[string]any `json:"notifications"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &req))
	require.Equal(t, "req-1", req.RequestID)
	require.Equal(t, []string{"a-start", "a-err", "a-end"}, strs(req.Notifications, "message_id"))
	requireError(t, call(t, srv, "GET", "/v2/requests/req-2", tokA, ""), http.StatusNotFound, "req-2")
	requireError(t, call(t, srv, "GET", "/v2/requests/nope", tokAdmin, ""), http.StatusNotFound, "nope")
}

func TestNotificationsHostile(t *testing.T) {
	t.Parallel()
	srv := archiveServer(t)
	long := strings.Repeat("a", 300)
	cases := []struct {
		name, token, target string
		code                int
		want                string
	}{
		{"no token", "", "/v2/notifications", http.StatusUnauthorized, "missing"},
		{"huge limit", tokAdmin, "/v2/notifications?limit=1000000000000", http.StatusBadRequest, "limit"},
		{"limit over the cap", tokAdmin, "/v2/notifications?limit=1001", http.StatusBadRequest, "limit"},
		{"negative limit", tokAdmin, "/v2/notifications?limit=-1", http.StatusBadRequest, "limit"},
		{"request limit over the cap", tokAdmin, "/v2/requests/req-1?limit=10001", http.StatusBadRequest, "limit"},
		{"bad glob", tokAdmin, "/v2/notifications?event_type=compute.%5B0-9%5D", http.StatusBadRequest, "event_type"},
		{"glob with a question mark", tokAdmin, "/v2/notifications?event_type=a%3Fb", http.StatusBadRequest, "event_type"},
		{"glob with too many stars", tokAdmin, "/v2/notifications?event_type=*a*a*a*a*b", http.StatusBadRequest, "event_type"},
		{"long value", tokAdmin, "/v2/notifications?request_id=" + long, http.StatusBadRequest, "request_id"},
		{"long message_id", tokAdmin, "/v2/notifications/" + long, http.StatusBadRequest, "message_id"},
		{"unknown parameter", tokAdmin, "/v2/notifications?evnt_type=x", http.StatusBadRequest, "evnt_type"},
		{"repeated parameter", tokAdmin, "/v2/notifications?host=a&host=b", http.StatusBadRequest, "host"},
		{"empty value", tokAdmin, "/v2/notifications?host=", http.StatusBadRequest, "host"},
		{"bad time", tokAdmin, "/v2/notifications?start=yesterday", http.StatusBadRequest, "start"},
		{"start after end", tokAdmin, "/v2/notifications?start=2024-01-02T04:00:00Z&end=2024-01-02T03:00:00Z", http.StatusBadRequest, "start"},
		{"unknown marker", tokAdmin, "/v2/notifications?marker=nope", http.StatusBadRequest, "marker"},
		{"another project's marker", tokA, "/v2/notifications?marker=b-err", http.StatusBadRequest, "marker"},
		{"another project", tokA, "/v2/notifications?project_id=" + projectB, http.StatusForbidden, "project_id"},
		{"bad raw", tokA, "/v2/notifications?raw=yes-please", http.StatusBadRequest, "raw"},
		{"parameter on show", tokA, "/v2/notifications/a-err?raw=false", http.StatusBadRequest, "raw"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, call(t, srv, "GET", tc.target, tc.token, ""), tc.code, tc.want)
		})
	}
}

func TestTimingsEndpoint(t *testing.T) {
	t.Parallel()
	srv := archiveServer(t)
	rec := call(t, srv, "GET", "/v2/timings?event_type=compute.instance.create&group_by=host", tokAdmin, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.JSONEq(t, `[{"group":"c1","count":1,"errors":0,"unfinished":0,"min":2,"max":2,"avg":2,"p50":2,"p90":2,"p95":2,"p99":2}]`, rec.Body.String())
	// Project B's error has no start in B's scope: no operation.
	rec = call(t, srv, "GET", "/v2/timings?event_type=compute.instance.create", tokB, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.JSONEq(t, `[]`, rec.Body.String())
	for _, tc := range []struct{ target, want string }{
		{"/v2/timings", "event_type"},
		{"/v2/timings?event_type=compute.instance.create&group_by=user_id", "group_by"},
		{"/v2/timings?event_type=" + strings.Repeat("a", 201), "event_type"},
		{"/v2/timings?event_type=a&event_type=b", "event_type"},
		{"/v2/timings?event_type=a&start=soon", "start"},
		{"/v2/timings?event_type=a&limit=5", "limit"},
	} {
		requireError(t, call(t, srv, "GET", tc.target, tokA, ""), http.StatusBadRequest, tc.want)
	}
}

func TestAuditUsageEndpoint(t *testing.T) {
	t.Parallel()
	srv := archiveServer(t)
	window := "?start=2024-01-02T03:00:00Z&end=2024-01-02T06:00:00Z"
	rec := call(t, srv, "GET", "/v2/audit/usage"+window, tokAdmin, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.JSONEq(t, `[{"resource_id":"vm-proj-a","project_id":"proj-a","launched_at":"2024-01-02T03:00:03Z","deleted_at":null,"exists":2,
		"missing":[{"start":"2024-01-02T04:00:00Z","end":"2024-01-02T05:00:00Z"}],"overlapping":[]}]`, rec.Body.String())
	rec = call(t, srv, "GET", "/v2/audit/usage"+window, tokB, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.JSONEq(t, `[]`, rec.Body.String())
	for _, tc := range []struct{ target, want string }{
		{"/v2/audit/usage", "start"},
		{"/v2/audit/usage?start=2024-01-02T03:00:00Z", "end"},
		{"/v2/audit/usage?start=2024-01-02T06:00:00Z&end=2024-01-02T03:00:00Z", "start"},
		{"/v2/audit/usage?start=2024-01-01T00:00:00Z&end=2025-01-01T00:00:00Z", "days"},
		{"/v2/audit/usage?start=x&end=2024-01-02T03:00:00Z", "start"},
		{"/v2/audit/usage" + window + "&project_id=p", "project_id"},
	} {
		requireError(t, call(t, srv, "GET", tc.target, tokA, ""), http.StatusBadRequest, tc.want)
	}
}
