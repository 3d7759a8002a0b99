package api

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// Ceilometer's answers where a client could notice (issue 15, item 5);
// each fact is taken from Ceilometer's v2 API (stable/ocata,
// ceilometer/api/controllers/v2) and oslo.middleware.

var requestIDForm = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestRequestIDOnEveryAnswer: oslo.middleware's RequestId, first in the
// paste pipeline, sets X-OpenStack-Request-Id on every answer (errors,
// unknown paths, unauthenticated requests included), new for each
// request; a caller's own id is not echoed.
func TestRequestIDOnEveryAnswer(t *testing.T) {
	t.Parallel()
	srv, _ := testServer(t)
	seen := map[string]bool{}
	for _, tc := range []struct {
		method, target, token, body string
		code                        int
	}{
		{"GET", "/v2/meters", tokA, "", http.StatusOK},
		{"GET", "/v2/capabilities/", tokA, "", http.StatusOK},
		{"GET", "/v2/meters", "", "", http.StatusUnauthorized},
		{"GET", "/v2/nowhere", tokA, "", http.StatusNotFound},
		{"DELETE", "/v2/meters", tokA, "", http.StatusMethodNotAllowed},
		{"GET", "/v2/meters?limit=x", tokA, "", http.StatusBadRequest},
		{"POST", "/v2/meters/cpu_util", tokA, `[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r-id"}]`, http.StatusCreated},
		{"GET", "/v2/events", tokA, "", http.StatusOK},
		{"GET", "/v2/alarms", tokA, "", http.StatusOK},
		{"GET", "/healthz", "", "", http.StatusOK},
		{"GET", "/metrics", "", "", http.StatusOK},
	} {
		rec := call(t, srv, tc.method, tc.target, tc.token, tc.body)
		require.Equal(t, tc.code, rec.Code, "%s %s: %s", tc.method, tc.target, rec.Body.String())
		id := rec.Header().Get(HeaderRequestID)
		require.Regexp(t, requestIDForm, id, "%s %s", tc.method, tc.target)
		require.Len(t, rec.Header().Values(HeaderRequestID), 1)
		require.False(t, seen[id], "a new id for each request")
		seen[id] = true
	}
	mine := "req-11111111-2222-3333-4444-555555555555"
	req := httptest.NewRequest("GET", "/healthz", nil)
	req.Header.Set(HeaderRequestID, mine)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	require.Regexp(t, requestIDForm, rec.Header().Get(HeaderRequestID))
	require.NotEqual(t, mine, rec.Header().Get(HeaderRequestID))
}

// TestUniqueMetersAreNull: get_meters(unique=True) returns resource,
// project, user and source None, and meter_id is built from them.
func TestUniqueMetersAreNull(t *testing.T) {
	t.Parallel()
	srv, _ := testServer(t)
	rec := call(t, srv, "GET", "/v2/meters?unique=True", tokAdmin, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, []map[string]any{
		{"meter_id": base64.StdEncoding.EncodeToString([]byte("None+cpu_util")), "name": "cpu_util", "type": "gauge", "unit": "%",
			"resource_id": nil, "project_id": nil, "user_id": nil, "source": nil},
		{"meter_id": base64.StdEncoding.EncodeToString([]byte("None+disk")), "name": "disk", "type": "gauge", "unit": "%",
			"resource_id": nil, "project_id": nil, "user_id": nil, "source": nil},
	}, decodeList(t, rec.Body.Bytes()))
	// The limit counts meter names, as Ceilometer's storage groups before
	// it limits (cpu_util has three resources here).
	rec = call(t, srv, "GET", "/v2/meters?unique=True&limit=2", tokAdmin, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, []string{"cpu_util", "disk"}, strs(decodeList(t, rec.Body.Bytes()), "name"))
	rec = call(t, srv, "GET", "/v2/meters?unique=True&limit=1&marker="+base64.StdEncoding.EncodeToString([]byte("None+cpu_util")), tokAdmin, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, []string{"disk"}, strs(decodeList(t, rec.Body.Bytes()), "name"))
}

