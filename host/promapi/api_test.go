package promapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestConfinement: a member's queries see only its project, whatever the
// query does to escape it.
func TestConfinement(t *testing.T) {
	t.Parallel()
	start := time.Now().Add(-30 * time.Minute).Truncate(time.Minute)
	f := newFixture(t, start, 100, Options{})
	at := unixStr(start.Add(20 * time.Minute))
	projectsOf := func(token, q string) map[string]bool {
		code, r := get(t, f.srv.URL, token, "/api/v1/query", url.Values{"query": {q}, "time": {at}})
		require.Equal(t, http.StatusOK, code, "%s: %s", q, r.Error)
		res := decodeResult(t, r.Data)
		out := map[string]bool{}
		for k := range res.series {
			for _, kv := range strings.Split(k, ",") {
				if p, ok := strings.CutPrefix(kv, "project_id="); ok {
					out[p] = true
				}
			}
		}
		return out
	}
	escapes := []string{
		`memory_usage`,
		`{__name__=~".+"}`,
		`{__name__=~".+", project_id="p2"}`,
		`{__name__=~".+", project_id=~".*"}`,
		`memory_usage{project_id!="p1"}`,
		`memory_usage or {__name__=~".+"}`,
		`memory_usage{project_id="p2"} or memory_usage{project_id="p3"}`,
		`label_replace(memory_usage{project_id="p2"}, "project_id", "p1", "", "")`,
		`max_over_time(memory_usage{project_id="p3"}[10m:1m])`,
		`sum by (project_id) (rate({__name__=~"cpu|disk_read_bytes"}[5m]))`,
		`memory_usage offset 5m or memory_usage{project_id="p3"} offset 5m`,
	}
	for _, q := range escapes {
		got := projectsOf("p1-token", q)
		for p := range got {
			require.Equal(t, "p1", p, "%s leaked project %s", q, p)
		}
	}
	// The admin sees every project; members see theirs.
	require.Len(t, projectsOf("admin-token", `memory_usage`), 3)
	require.Equal(t, map[string]bool{"p2": true}, projectsOf("p2-token", `{__name__=~".+"}`))

	// absent() of another project's series: absent for the member.
	code, r := get(t, f.srv.URL, "p1-token", "/api/v1/query", url.Values{"query": {`absent(memory_usage{resource_id="r01"})`}, "time": {at}})
	require.Equal(t, http.StatusOK, code)
	res := decodeResult(t, r.Data)
	require.Len(t, res.series, 1, "r01 is in p2: absent for p1")
	code, r = get(t, f.srv.URL, "p2-token", "/api/v1/query", url.Values{"query": {`absent(memory_usage{resource_id="r01"})`}, "time": {at}})
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, decodeResult(t, r.Data).series)

	// Series, labels, label values, metadata are confined too.
	for _, path := range []string{"/api/v1/series", "/api/v1/label/project_id/values", "/api/v1/label/resource_id/values"} {
		code, r := get(t, f.srv.URL, "p1-token", path, url.Values{"match[]": {`{__name__=~".+"}`, `{project_id="p2"}`}})
		require.Equal(t, http.StatusOK, code, path)
		require.NotContains(t, string(r.Data), `"p2"`, path)
		require.NotContains(t, string(r.Data), `"p3"`, path)
		require.NotContains(t, string(r.Data), `"r01"`, path)
	}
	code, r = get(t, f.srv.URL, "p1-token", "/api/v1/label/project_id/values", nil)
	require.Equal(t, http.StatusOK, code, r.Error)
	require.JSONEq(t, `["p1"]`, string(r.Data))
}

