package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

const testToken = "alt_test-token"

// Canned answers in Ceilometer v2 shapes.
const (
	metersJSON = `[
 {"name":"memory.usage","type":"gauge","unit":"MB","resource_id":"vm-2","project_id":"p1","user_id":"u1","source":"openstack","meter_id":"bWVt"},
 {"name":"cpu","type":"cumulative","unit":"ns","resource_id":"vm-1","project_id":"p1","user_id":"u1","source":"openstack","meter_id":"Y3B1"}]`
	samplesJSON = `[
 {"id":"5f1e","meter":"cpu","type":"cumulative","unit":"ns","volume":1234567890,"user_id":"u1","project_id":"p1","resource_id":"vm-1","source":"openstack","timestamp":"2026-11-22T06:35:42.123456","recorded_at":"2026-11-22T06:35:42.200000","metadata":{"flavor":"m1.small"}}]`
	sampleJSON = `{"id":"5f1e","meter":"cpu","type":"cumulative","unit":"ns","volume":1234567890,"user_id":"u1","project_id":"p1","resource_id":"vm-1","source":"openstack","timestamp":"2026-11-22T06:35:42.123456","recorded_at":"2026-11-22T06:35:42.200000","metadata":{"flavor":"m1.small","state":"running"}}`
	statsJSON  = `[
 {"avg":2.5,"count":4,"duration":300.0,"duration_start":"2026-11-22T06:00:00","duration_end":"2026-11-22T06:05:00","max":4.0,"min":1.0,"period":300,"period_start":"2026-11-22T06:00:00","period_end":"2026-11-22T06:05:00","sum":10.0,"unit":"%","groupby":{"resource_id":"vm-1"},"aggregate":{"max":4.0,"cardinality/resource_id":1}}]`
	resourcesJSON = `[
 {"resource_id":"vm-1","first_sample_timestamp":"2026-11-22T06:00:00","last_sample_timestamp":"2026-11-22T06:35:42.5","project_id":"p1","user_id":"u1","source":"openstack","metadata":{"flavor":"m1.small"},"links":[{"href":"http://x/v2/resources/vm-1","rel":"self"}]}]`
	resourceJSON  = `{"resource_id":"vm-1","first_sample_timestamp":"2026-11-22T06:00:00","last_sample_timestamp":"2026-11-22T06:35:42.5","project_id":"p1","user_id":"u1","source":"openstack","metadata":{"flavor":"m1.small"},"links":[]}`
	oldSampleJSON = `[{"counter_name":"backup.size","counter_type":"gauge","counter_unit":"B","counter_volume":1024,"resource_id":"vol-1","project_id":"p1","user_id":null,"timestamp":"2026-11-22T06:40:00","recorded_at":"2026-11-22T06:40:01.1","source":"altimeter","message_id":"m-1","resource_metadata":{"size":"large"}}]`
	notFoundJSON  = `{"error_message":{"faultcode":"Client","faultstring":"Sample nope Not Found","debuginfo":null}}`
)

// request is what the fake API saw.
type request struct {
	Method string
	Path   string
	Query  url.Values
	Token  string
	Body   string
}

// fakeAPI serves canned answers by "METHOD /path" and records requests.
type fakeAPI struct {
	mu   sync.Mutex
	seen []request
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.seen = append(f.seen, request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Token: r.Header.Get("X-Auth-Token"), Body: string(body)})
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("X-Auth-Token") != testToken {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error_message":{"faultcode":"Client","faultstring":"unauthorized"}}`)
		return
	}
	answers := map[string]string{
		"GET /v2/meters":                       metersJSON,
		"GET /v2/samples":                      samplesJSON,
		"GET /v2/samples/5f1e":                 sampleJSON,
		"GET /v2/meters/cpu%2Futil/statistics": statsJSON,
		"GET /v2/meters/cpu/statistics":        statsJSON,
		"GET /v2/resources":                    resourcesJSON,
		"GET /v2/resources/vm-1":               resourceJSON,
		"POST /v2/meters/backup.size":          oldSampleJSON,
		"POST /v2/query/samples":               samplesJSON,
	}
	a, ok := answers[r.Method+" "+r.URL.EscapedPath()]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, notFoundJSON)
		return
	}
	_, _ = io.WriteString(w, a)
}

func (f *fakeAPI) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

func (f *fakeAPI) last(t *testing.T) request {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.NotEmpty(t, f.seen, "no request reached the API")
	return f.seen[len(f.seen)-1]
}

