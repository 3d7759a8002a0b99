package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/store"
)

func decodeList(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	require.NoError(t, json.Unmarshal(body, &out), string(body))
	return out
}

func decodeObject(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var out map[string]any
	require.NoError(t, json.Unmarshal(body, &out), string(body))
	return out
}

// requireError checks the status and Ceilometer's envelope, and that the
// message contains want.
func requireError(t *testing.T, rec interface {
	Result() *http.Response
}, code int, want string) {
	t.Helper()
	res := rec.Result()
	var body errorBody
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	require.Equal(t, code, res.StatusCode, body.ErrorMessage.FaultString)
	require.Contains(t, body.ErrorMessage.FaultString, want)
	if code < 500 {
		require.Equal(t, "Client", body.ErrorMessage.FaultCode)
	} else {
		require.Equal(t, "Server", body.ErrorMessage.FaultCode)
	}
}

func strs(rows []map[string]any, key string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i], _ = r[key].(string)
	}
	return out
}

func qs(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}

// dataEndpoints are one request per data endpoint, for the auth checks.
var dataEndpoints = []struct{ method, target, body string }{
	{"GET", "/v2/meters", ""},
	{"GET", "/v2/meters/cpu_util", ""},
	{"POST", "/v2/meters/cpu_util", `[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r"}]`},
	{"GET", "/v2/meters/cpu_util/statistics", ""},
	{"GET", "/v2/samples", ""},
	{"GET", "/v2/samples/a1-0", ""},
	{"GET", "/v2/resources", ""},
	{"GET", "/v2/resources/res-a1", ""},
	{"POST", "/v2/query/samples", `{}`},
	{"GET", "/v2/capabilities", ""},
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	srv, fs := testServer(t)
	for _, ep := range dataEndpoints {
		t.Run(ep.method+" "+ep.target, func(t *testing.T) {
			requireError(t, call(t, srv, ep.method, ep.target, "", ep.body), http.StatusUnauthorized, "missing X-Auth-Token")
			rec := call(t, srv, ep.method, ep.target, "nope", ep.body)
			requireError(t, rec, http.StatusUnauthorized, "unauthorized")
			require.NotEmpty(t, rec.Header().Get("WWW-Authenticate"))
			requireError(t, call(t, srv, ep.method, ep.target, "broken", ep.body), http.StatusInternalServerError, "token file unreadable")
			requireError(t, call(t, srv, ep.method, ep.target, tokNoProj, ep.body), http.StatusForbidden, "no project")
		})
	}
	require.Equal(t, 0, fs.calls, "no store call without a valid token")
	for _, path := range []string{"/healthz", "/metrics", "/v2/openapi.json"} {
		require.Equal(t, http.StatusOK, call(t, srv, "GET", path, "", "").Code, path)
	}
	t.Run("no authenticator refuses everything", func(t *testing.T) {
		fs := &fakeStore{rows: fixture()}
		srv := New(Options{Store: fs})
		requireError(t, call(t, srv, "GET", "/v2/samples", tokAdmin, ""), http.StatusUnauthorized, "no authenticator")
	})
	t.Run("no store serves no data endpoints", func(t *testing.T) {
		srv := New(Options{})
		requireError(t, call(t, srv, "GET", "/v2/samples", tokAdmin, ""), http.StatusNotFound, "not found")
		requireError(t, call(t, srv, "GET", "/v2/plugins", tokAdmin, ""), http.StatusUnauthorized, "no authenticator")
	})
}