// TestStatisticsGroupedByNullField: a group whose field is missing (a
// sample without user, a resource without the metadata key) has null in
// groupby, as Ceilometer's storage returns None, not "".
func TestStatisticsGroupedByNullField(t *testing.T) {
	t.Parallel()
	srv, _ := testServer(t)
	rec := call(t, srv, "POST", "/v2/meters/cpu_util", tokA,
		`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":3,"resource_id":"r-nouser","timestamp":"2024-01-02T03:00:30"}]`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rec = call(t, srv, "GET", "/v2/meters/cpu_util/statistics"+qs("groupby", "user_id", "groupby", "resource_metadata.flavor.name"), tokA, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	groups := map[string]any{}
	for _, r := range decodeList(t, rec.Body.Bytes()) {
		g := r["groupby"].(map[string]any)
		require.Contains(t, g, "user_id")
		require.Contains(t, g, "resource_metadata.flavor.name")
		key := "null"
		if u, ok := g["user_id"].(string); ok {
			key = u
		}
		groups[key] = g["resource_metadata.flavor.name"]
	}
	require.Equal(t, map[string]any{"user-a": "small", "user-a2": "large", "null": nil}, groups)
}

// TestPostedMetadataAsCeilometer: the API shows metadata values as
// Python's str() of them (flatten_metadata), in the POST answer and in
// every listing; a typed boolean filter finds them.
func TestPostedMetadataAsCeilometer(t *testing.T) {
	t.Parallel()
	srv, _ := testServer(t)
	body := `[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":3,"resource_id":"r-md",` +
		`"resource_metadata":{"on":true,"off":false,"none":null,"list":[1,2],"names":["a","b"],"f":1.0,"i":7,"nested":{"deep":true,"deeper":{"x":1}},"s":"text"}}]`
	// A key nested deeper than one level keeps its first dot, the others
	// become colons, as flatten_metadata writes it.
	want := map[string]any{"on": "True", "off": "False", "none": "None", "list": "[1, 2]", "names": "['a', 'b']",
		"f": "1.0", "i": "7", "nested.deep": "True", "nested.deeper:x": "1", "s": "text"}
	rec := call(t, srv, "POST", "/v2/meters/cpu_util", tokA, body)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Equal(t, want, decodeList(t, rec.Body.Bytes())[0]["resource_metadata"])

	rec = call(t, srv, "GET", "/v2/samples"+qs("q.field", "metadata.on", "q.type", "boolean", "q.value", "true"), tokA, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rows := decodeList(t, rec.Body.Bytes())
	require.Len(t, rows, 1)
	require.Equal(t, want, rows[0]["metadata"])
	rec = call(t, srv, "GET", "/v2/meters/cpu_util"+qs("q.field", "metadata.f", "q.type", "float", "q.value", "1"), tokA, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Len(t, decodeList(t, rec.Body.Bytes()), 1, "a typed float finds the stored 1.0")
	rec = call(t, srv, "GET", "/v2/samples"+qs("q.field", "metadata.nested.deeper.x", "q.value", "1"), tokA, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Len(t, decodeList(t, rec.Body.Bytes()), 1, "queries name the key with dots, as Ceilometer's metaquery")
}

// TestPostedSourceAndOtherProject: POST stores and answers source
// "<project>:<source>" (default source openstack); a member naming
// another project gets InvalidInput, 400.
func TestPostedSourceAndOtherProject(t *testing.T) {
	t.Parallel()
	srv, _ := testServer(t)
	good := `{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r-src"`
	rec := call(t, srv, "POST", "/v2/meters/cpu_util", tokA, `[`+good+`}, `+good+`,"source":"mine","timestamp":"2024-01-02T03:00:00"}]`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Equal(t, []string{projectA + ":openstack", projectA + ":mine"}, strs(decodeList(t, rec.Body.Bytes()), "source"))
	rec = call(t, srv, "GET", "/v2/samples"+qs("q.field", "resource_id", "q.value", "r-src"), tokA, "")
	require.ElementsMatch(t, []string{projectA + ":openstack", projectA + ":mine"}, strs(decodeList(t, rec.Body.Bytes()), "source"))
	rec = call(t, srv, "POST", "/v2/meters/cpu_util", tokAdmin, `[`+good+`,"project_id":"proj-z"}]`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	require.Equal(t, "proj-z:openstack", decodeList(t, rec.Body.Bytes())[0]["source"])

	requireError(t, call(t, srv, "POST", "/v2/meters/cpu_util", tokA, `[`+good+`,"project_id":"`+projectB+`"}]`),
		http.StatusBadRequest, "can not post samples to other projects")
}