// TestHostile: bad, huge and slow requests get Prometheus's errors, fast.
func TestHostile(t *testing.T) {
	t.Parallel()
	start := time.Now().Add(-30 * time.Minute).Truncate(time.Minute)
	f := newFixture(t, start, 100, Options{Limits: Limits{MaxSeries: 30, MaxSamples: 5000, MaxReadSamples: 1000, Timeout: 2 * time.Second}})
	now := unixStr(start.Add(20 * time.Minute))
	long := strings.Repeat("a", 70<<10)
	cases := []struct {
		name, token, path string
		form              url.Values
		code              int
		errType           string
	}{
		{"no token", "", "/api/v1/query", url.Values{"query": {"1"}}, 401, "unauthorized"},
		{"bad token", "nope", "/api/v1/query", url.Values{"query": {"1"}}, 401, "unauthorized"},
		{"no query", "admin-token", "/api/v1/query", nil, 400, "bad_data"},
		{"parse error", "admin-token", "/api/v1/query", url.Values{"query": {"sum("}}, 400, "bad_data"},
		{"bad time", "admin-token", "/api/v1/query", url.Values{"query": {"1"}, "time": {"yesterday"}}, 400, "bad_data"},
		{"NaN time", "admin-token", "/api/v1/query", url.Values{"query": {"1"}, "time": {"NaN"}}, 400, "bad_data"},
		{"huge time", "admin-token", "/api/v1/query", url.Values{"query": {"1"}, "time": {"1e300"}}, 400, "bad_data"},
		{"query too long", "admin-token", "/api/v1/query", url.Values{"query": {long}}, 400, "bad_data"},
		{"11,001 points", "admin-token", "/api/v1/query_range", url.Values{"query": {"1"}, "start": {"0"}, "end": {"11001"}, "step": {"1"}}, 400, "bad_data"},
		{"tiny step over a year", "admin-token", "/api/v1/query_range", url.Values{"query": {"memory_usage"}, "start": {"0"}, "end": {"31536000"}, "step": {"0.001"}}, 400, "bad_data"},
		{"zero step", "admin-token", "/api/v1/query_range", url.Values{"query": {"1"}, "start": {"0"}, "end": {"10"}, "step": {"0"}}, 400, "bad_data"},
		{"negative step", "admin-token", "/api/v1/query_range", url.Values{"query": {"1"}, "start": {"0"}, "end": {"10"}, "step": {"-5"}}, 400, "bad_data"},
		{"end before start", "admin-token", "/api/v1/query_range", url.Values{"query": {"1"}, "start": {"10"}, "end": {"0"}, "step": {"1"}}, 400, "bad_data"},
		{"bad timeout", "admin-token", "/api/v1/query", url.Values{"query": {"1"}, "timeout": {"-1s"}}, 400, "bad_data"},
		{"too many series", "admin-token", "/api/v1/query", url.Values{"query": {`{__name__=~".+"}`}, "time": {now}}, 422, "execution"},
		{"too many samples held", "admin-token", "/api/v1/query_range", url.Values{"query": {`memory_usage{project_id="p1"}`}, "start": {unixStr(start)}, "end": {unixStr(start.Add(25 * time.Minute))}, "step": {"1"}}, 422, "execution"},
		{"too many samples read", "admin-token", "/api/v1/query", url.Values{"query": {`count_over_time({__name__=~"cpu|memory_usage"}[1h])`}, "time": {now}}, 422, "execution"},
		{"regex bomb: repeat", "admin-token", "/api/v1/query", url.Values{"query": {`memory_usage{resource_id=~"(a{1000}){1000}"}`}}, 400, "bad_data"},
		{"regex bomb: nested", "admin-token", "/api/v1/query", url.Values{"query": {`memory_usage{resource_id=~"((((.*)*)*)*)*x"}`}, "time": {now}}, 200, ""},
		{"regex bomb: bad", "admin-token", "/api/v1/query", url.Values{"query": {`memory_usage{resource_id=~"("}`}}, 400, "bad_data"},
		{"subquery with a tiny step", "admin-token", "/api/v1/query", url.Values{"query": {`count_over_time(vector(1)[100d:1ms])`}, "time": {now}}, 400, "bad_data"},
		{"slow query times out", "admin-token", "/api/v1/query", url.Values{"query": {`count_over_time(vector(1)[1d:1s])`}, "time": {now}, "timeout": {"0.000000001"}}, 503, "timeout"},
		{"series without match", "admin-token", "/api/v1/series", nil, 400, "bad_data"},
		{"series bad match", "admin-token", "/api/v1/series", url.Values{"match[]": {"{"}}, 400, "bad_data"},
		{"too many match", "admin-token", "/api/v1/series", url.Values{"match[]": strings.Split(strings.Repeat("up,", 101), ",")[:101]}, 400, "bad_data"},
		{"bad limit", "admin-token", "/api/v1/labels", url.Values{"limit": {"-1"}}, 400, "bad_data"},
		{"bad label name", "admin-token", "/api/v1/label/a-b/values", nil, 400, "bad_data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			began := time.Now()
			code, r := get(t, f.srv.URL, c.token, c.path, c.form)
			require.Equal(t, c.code, code, "%s: %s", r.ErrorType, r.Error)
			require.Equal(t, c.errType, r.ErrorType, r.Error)
			if c.code != 200 {
				require.Equal(t, "error", r.Status)
				require.NotEmpty(t, r.Error)
			}
			require.Less(t, time.Since(began), 20*time.Second)
		})
	}

	t.Run("POST form body", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/api/v1/query", strings.NewReader(url.Values{"query": {"sum(memory_usage)"}, "time": {now}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Auth-Token", "admin-token")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var r promResponse
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
		require.Equal(t, "success", r.Status, r.Error)
		require.Len(t, decodeResult(t, r.Data).series, 1)
	})
	t.Run("huge POST body", func(t *testing.T) {
		body := "query=1&x=" + strings.Repeat("a", 2<<20)
		req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/api/v1/query", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Auth-Token", "admin-token")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	})
	t.Run("metadata and buildinfo", func(t *testing.T) {
		code, r := get(t, f.srv.URL, "p1-token", "/api/v1/metadata", nil)
		require.Equal(t, 200, code)
		var md map[string][]map[string]string
		require.NoError(t, json.Unmarshal(r.Data, &md))
		require.Equal(t, "counter", md["cpu"][0]["type"])
		require.Equal(t, "ns", md["cpu"][0]["unit"])
		require.Equal(t, "gauge", md["memory_usage"][0]["type"])
		require.Equal(t, "gauge", md["net_packets"][0]["type"])
		code, r = get(t, f.srv.URL, "p1-token", "/api/v1/status/buildinfo", nil)
		require.Equal(t, 200, code)
		require.Contains(t, string(r.Data), EngineVersion)
	})
}