func startAPI(t *testing.T) (*fakeAPI, string) {
	t.Helper()
	f := &fakeAPI{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func runCLI(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func TestAPICommands(t *testing.T) {
	t.Parallel()
	api, base := startAPI(t)
	cases := []struct {
		name      string
		args      []string
		want      request // Token is always testToken
		wantOut   string  // exact stdout
		wantErr   string  // stderr contains; exit code 1
		noAPICall bool
	}{
		{
			name: "meter list sorted by name",
			args: []string{"meter", "list"},
			want: request{Method: "GET", Path: "/v2/meters", Query: url.Values{}},
			wantOut: "" +
				"NAME          TYPE        UNIT  RESOURCE_ID  USER_ID  PROJECT_ID\n" +
				"cpu           cumulative  ns    vm-1         u1       p1\n" +
				"memory.usage  gauge       MB    vm-2         u1       p1\n",
		},
		{
			name: "meter list with query and limit",
			args: []string{"meter", "list", "-q", "project_id=p1;resource_id!=string::vm-9", "--limit", "5"},
			want: request{Method: "GET", Path: "/v2/meters", Query: q(
				"q.field", "project_id", "q.field", "resource_id", "q.op", "eq", "q.op", "ne",
				"q.type", "", "q.type", "string", "q.value", "p1", "q.value", "vm-9", "limit", "5")},
		},
		{
			name: "sample list",
			args: []string{"sample", "list", "-l", "1"},
			want: request{Method: "GET", Path: "/v2/samples", Query: q("limit", "1")},
			wantOut: "" +
				"ID    RESOURCE_ID  NAME  TYPE        VOLUME      UNIT  TIMESTAMP\n" +
				"5f1e  vm-1         cpu   cumulative  1234567890  ns    2026-11-22T06:35:42Z\n",
		},
		{
			name: "sample list of one meter",
			args: []string{"sample", "list", "-m", "cpu", "-q", "timestamp>2026-11-22T06:00:00"},
			want: request{Method: "GET", Path: "/v2/samples", Query: q(
				"q.field", "timestamp", "q.field", "meter", "q.op", "gt", "q.op", "eq",
				"q.type", "", "q.type", "", "q.value", "2026-11-22T06:00:00", "q.value", "cpu")},
		},
		{
			name: "sample show",
			args: []string{"sample", "show", "5f1e"},
			want: request{Method: "GET", Path: "/v2/samples/5f1e"},
			wantOut: "" +
				"id               5f1e\n" +
				"meter            cpu\n" +
				"volume           1234567890\n" +
				"type             cumulative\n" +
				"unit             ns\n" +
				"source           openstack\n" +
				"resource_id      vm-1\n" +
				"user_id          u1\n" +
				"project_id       p1\n" +
				"timestamp        2026-11-22T06:35:42Z\n" +
				"recorded_at      2026-11-22T06:35:42Z\n" +
				"metadata.flavor  m1.small\n" +
				"metadata.state   running\n",
		},
		{
			name:    "sample show unknown is the faultstring with the status",
			args:    []string{"sample", "show", "nope"},
			want:    request{Method: "GET", Path: "/v2/samples/nope"},
			wantErr: "altimeter: HTTP 404 Not Found: Sample nope Not Found\n",
		},
		{
			name: "sample create",
			args: []string{"sample", "create", "-m", "backup.size", "--meter-type", "gauge", "--meter-unit", "B",
				"--sample-volume", "1024", "-r", "vol-1", "--project-id", "p1", "--timestamp", "2026-11-22T06:40:00Z",
				"--resource-metadata", `{"size":"large"}`},
			want: request{Method: "POST", Path: "/v2/meters/backup.size",
				Body: `[{"counter_name":"backup.size","counter_type":"gauge","counter_unit":"B","counter_volume":1024,"project_id":"p1","resource_id":"vol-1","resource_metadata":{"size":"large"},"timestamp":"2026-11-22T06:40:00Z"}]`},
			wantOut: "" +
				"message_id              m-1\n" +
				"name                    backup.size\n" +
				"volume                  1024\n" +
				"type                    gauge\n" +
				"unit                    B\n" +
				"source                  altimeter\n" +
				"resource_id             vol-1\n" +
				"user_id                 \n" +
				"project_id              p1\n" +
				"timestamp               2026-11-22T06:40:00Z\n" +
				"recorded_at             2026-11-22T06:40:01Z\n" +
				"resource_metadata.size  large\n",
		},
		{
			name: "statistics with period and groupby",
			args: []string{"statistics", "-m", "cpu", "-p", "300", "-g", "resource_id", "-q", "project_id=p1"},
			want: request{Method: "GET", Path: "/v2/meters/cpu/statistics", Query: q(
				"q.field", "project_id", "q.op", "eq", "q.type", "", "q.value", "p1",
				"period", "300", "groupby", "resource_id")},
			wantOut: "" +
				"PERIOD  PERIOD_START          PERIOD_END            GROUPBY           MAX  MIN  AVG  SUM  COUNT  UNIT  DURATION  DURATION_START        DURATION_END\n" +
				"300     2026-11-22T06:00:00Z  2026-11-22T06:05:00Z  resource_id=vm-1  4    1    2.5  10   4      %     300       2026-11-22T06:00:00Z  2026-11-22T06:05:00Z\n",
		},
		{
			name: "statistics with aggregates, param first",
			args: []string{"statistics", "-m", "cpu/util", "-a", "max", "-a", "cardinality<-resource_id"},
			want: request{Method: "GET", Path: "/v2/meters/cpu%2Futil/statistics", Query: q(
				"aggregate.func", "cardinality", "aggregate.func", "max", "aggregate.param", "resource_id")},
			wantOut: "" +
				"PERIOD  PERIOD_START          PERIOD_END            MAX  CARDINALITY/RESOURCE_ID  UNIT  DURATION  DURATION_START        DURATION_END\n" +
				"300     2026-11-22T06:00:00Z  2026-11-22T06:05:00Z  4    1                        %     300       2026-11-22T06:00:00Z  2026-11-22T06:05:00Z\n",
		},
		{
			name: "resource list",
			args: []string{"resource", "list", "-q", "user_id=u1"},
			want: request{Method: "GET", Path: "/v2/resources", Query: q("q.field", "user_id", "q.op", "eq", "q.type", "", "q.value", "u1")},
			wantOut: "" +
				"RESOURCE_ID  SOURCE     USER_ID  PROJECT_ID  LAST_SAMPLE           METADATA\n" +
				"vm-1         openstack  u1       p1          2026-11-22T06:35:42Z  {\"flavor\":\"m1.small\"}\n",
		},
		{
			name: "resource show",
			args: []string{"resource", "show", "vm-1"},
			want: request{Method: "GET", Path: "/v2/resources/vm-1"},
			wantOut: "" +
				"resource_id             vm-1\n" +
				"source                  openstack\n" +
				"user_id                 u1\n" +
				"project_id              p1\n" +
				"first_sample_timestamp  2026-11-22T06:00:00Z\n" +
				"last_sample_timestamp   2026-11-22T06:35:42Z\n" +
				"metadata.flavor         m1.small\n",
		},
		{
			name: "query samples",
			args: []string{"query", "samples", "-f", `{"=": {"meter": "cpu"}}`, "--orderby", `[{"timestamp": "desc"}]`, "-l", "3"},
			want: request{Method: "POST", Path: "/v2/query/samples",
				Body: `{"filter":"{\"=\": {\"meter\": \"cpu\"}}","limit":3,"orderby":"[{\"timestamp\": \"desc\"}]"}`},
			wantOut: "" +
				"ID    RESOURCE_ID  NAME  TYPE        VOLUME      UNIT  TIMESTAMP\n" +
				"5f1e  vm-1         cpu   cumulative  1234567890  ns    2026-11-22T06:35:42Z\n",
		},
		{
			name: "json output is the API's JSON indented",
			args: []string{"resource", "show", "vm-1", "-o", "json"},
			want: request{Method: "GET", Path: "/v2/resources/vm-1"},
			wantOut: func() string {
				var b bytes.Buffer
				_ = json.Indent(&b, []byte(resourceJSON), "", "  ")
				return b.String() + "\n"
			}(),
		},
		{
			name: "single-dash long flags",
			args: []string{"meter", "list", "-output", "json", "-limit", "2"},
			want: request{Method: "GET", Path: "/v2/meters", Query: q("limit", "2")},
		},
		{name: "bad query", args: []string{"meter", "list", "-q", "project_id"}, wantErr: `bad query term "project_id": missing operator`, noAPICall: true},
		{name: "bad output", args: []string{"meter", "list", "-o", "yaml"}, wantErr: `bad --output "yaml"`, noAPICall: true},
		{name: "negative limit", args: []string{"sample", "list", "--limit", "-3"}, wantErr: "bad --limit -3", noAPICall: true},
		{name: "statistics without meter", args: []string{"statistics"}, wantErr: `required flag(s) "meter" not set`, noAPICall: true},
		{name: "bad period", args: []string{"statistics", "-m", "cpu", "-p", "5m"}, wantErr: `bad --period "5m"`, noAPICall: true},
		{name: "bad aggregate", args: []string{"statistics", "-m", "cpu", "-a", "median"}, wantErr: `unknown function "median"`, noAPICall: true},
		{name: "aggregate without param", args: []string{"statistics", "-m", "cpu", "-a", "cardinality<-"}, wantErr: "missing parameter after <-", noAPICall: true},
		{name: "sample create missing flags", args: []string{"sample", "create", "-m", "x"}, wantErr: `required flag(s) "meter-type", "meter-unit", "resource-id", "sample-volume" not set`, noAPICall: true},
		{name: "sample create bad type", args: []string{"sample", "create", "-m", "x", "--meter-type", "counter", "--meter-unit", "B", "--sample-volume", "1", "-r", "r"}, wantErr: `bad --meter-type "counter"`, noAPICall: true},
		{name: "sample create bad volume", args: []string{"sample", "create", "-m", "x", "--meter-type", "gauge", "--meter-unit", "B", "--sample-volume", "lots", "-r", "r"}, wantErr: `bad --sample-volume "lots"`, noAPICall: true},
		{name: "sample create bad metadata", args: []string{"sample", "create", "-m", "x", "--meter-type", "gauge", "--meter-unit", "B", "--sample-volume", "1", "-r", "r", "--resource-metadata", "[1]"}, wantErr: "bad --resource-metadata", noAPICall: true},
		{name: "sample create bad timestamp", args: []string{"sample", "create", "-m", "x", "--meter-type", "gauge", "--meter-unit", "B", "--sample-volume", "1", "-r", "r", "--timestamp", "now"}, wantErr: `bad --timestamp "now"`, noAPICall: true},
		{name: "query samples bad filter", args: []string{"query", "samples", "-f", "{meter: cpu}"}, wantErr: "bad --filter: not JSON", noAPICall: true},
		{name: "sample show needs an ID", args: []string{"sample", "show"}, wantErr: "want one sample ID, got 0 arguments", noAPICall: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Sequential: cases read the fake API's last request.
			before := api.count()
			args := append(append([]string{}, tc.args...), "--url", base, "--token", testToken)
			out, errOut, code := runCLI(args...)
			if tc.wantErr != "" {
				require.Equal(t, 1, code, "stdout: %s", out)
				require.Contains(t, errOut, tc.wantErr)
			} else {
				require.Equal(t, 0, code, "stderr: %s", errOut)
			}
			if tc.noAPICall {
				require.Equal(t, before, api.count(), "the CLI called the API despite bad input")
				return
			}
			got := api.last(t)
			require.Equal(t, testToken, got.Token)
			want := tc.want
			want.Token = testToken
			if want.Query == nil {
				want.Query = url.Values{}
			}
			if want.Body == "" {
				got.Body = ""
			} else {
				require.JSONEq(t, want.Body, got.Body)
				got.Body = want.Body
			}
			require.Empty(t, cmp.Diff(want, got))
			if tc.wantOut != "" {
				require.Equal(t, tc.wantOut, out)
			}
		})
	}
}

func TestAPIUnauthorized(t *testing.T) {
	t.Parallel()
	_, base := startAPI(t)
	_, errOut, code := runCLI("meter", "list", "--url", base, "--token", "alt_wrong")
	require.Equal(t, 1, code)
	require.Equal(t, "altimeter: HTTP 401 Unauthorized: unauthorized\n", errOut)
}

func TestAPIDown(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there any more
	_, errOut, code := runCLI("meter", "list", "--url", base, "--token", testToken)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "connection refused (is the agent running?")
}

func TestAPIFlagsFromEnvironment(t *testing.T) {
	api, base := startAPI(t)
	t.Setenv(envURL, base)
	t.Setenv(envToken, testToken)
	_, errOut, code := runCLI("meter", "list")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, testToken, api.last(t).Token)

	// Flags beat the environment.
	_, errOut, code = runCLI("meter", "list", "--token", "alt_flag")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "HTTP 401")
	require.Equal(t, "alt_flag", api.last(t).Token)
}

func TestAPITokenFromDataDir(t *testing.T) {
	api, base := startAPI(t)
	t.Setenv(envURL, "")
	t.Setenv(envToken, "")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "admin-token"), []byte(testToken+"\n"), 0o600))
	_, errOut, code := runCLI("meter", "list", "--url", base, "--data-dir", dir)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, testToken, api.last(t).Token)

	_, errOut, code = runCLI("meter", "list", "--url", base, "--data-dir", filepath.Join(dir, "missing"))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no API token: pass --token, set $ALTIMETER_TOKEN, or point --data-dir")
}

func TestBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"127.0.0.1:8777", "ftp://x", "http://", "http://h/?a=b"} {
		_, errOut, code := runCLI("meter", "list", "--url", u, "--token", testToken)
		require.Equal(t, 1, code, u)
		require.True(t, strings.Contains(errOut, "bad API URL"), "%s: %s", u, errOut)
	}
}