// TestTenancyIsolation: on every endpoint a member of one project never sees
// the other project's rows, and naming the other project is 403.
func TestTenancyIsolation(t *testing.T) {
	t.Parallel()
	srv, _ := testServer(t)
	members := []struct {
		token, own, other, otherRes, otherSample string
	}{
		{tokA, projectA, projectB, resourceB1, "b1-0"},
		{tokB, projectB, projectA, resourceA1, "a1-0"},
	}
	for _, m := range members {
		lists := []struct{ name, method, target, body string }{
			{"meters", "GET", "/v2/meters", ""},
			{"meter samples", "GET", "/v2/meters/cpu_util", ""},
			{"statistics by project", "GET", "/v2/meters/cpu_util/statistics?groupby=project_id&groupby=resource_id", ""},
			{"samples", "GET", "/v2/samples", ""},
			{"resources", "GET", "/v2/resources", ""},
			{"complex query", "POST", "/v2/query/samples", `{"filter": "{\"=\": {\"counter_name\": \"cpu_util\"}}"}`},
			{"complex query without filter", "POST", "/v2/query/samples", `{}`},
			{"complex query with or", "POST", "/v2/query/samples", `{"filter": "{\"or\": [{\"=\": {\"resource\": \"` + m.otherRes + `\"}}, {\">\": {\"volume\": 0}}]}"}`},
		}
		for _, l := range lists {
			t.Run(m.own+" "+l.name, func(t *testing.T) {
				rec := call(t, srv, l.method, l.target, m.token, l.body)
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				body := rec.Body.String()
				require.Contains(t, body, m.own, "the member sees its own project")
				require.NotContains(t, body, m.other)
				require.NotContains(t, body, m.otherRes)
			})
		}
		forbidden := []struct{ name, method, target, body string }{
			{"meters", "GET", "/v2/meters" + qs("q.field", "project_id", "q.value", m.other), ""},
			{"meter samples", "GET", "/v2/meters/cpu_util" + qs("q.field", "project", "q.value", m.other), ""},
			{"statistics", "GET", "/v2/meters/cpu_util/statistics" + qs("q.field", "project_id", "q.value", m.other), ""},
			{"samples", "GET", "/v2/samples" + qs("q.field", "project_id", "q.value", m.other), ""},
			{"samples ne", "GET", "/v2/samples" + qs("q.field", "project_id", "q.op", "ne", "q.value", m.other), ""},
			{"resources", "GET", "/v2/resources" + qs("q.field", "project_id", "q.value", m.other), ""},
			{"complex query", "POST", "/v2/query/samples", `{"filter": "{\"=\": {\"project_id\": \"` + m.other + `\"}}"}`},
			{"complex query nested", "POST", "/v2/query/samples", `{"filter": "{\"not\": {\"in\": {\"project\": [\"` + m.own + `\", \"` + m.other + `\"]}}}"}`},
		}
		for _, f := range forbidden {
			t.Run(m.own+" forbidden "+f.name, func(t *testing.T) {
				requireError(t, call(t, srv, f.method, f.target, m.token, f.body), http.StatusForbidden, m.other)
			})
		}
		t.Run(m.own+" post to another project", func(t *testing.T) {
			// Ceilometer answers InvalidInput, a 400.
			requireError(t, call(t, srv, "POST", "/v2/meters/cpu_util", m.token,
				`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","project_id":"`+m.other+`"}]`),
				http.StatusBadRequest, "can not post samples to other projects")
		})
		t.Run(m.own+" own project named", func(t *testing.T) {
			rec := call(t, srv, "GET", "/v2/samples"+qs("q.field", "project_id", "q.value", m.own), m.token, "")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.NotEmpty(t, decodeList(t, rec.Body.Bytes()))
		})
		t.Run(m.own+" get by id of the other project is 404", func(t *testing.T) {
			requireError(t, call(t, srv, "GET", "/v2/samples/"+m.otherSample, m.token, ""), http.StatusNotFound, m.otherSample)
			requireError(t, call(t, srv, "GET", "/v2/resources/"+m.otherRes, m.token, ""), http.StatusNotFound, m.otherRes)
		})
	}
	t.Run("admin sees both", func(t *testing.T) {
		rec := call(t, srv, "GET", "/v2/samples", tokAdmin, "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Contains(t, rec.Body.String(), projectA)
		require.Contains(t, rec.Body.String(), projectB)
		require.Equal(t, http.StatusOK, call(t, srv, "GET", "/v2/samples/b1-0", tokAdmin, "").Code)
		require.Equal(t, http.StatusOK, call(t, srv, "GET", "/v2/resources/"+resourceB1, tokAdmin, "").Code)
	})
}

func TestListMeters(t *testing.T) {
	t.Parallel()
	srv, fs := testServer(t)
	rec := call(t, srv, "GET", "/v2/meters", tokAdmin, "")
	require.Equal(t, http.StatusOK, rec.Code)
	rows := decodeList(t, rec.Body.Bytes())
	require.Len(t, rows, 4)
	require.Equal(t, map[string]any{
		"meter_id": base64.StdEncoding.EncodeToString([]byte("res-a1+cpu_util")), "name": "cpu_util", "type": "gauge",
		"unit": "%", "resource_id": "res-a1", "project_id": "proj-a", "user_id": "user-a", "source": "openstack",
	}, rows[0])

	rec = call(t, srv, "GET", "/v2/meters"+qs("q.field", "metadata.flavor.name", "q.value", "large", "q.field", "meter", "q.value", "cpu_util"), tokAdmin, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, []string{resourceA2, resourceB1}, strs(decodeList(t, rec.Body.Bytes()), "resource_id"))
	require.Equal(t, store.Filter{Meter: "cpu_util", Metadata: map[string]string{"flavor.name": "large"}}, fs.lastF)

	rec = call(t, srv, "GET", "/v2/meters?unique=true", tokAdmin, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Equal(t, []string{"cpu_util", "disk"}, strs(decodeList(t, rec.Body.Bytes()), "name"))

	for _, tc := range []struct{ name, query, want string }{
		{"bad unique", qs("unique", "perhaps"), "unique"},
		{"timestamp is not a meter field", qs("q.field", "timestamp", "q.op", "gt", "q.value", "2024-01-01T00:00:00"), "timestamp"},
		{"unknown field", qs("q.field", "colour", "q.value", "x"), "colour"},
		{"unknown op", qs("q.field", "resource_id", "q.op", "like", "q.value", "x"), "like"},
		{"op the store cannot index", qs("q.field", "resource_id", "q.op", "ne", "q.value", "x"), "resource_id != x"},
		{"limit zero", qs("limit", "0"), "limit"},
		{"limit text", qs("limit", "ten"), "limit"},
		{"unknown parameter", qs("lmit", "3"), "lmit"},
		{"bad marker", qs("marker", "zzz"), "marker"},
		{"values without fields", qs("q.value", "x"), "q.value"},
		{"bad type", qs("q.field", "metadata.size", "q.type", "complex", "q.value", "1"), "complex"},
		{"bad integer", qs("q.field", "metadata.size", "q.type", "integer", "q.value", "1.5"), "metadata.size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, call(t, srv, "GET", "/v2/meters"+tc.query, tokAdmin, ""), http.StatusBadRequest, tc.want)
		})
	}
	t.Run("pagination", func(t *testing.T) {
		var got []string
		marker := ""
		for range 10 {
			target := "/v2/meters?limit=3"
			if marker != "" {
				target += "&marker=" + url.QueryEscape(marker)
			}
			rec := call(t, srv, "GET", target, tokAdmin, "")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			page := decodeList(t, rec.Body.Bytes())
			require.LessOrEqual(t, len(page), 3)
			if len(page) == 0 {
				break
			}
			got = append(got, strs(page, "meter_id")...)
			marker = got[len(got)-1]
		}
		require.Equal(t, strs(rows, "meter_id"), got)
	})
}

func TestListMeterSamples(t *testing.T) {
	t.Parallel()
	srv, fs := testServer(t)
	rec := call(t, srv, "GET", "/v2/meters/cpu_util", tokA, "")
	require.Equal(t, http.StatusOK, rec.Code)
	rows := decodeList(t, rec.Body.Bytes())
	require.Equal(t, []string{"a1-3", "a1-2", "a1-1", "a2-1", "a1-0", "a2-0"}, strs(rows, "message_id"))
	require.Equal(t, map[string]any{
		"counter_name": "cpu_util", "counter_type": "gauge", "counter_unit": "%", "counter_volume": 40.0,
		"message_id": "a1-3", "resource_id": "res-a1", "project_id": "proj-a", "user_id": "user-a", "source": "openstack",
		"timestamp": "2024-01-02T03:03:00.000000", "recorded_at": "2024-01-02T03:03:00.123456",
		"resource_metadata": map[string]any{"flavor.name": "small", "host": "h1"},
	}, rows[0])
	require.Equal(t, store.DefaultLimit, fs.lastO.Limit, "no limit given: the store's default")

	ts := func(min int, us int) time.Time {
		return t0.Add(time.Duration(min)*time.Minute + time.Duration(us)*time.Microsecond)
	}
	for _, tc := range []struct {
		name      string
		query     string
		wantStart time.Time
		wantEnd   time.Time
		wantIDs   []string
	}{
		{"ge is inclusive", qs("q.field", "timestamp", "q.op", "ge", "q.value", "2024-01-02T03:01:00"), ts(1, 0), time.Time{}, []string{"a1-3", "a1-2", "a1-1", "a2-1"}},
		{"gt moves start by a microsecond", qs("q.field", "timestamp", "q.op", "gt", "q.value", "2024-01-02T03:01:00"), ts(1, 1), time.Time{}, []string{"a1-3", "a1-2"}},
		{"lt is exclusive", qs("q.field", "timestamp", "q.op", "lt", "q.value", "2024-01-02T03:01:00+00:00"), time.Time{}, ts(1, 0), []string{"a1-0", "a2-0"}},
		{"le moves end by a microsecond", qs("q.field", "timestamp", "q.op", "le", "q.value", "2024-01-02T03:01:00Z"), time.Time{}, ts(1, 1), []string{"a1-1", "a2-1", "a1-0", "a2-0"}},
		{"range", qs("q.field", "timestamp", "q.op", "ge", "q.value", "2024-01-02T03:01:00", "q.field", "timestamp", "q.op", "lt", "q.value", "2024-01-02T03:03:00"), ts(1, 0), ts(3, 0), []string{"a1-2", "a1-1", "a2-1"}},
		{"search_offset widens", qs("q.field", "timestamp", "q.op", "ge", "q.value", "2024-01-02T03:02:00", "q.field", "search_offset", "q.op", "eq", "q.value", "1"), ts(1, 0), time.Time{}, []string{"a1-3", "a1-2", "a1-1", "a2-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := call(t, srv, "GET", "/v2/meters/cpu_util"+tc.query, tokA, "")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, tc.wantIDs, strs(decodeList(t, rec.Body.Bytes()), "message_id"))
			require.True(t, tc.wantStart.Equal(fs.lastF.Start), "start %v", fs.lastF.Start)
			require.True(t, tc.wantEnd.Equal(fs.lastF.End), "end %v", fs.lastF.End)
			require.Equal(t, projectA, fs.lastF.ProjectID)
			require.Equal(t, "cpu_util", fs.lastF.Meter)
		})
	}
	for _, tc := range []struct {
		name    string
		query   string
		wantIDs []string
	}{
		{"metadata equality", qs("q.field", "metadata.flavor.name", "q.value", "large"), []string{"a2-1", "a2-0"}},
		{"resource_metadata spelling", qs("q.field", "resource_metadata.host", "q.value", "h1"), []string{"a1-3", "a1-2", "a1-1", "a1-0"}},
		{"ne post-filters", qs("q.field", "resource_id", "q.op", "ne", "q.value", resourceA1), []string{"a2-1", "a2-0"}},
		{"message_id", qs("q.field", "message_id", "q.value", "a1-2"), []string{"a1-2"}},
		{"user", qs("q.field", "user", "q.value", "user-a2"), []string{"a2-1", "a2-0"}},
		{"another meter named is empty", qs("q.field", "meter", "q.value", "disk"), []string{}},
		{"resource of another project is empty", qs("q.field", "resource_id", "q.value", resourceB1), []string{}},
		{"limit", qs("limit", "2"), []string{"a1-3", "a1-2"}},
		{"marker", qs("limit", "2", "marker", "a1-2"), []string{"a1-1", "a2-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := call(t, srv, "GET", "/v2/meters/cpu_util"+tc.query, tokA, "")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, tc.wantIDs, strs(decodeList(t, rec.Body.Bytes()), "message_id"))
		})
	}
	for _, tc := range []struct{ name, query, want string }{
		{"bad timestamp", qs("q.field", "timestamp", "q.op", "gt", "q.value", "yesterday"), "timestamp"},
		{"search_offset alone", qs("q.field", "search_offset", "q.value", "5"), "search_offset"},
		{"bad boolean", qs("q.field", "metadata.on", "q.type", "boolean", "q.value", "maybe"), "metadata.on"},
		{"unknown marker", qs("marker", "nope"), "marker"},
		{"ops count", qs("q.field", "user", "q.field", "source", "q.value", "a", "q.value", "b", "q.op", "eq"), "q.op"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, call(t, srv, "GET", "/v2/meters/cpu_util"+tc.query, tokA, ""), http.StatusBadRequest, tc.want)
		})
	}
}

func TestPostSamples(t *testing.T) {
	t.Parallel()
	good := `{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":12.5,"resource_id":"res-new"`
	t.Run("member", func(t *testing.T) {
		t.Parallel()
		srv, fs := testServer(t)
		body := `[` + good + `,"resource_metadata":{"flavor":{"name":"tiny"}}}, ` + good + `,"timestamp":"2024-01-02T05:00:00.5","message_id":"m-given","counter_volume":"7","user_id":"u9"}]`
		rec := call(t, srv, "POST", "/v2/meters/cpu_util?direct=True", tokA, body)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		rows := decodeList(t, rec.Body.Bytes())
		require.Len(t, rows, 2)
		// Without message_id: the store's id of series and timestamp, not
		// a random one.
		require.True(t, strings.HasPrefix(rows[0]["message_id"].(string), "canon-proj-a-res-new-cpu_util-"), rows[0]["message_id"])
		require.Equal(t, "2", rec.Header().Get(HeaderStored))
		require.Equal(t, "0", rec.Header().Get(HeaderDuplicates))
		require.Equal(t, projectA, rows[0]["project_id"])
		require.Equal(t, projectA+":"+DefaultSource, rows[0]["source"])
		require.Nil(t, rows[0]["user_id"])
		require.Nil(t, rows[0]["recorded_at"])
		require.Equal(t, map[string]any{"flavor.name": "tiny"}, rows[0]["resource_metadata"])
		require.Equal(t, "2024-01-02T05:00:00.500000", rows[1]["timestamp"])
		require.Equal(t, "m-given", rows[1]["message_id"])
		require.Equal(t, 7.0, rows[1]["counter_volume"])
		require.Equal(t, "u9", rows[1]["user_id"])
		ts, err := time.Parse(isoLayout, rows[0]["timestamp"].(string))
		require.NoError(t, err)
		require.WithinDuration(t, time.Now(), ts, time.Minute, "a missing timestamp is now")

		got, err := fs.Sample(t.Context(), "m-given", projectA)
		require.NoError(t, err)
		require.Equal(t, 7.0, got.Volume)
		require.Equal(t, "res-new", got.ResourceID)
		rec = call(t, srv, "GET", "/v2/samples/m-given", tokA, "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "m-given", decodeObject(t, rec.Body.Bytes())["id"])

		// A retried POST is idempotent: the stored sample stays as it was,
		// and the answer says it was already stored.
		rec = call(t, srv, "POST", "/v2/meters/cpu_util", tokA, `[`+good+`,"message_id":"m-given"}]`)
		require.Equal(t, http.StatusCreated, rec.Code)
		require.Equal(t, "0", rec.Header().Get(HeaderStored))
		require.Equal(t, "1", rec.Header().Get(HeaderDuplicates))
		again, err := fs.Sample(t.Context(), "m-given", projectA)
		require.NoError(t, err)
		require.Equal(t, 7.0, again.Volume)
		requireError(t, call(t, srv, "GET", "/v2/samples/m-given", tokB, ""), http.StatusNotFound, "m-given")
	})
	t.Run("admin keeps the posted project", func(t *testing.T) {
		t.Parallel()
		srv, fs := testServer(t)
		rec := call(t, srv, "POST", "/v2/meters/cpu_util", tokAdmin, `[`+good+`,"project_id":"proj-z","source":"mine"}]`)
		require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		rows, err := fs.Samples(t.Context(), store.Filter{ProjectID: "proj-z"}, store.ListOptions{})
		require.NoError(t, err)
		require.Len(t, rows, 1)
		require.Equal(t, "proj-z:mine", rows[0].Source)
	})
	srv, fs := testServer(t)
	before := len(fs.rows)
	for _, tc := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"name mismatch", `[{"counter_name":"disk","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r"}]`, 400, "counter_name"},
		{"bad type", `[{"counter_name":"cpu_util","counter_type":"rate","counter_unit":"%","counter_volume":1,"resource_id":"r"}]`, 400, "counter_type"},
		{"missing unit", `[{"counter_name":"cpu_util","counter_type":"gauge","counter_volume":1,"resource_id":"r"}]`, 400, "counter_unit"},
		{"missing volume", `[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","resource_id":"r"}]`, 400, "counter_volume"},
		{"volume text", `[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":"lots","resource_id":"r"}]`, 400, "counter_volume"},
		{"volume overflow", `[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1e999,"resource_id":"r"}]`, 400, "counter_volume"},
		{"missing resource", `[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1}]`, 400, "resource_id"},
		{"bad timestamp", `[` + good + `,"timestamp":"noon"}]`, 400, "timestamp"},
		{"unknown attribute", `[` + good + `,"colour":"red"}]`, 400, "colour"},
		{"empty list", `[]`, 400, "samples"},
		{"not a list", `{"counter_name":"cpu_util"}`, 400, "array"},
		{"null item", `[null]`, 400, "samples[0]"},
		{"trailing data", `[` + good + `}] []`, 400, "trailing"},
		{"duplicate message_id", `[` + good + `,"message_id":"x"},` + good + `,"message_id":"x"}]`, 400, "samples[1].message_id"},
		{"other project", `[` + good + `,"project_id":"proj-b"}]`, 400, "proj-b"},
		{"unknown parameter", ``, 400, "unknown parameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := "/v2/meters/cpu_util"
			if tc.body == "" {
				target += "?force=1"
				tc.body = `[` + good + `}]`
			}
			requireError(t, call(t, srv, "POST", target, tokA, tc.body), tc.code, tc.want)
		})
	}
	require.Len(t, fs.rows, before, "nothing is written from a refused request")
	t.Run("too large", func(t *testing.T) {
		big := `[` + good + `,"resource_metadata":{"x":"` + strings.Repeat("a", MaxBodyBytes) + `"}}]`
		requireError(t, call(t, srv, "POST", "/v2/meters/cpu_util", tokA, big), http.StatusRequestEntityTooLarge, "too large")
	})
	t.Run("no writer is 405", func(t *testing.T) {
		srv := New(Options{Store: fs, Auth: testAuth})
		requireError(t, call(t, srv, "POST", "/v2/meters/cpu_util", tokA, `[`+good+`}]`), http.StatusMethodNotAllowed, "method not allowed")
	})
}

func TestStatistics(t *testing.T) {
	t.Parallel()
	srv, fs := testServer(t)
	get := func(t *testing.T, token, query string) []map[string]any {
		t.Helper()
		rec := call(t, srv, "GET", "/v2/meters/cpu_util/statistics"+query, token, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		return decodeList(t, rec.Body.Bytes())
	}
	t.Run("one bucket", func(t *testing.T) {
		rows := get(t, tokA, "")
		require.Len(t, rows, 1)
		require.Equal(t, map[string]any{
			"avg": 112.0 / 6, "count": 6.0, "max": 40.0, "min": 5.0, "sum": 112.0, "unit": "%",
			"duration": 180.0, "duration_start": "2024-01-02T03:00:00.000000", "duration_end": "2024-01-02T03:03:00.000000",
			"period": 0.0, "period_start": "2024-01-02T03:00:00.000000", "period_end": "2024-01-02T03:03:00.000000",
			"groupby": nil, "aggregate": nil,
		}, rows[0])
		require.Equal(t, store.StatsQuery{Filter: store.Filter{Meter: "cpu_util", ProjectID: projectA}, MaxGroups: DefaultMaxGroups, MaxBuckets: DefaultMaxBuckets}, fs.lastStats)
	})
	t.Run("group by and period", func(t *testing.T) {
		rows := get(t, tokA, qs("groupby", "resource_id", "groupby", "metadata.flavor.name", "groupby", "resource_id", "period", "120"))
		var got []string
		for _, r := range rows {
			g := r["groupby"].(map[string]any)
			got = append(got, g["resource_id"].(string)+"/"+g["resource_metadata.flavor.name"].(string)+"/"+r["period_start"].(string)+"/"+jsonText(r["count"]))
			require.Equal(t, 120.0, r["period"])
		}
		sort.Strings(got)
		require.Equal(t, []string{
			"res-a1/small/2024-01-02T03:00:00.000000/2",
			"res-a1/small/2024-01-02T03:02:00.000000/2",
			"res-a2/large/2024-01-02T03:00:00.000000/2",
		}, got)
		require.Equal(t, []string{"resource_id", "resource_metadata.flavor.name"}, fs.lastStats.GroupBy)
		require.Equal(t, 2*time.Minute, fs.lastStats.Period)
	})
	t.Run("selectable aggregates", func(t *testing.T) {
		rows := get(t, tokAdmin, qs("aggregate.func", "max", "aggregate.func", "cardinality", "aggregate.param", "project_id", "aggregate.func", "stddev"))
		require.Len(t, rows, 1)
		require.Equal(t, map[string]any{"max": 92.0, "cardinality/project_id": 2.0, "stddev": rows[0]["aggregate"].(map[string]any)["stddev"]}, rows[0]["aggregate"])
		require.Equal(t, 92.0, rows[0]["max"])
		require.Nil(t, rows[0]["min"], "aggregates not selected are null, as Ceilometer")
		require.Nil(t, rows[0]["count"])
		require.Equal(t, []store.Aggregate{{Func: "max"}, {Func: "cardinality", Param: "project_id"}, {Func: "stddev"}}, fs.lastStats.Aggregates)
	})
	t.Run("time range", func(t *testing.T) {
		rows := get(t, tokA, qs("q.field", "timestamp", "q.op", "ge", "q.value", "2024-01-02T03:01:00", "q.field", "resource", "q.op", "eq", "q.value", resourceA1))
		require.Len(t, rows, 1)
		require.Equal(t, 3.0, rows[0]["count"])
		require.Equal(t, store.Filter{Meter: "cpu_util", ProjectID: projectA, ResourceID: resourceA1, Start: t0.Add(time.Minute)}, fs.lastStats.Filter)
	})
	for _, tc := range []struct{ name, query, want string }{
		{"bad groupby", qs("groupby", "counter_volume"), "counter_volume"},
		{"bad aggregate", qs("aggregate.func", "median"), "median"},
		{"cardinality without param", qs("aggregate.func", "cardinality"), "aggregate.param"},
		{"bad param", qs("aggregate.func", "cardinality", "aggregate.param", "source"), "source"},
		{"stray param", qs("aggregate.func", "max", "aggregate.param", "user_id"), "user_id"},
		{"negative period", qs("period", "-1"), "period"},
		{"huge period", qs("period", "99999999999999"), "period"},
		{"period text", qs("period", "1h"), "period"},
		{"residual", qs("q.field", "resource_id", "q.op", "gt", "q.value", "a"), "resource_id > a"},
		{"message_id", qs("q.field", "message_id", "q.value", "a"), "message_id"},
		{"unknown parameter", qs("group_by", "user_id"), "group_by"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, call(t, srv, "GET", "/v2/meters/cpu_util/statistics"+tc.query, tokA, ""), http.StatusBadRequest, tc.want)
		})
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestRenderStatisticsClampsDuration(t *testing.T) {
	t.Parallel()
	st := store.Statistics{Count: 1, DurationStart: t0, DurationEnd: t0.Add(10 * time.Minute), Period: time.Minute}
	out := renderStatistics(&st, nil, t0.Add(time.Minute), t0.Add(4*time.Minute))
	require.Equal(t, 180.0, *out.Duration)
	require.Equal(t, t0.Add(time.Minute), time.Time(out.DurationStart))
	out = renderStatistics(&st, nil, t0.Add(11*time.Minute), time.Time{})
	require.Nil(t, out.Duration, "a bucket outside the range has no duration")
	require.True(t, time.Time(out.DurationStart).IsZero())
	require.Equal(t, int64(60), out.Period)
}

func TestSamples(t *testing.T) {
	t.Parallel()
	srv, fs := testServer(t)
	rec := call(t, srv, "GET", "/v2/samples", tokAdmin, "")
	require.Equal(t, http.StatusOK, rec.Code)
	rows := decodeList(t, rec.Body.Bytes())
	require.Len(t, rows, 10)
	require.Equal(t, map[string]any{
		"id": "a1-3", "meter": "cpu_util", "type": "gauge", "unit": "%", "volume": 40.0, "user_id": "user-a",
		"project_id": "proj-a", "resource_id": "res-a1", "source": "openstack", "timestamp": "2024-01-02T03:03:00.000000",
		"recorded_at": "2024-01-02T03:03:00.123456", "metadata": map[string]any{"flavor.name": "small", "host": "h1"},
	}, rows[0])

	rec = call(t, srv, "GET", "/v2/samples"+qs("q.field", "meter", "q.value", "disk"), tokA, "")
	require.Equal(t, []string{"a1-d"}, strs(decodeList(t, rec.Body.Bytes()), "id"))
	require.Equal(t, store.Filter{Meter: "disk", ProjectID: projectA}, fs.lastF)

	t.Run("pagination", func(t *testing.T) {
		var got []string
		marker := ""
		for range 20 {
			target := "/v2/samples?limit=3"
			if marker != "" {
				target += "&marker=" + marker
			}
			page := decodeList(t, call(t, srv, "GET", target, tokAdmin, "").Body.Bytes())
			if len(page) == 0 {
				break
			}
			require.LessOrEqual(t, len(page), 3)
			got = append(got, strs(page, "id")...)
			marker = got[len(got)-1]
		}
		require.Equal(t, strs(rows, "id"), got)
	})
	t.Run("get", func(t *testing.T) {
		rec := call(t, srv, "GET", "/v2/samples/a1-3", tokA, "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, rows[0], decodeObject(t, rec.Body.Bytes()))
		requireError(t, call(t, srv, "GET", "/v2/samples/none", tokAdmin, ""), http.StatusNotFound, "none")
		requireError(t, call(t, srv, "GET", "/v2/samples/a1-3?x=1", tokAdmin, ""), http.StatusBadRequest, "x")
	})
	t.Run("escaped id", func(t *testing.T) {
		fs.mu.Lock()
		fs.rows = append(fs.rows, store.Sample{Sample: fs.rows[0].Sample})
		fs.rows[len(fs.rows)-1].MessageID = "with/slash"
		fs.mu.Unlock()
		rec := call(t, srv, "GET", "/v2/samples/with%2Fslash", tokA, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Equal(t, "with/slash", decodeObject(t, rec.Body.Bytes())["id"])
	})
}

func TestResources(t *testing.T) {
	t.Parallel()
	srv, fs := testServer(t)
	rec := call(t, srv, "GET", "/v2/resources", tokA, "")
	require.Equal(t, http.StatusOK, rec.Code)
	rows := decodeList(t, rec.Body.Bytes())
	require.Equal(t, []string{resourceA1, resourceA2}, strs(rows, "resource_id"))
	require.Equal(t, map[string]any{
		"resource_id": "res-a1", "project_id": "proj-a", "user_id": "user-a", "source": "openstack",
		"first_sample_timestamp": "2024-01-02T03:00:00.000000", "last_sample_timestamp": "2024-01-02T03:03:00.000000",
		"metadata": map[string]any{"flavor.name": "small", "host": "h1"},
		"links": []any{
			map[string]any{"href": "http://127.0.0.1:0/v2/resources/res-a1", "rel": "self"},
			map[string]any{"href": "http://127.0.0.1:0/v2/meters/cpu_util?q.field=resource_id&q.value=res-a1", "rel": "cpu_util"},
			map[string]any{"href": "http://127.0.0.1:0/v2/meters/disk?q.field=resource_id&q.value=res-a1", "rel": "disk"},
		},
	}, rows[0])

	rec = call(t, srv, "GET", "/v2/resources"+qs("meter_links", "0", "q.field", "timestamp", "q.op", "ge", "q.value", "2024-01-02T03:02:00"), tokAdmin, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rows = decodeList(t, rec.Body.Bytes())
	require.Equal(t, []string{resourceA1, resourceB1}, strs(rows, "resource_id"))
	require.Len(t, rows[0]["links"], 1)
	require.Equal(t, t0.Add(2*time.Minute), fs.lastF.Start)

	rec = call(t, srv, "GET", "/v2/resources?limit=1&marker=res-a1", tokAdmin, "")
	require.Equal(t, []string{resourceA2}, strs(decodeList(t, rec.Body.Bytes()), "resource_id"))

	rec = call(t, srv, "GET", "/v2/resources/res-a2", tokA, "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "user-a2", decodeObject(t, rec.Body.Bytes())["user_id"])
	requireError(t, call(t, srv, "GET", "/v2/resources/none", tokAdmin, ""), http.StatusNotFound, "none")
	requireError(t, call(t, srv, "GET", "/v2/resources?meter_links=yes", tokAdmin, ""), http.StatusBadRequest, "meter_links")
	requireError(t, call(t, srv, "GET", "/v2/resources"+qs("q.field", "metadata.host", "q.op", "ne", "q.value", "h1"), tokAdmin, ""), http.StatusBadRequest, "resource_metadata.host")
}

func TestQuerySamples(t *testing.T) {
	t.Parallel()
	srv, fs := testServer(t)
	filter := func(f string) string {
		b, _ := json.Marshal(map[string]any{"filter": f})
		return string(b)
	}
	for _, tc := range []struct {
		name, token, body string
		want              []string
		wantFilter        store.Filter
		residual          bool
	}{
		{"no filter, member", tokB, `{}`, []string{"b1-2", "b1-1", "b1-0"}, store.Filter{ProjectID: projectB}, false},
		{"equality pushed down", tokAdmin, filter(`{"and": [{"=": {"meter": "cpu_util"}}, {"=": {"resource_id": "res-a2"}}]}`),
			[]string{"a2-1", "a2-0"}, store.Filter{Meter: "cpu_util", ResourceID: resourceA2}, false},
		{"timestamps pushed down", tokAdmin, filter(`{"and": [{">": {"timestamp": "2024-01-02T03:01:00"}}, {"<=": {"timestamp": "2024-01-02T03:02:00"}}, {"=": {"project": "proj-b"}}]}`),
			[]string{"b1-2"}, store.Filter{ProjectID: projectB, Start: t0.Add(time.Minute + time.Microsecond), End: t0.Add(2*time.Minute + time.Microsecond)}, false},
		{"metadata pushed down", tokAdmin, filter(`{"AND": [{"=": {"metadata.flavor.name": "large"}}, {"=": {"resource_metadata.host": "h2"}}]}`),
			[]string{"b1-2", "a2-1", "b1-1", "a2-0", "b1-0"}, store.Filter{Metadata: map[string]string{"flavor.name": "large", "host": "h2"}}, false},
		{"or is residual", tokA, filter(`{"or": [{"=": {"resource_id": "res-a2"}}, {">=": {"counter_volume": 40}}]}`),
			[]string{"a1-3", "a1-d", "a2-1", "a2-0"}, store.Filter{ProjectID: projectA}, true},
		{"not, in and regexp", tokAdmin, filter(`{"and": [{"not": {"in": {"resource": ["res-a1", "res-b1"]}}}, {"=~": {"user_id": "^user-a"}}]}`),
			[]string{"a2-1", "a2-0"}, store.Filter{}, true},
		{"volume as text and =< spelling", tokAdmin, filter(`{"=<": {"volume": "5"}}`), []string{"a2-0"}, store.Filter{}, true},
		{"numeric metadata", tokAdmin, filter(`{"and": [{"<": {"metadata.n": 10}}, {"=": {"meter": "disk"}}]}`), []string{}, store.Filter{Meter: "disk"}, true},
		{"filter as object", tokAdmin, `{"filter": {"=": {"message_id": "a1-d"}}}`, []string{"a1-d"}, store.Filter{}, true},
		{"conflicting equalities are empty", tokAdmin, filter(`{"and": [{"=": {"meter": "cpu_util"}}, {"=": {"meter": "disk"}}]}`), []string{}, store.Filter{Meter: "cpu_util"}, true},
		{"order and limit", tokAdmin, `{"orderby": "[{\"volume\": \"ASC\"}]", "limit": 3}`, []string{"a2-0", "a2-1", "a1-0"}, store.Filter{}, false},
		{"order, limit and marker", tokAdmin, `{"orderby": "[{\"counter_volume\": \"desc\"}]", "limit": 2, "marker": "b1-1"}`, []string{"b1-0", "a1-3"}, store.Filter{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := call(t, srv, "POST", "/v2/query/samples", tc.token, tc.body)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, tc.want, strs(decodeList(t, rec.Body.Bytes()), "id"))
			require.Equal(t, tc.wantFilter, fs.lastF)
			require.Equal(t, tc.residual, fs.lastO.Match != nil)
		})
	}
	for _, tc := range []struct{ name, body, want string }{
		{"not json", `{`, "query body"},
		{"unknown member", `{"filtre": "{}"}`, "filtre"},
		{"filter not json", filter(`{"=": `), "filter expression"},
		{"unknown op", filter(`{"like": {"meter": "x"}}`), "like"},
		{"unknown field", filter(`{"=": {"colour": "x"}}`), "colour"},
		{"two members", filter(`{"=": {"meter": "x"}, "!=": {"meter": "y"}}`), "exactly one"},
		{"and of one", filter(`{"and": [{"=": {"meter": "x"}}]}`), "at least 2"},
		{"empty in", filter(`{"in": {"meter": []}}`), "non-empty"},
		{"bad regexp", filter(`{"=~": {"meter": "("}}`), "regular expression"},
		{"regexp on volume", filter(`{"=~": {"volume": "1"}}`), "=~"},
		{"bad timestamp", filter(`{">": {"timestamp": "soon"}}`), "timestamp"},
		{"volume not a number", filter(`{">": {"volume": "big"}}`), "counter_volume"},
		{"object value", filter(`{"=": {"meter": {"a": 1}}}`), "meter"},
		{"bool for string field", filter(`{"=": {"resource_id": true}}`), "resource_id"},
		{"bad orderby", `{"orderby": "[{\"volume\": \"up\"}]"}`, "up"},
		{"orderby metadata", `{"orderby": "[{\"metadata.a\": \"asc\"}]"}`, "metadata.a"},
		{"orderby not list", `{"orderby": "{}"}`, "order-by"},
		{"limit zero", `{"limit": 0}`, "limit"},
		{"trailing", `{} {}`, "trailing"},
		{"unknown marker", `{"marker": "zz"}`, "marker"},
		{"too deep", filter(strings.Repeat(`{"not": `, 100) + `{"=": {"meter": "x"}}` + strings.Repeat(`}`, 100)), "deeper"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, call(t, srv, "POST", "/v2/query/samples", tokAdmin, tc.body), http.StatusBadRequest, tc.want)
		})
	}
}

func TestCapabilitiesAndEnvelope(t *testing.T) {
	t.Parallel()
	srv, _ := testServer(t)
	rec := call(t, srv, "GET", "/v2/capabilities", tokA, "")
	require.Equal(t, http.StatusOK, rec.Code)
	caps := decodeObject(t, rec.Body.Bytes())
	require.Equal(t, true, caps["api"].(map[string]any)["samples:query:complex"])
	require.Equal(t, true, caps["api"].(map[string]any)["statistics:aggregation:selectable:cardinality"])
	require.Equal(t, true, caps["storage"].(map[string]any)["storage:production_ready"])

	requireError(t, call(t, srv, "GET", "/v2/nothing", tokA, ""), http.StatusNotFound, "/v2/nothing")
	requireError(t, call(t, srv, "DELETE", "/v2/samples", tokA, ""), http.StatusMethodNotAllowed, "method not allowed")
	requireError(t, call(t, srv, "GET", "/v2/plugins/none", tokAdmin, ""), http.StatusNotFound, "none")
}
