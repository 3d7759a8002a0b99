package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// logBuf is an hclog output the test can read.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) count(s string) int { return strings.Count(l.String(), s) }

func newLogger(t *testing.T) (hclog.Logger, *logBuf) {
	buf := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(buf.String())
		}
	})
	return hclog.New(&hclog.LoggerOptions{Name: "http", Output: buf, Level: hclog.Debug}), buf
}

// build decodes src through the plugin's real schema (as the host does) and
// returns the poller the constructor builds.
func build(t *testing.T, src string, env map[string]string) (*poller, *logBuf) {
	t.Helper()
	c := decodeConfig(t, src)
	log, buf := newLogger(t)
	p, err := newPoller(c, log, func(k string) string { return env[k] })
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p, buf
}

// decodeConfig runs src through the plugin over gRPC once (so the schema and
// constructor agree) and decodes it locally too.
func decodeConfig(t testing.TB, src string) config {
	t.Helper()
	s := spec()
	var got config
	s.New = func(c config, log hclog.Logger) (pollster.Pollster, error) {
		got = c
		return &poller{}, nil
	}
	p := sdktest.Start(t, s.Info(), s.Register())
	diags := p.Configure(t, src)
	require.False(t, diags.HasErrors(), "%s", diags)
	return got
}

func nopLogger() hclog.Logger { return hclog.NewNullLogger() }

func resources(p *poller) []sample.Resource {
	rs, _ := p.Discover(context.Background(), discoveryMethod, "")
	return rs
}

type brief struct {
	Name, Unit, Type, RID, PID, UID string
	Volume                          float64
	Metadata                        map[string]string
}

func briefs(ss []sample.Sample) []brief {
	out := make([]brief, len(ss))
	for i, s := range ss {
		out[i] = brief{Name: s.Name, Unit: s.Unit, Type: s.Type.String(), RID: s.ResourceID, PID: s.ProjectID, UID: s.UserID, Volume: s.Volume, Metadata: s.Metadata}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].RID < out[j].RID
	})
	return out
}

func resourceErrors(t *testing.T, err error) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err == nil {
		return out
	}
	var walk func(error)
	walk = func(e error) {
		var re *pollster.ResourceError
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, c := range j.Unwrap() {
				walk(c)
			}
			return
		}
		require.True(t, errors.As(e, &re), "not a ResourceError: %v", e)
		out[re.ResourceID] = re.Err.Error()
	}
	walk(err)
	return out
}

func TestExtract(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		def  string // meter block body
		body string
		want []brief
		bad  string // invalid-entries error, if any
	}{
		{
			name: "prometheus query shape",
			def: `url = "http://x/api/v1/query?query=up"
type = "gauge"
unit = "target"
response_entries_key = "data.result"
value_attribute = "value[1]"
resource_id_attribute = "metric.instance"
metadata_fields = ["metric"]
metadata_mapping = { "metric.job" = "job" }`,
			body: `{"status":"success","data":{"resultType":"vector","result":[
{"metric":{"__name__":"up","instance":"a:1","job":"j"},"value":[1700000000.1,"1"]},
{"metric":{"__name__":"up","instance":"b:2","job":"k"},"value":[1700000000.1,"0"]}]}}`,
			want: []brief{
				{Name: "m", Unit: "target", Type: "gauge", RID: "a:1", Volume: 1, Metadata: map[string]string{"metric.__name__": "up", "metric.instance": "a:1", "metric.job": "j", "job": "j"}},
				{Name: "m", Unit: "target", Type: "gauge", RID: "b:2", Volume: 0, Metadata: map[string]string{"metric.__name__": "up", "metric.instance": "b:2", "metric.job": "k", "job": "k"}},
			},
		},
		{
			name: "ceilometer defaults, top-level list, rename without preserve",
			def: `url = "http://x/"
type = "cumulative"
unit = "B"
value_attribute = "stats.bytes"
metadata_fields = ["name", "absent"]
metadata_mapping = { name = "display_name" }
preserve_mapped_metadata = false`,
			body: `[{"id":"r1","project_id":"p1","user_id":"u1","name":"one","stats":{"bytes":12345678901234567890}},
{"id":"r2","name":"two","stats":{"bytes":2.5}}]`,
			want: []brief{
				{Name: "m", Unit: "B", Type: "cumulative", RID: "r1", PID: "p1", UID: "u1", Volume: 12345678901234567890, Metadata: map[string]string{"display_name": "one"}},
				{Name: "m", Unit: "B", Type: "cumulative", RID: "r2", Volume: 2.5, Metadata: map[string]string{"display_name": "two"}},
			},
		},
		{
			name: "metadata values as Ceilometer's API shows them (Python str())",
			def: `url = "http://x/"
type = "gauge"
unit = "B"
value_attribute = "v"
metadata_fields = ["on", "none", "list", "f", "nested"]`,
			body: `[{"id":"r1","v":1,"on":true,"none":null,"list":[1,"a"],"f":1.5,"nested":{"off":false}}]`,
			want: []brief{
				{Name: "m", Unit: "B", Type: "gauge", RID: "r1", Volume: 1, Metadata: map[string]string{
					"on": "True", "none": "None", "list": "[1, 'a']", "f": "1.5", "nested.off": "False"}},
			},
		},
		{
			name: "value mapping, default value and skipped values",
			def: `url = "http://x/"
type = "gauge"
unit = "state"
response_entries_key = "$.servers"
value_attribute = "status"
value_mapping = { ACTIVE = 1, SHUTOFF = 0 }
default_value = -2
skip_sample_values = ["DELETED"]`,
			body: `{"servers":[{"id":"a","status":"ACTIVE"},{"id":"b","status":"SHUTOFF"},{"id":"c","status":"ERROR"},{"id":"d","status":"DELETED"}]}`,
			want: []brief{
				{Name: "m", Unit: "state", Type: "gauge", RID: "a", Volume: 1},
				{Name: "m", Unit: "state", Type: "gauge", RID: "b", Volume: 0},
				{Name: "m", Unit: "state", Type: "gauge", RID: "c", Volume: -2},
			},
		},
		{
			name: "single object entry, fixed resource id, value blocks",
			def: `url = "http://x/api/v1/status/tsdb"
type = "gauge"
unit = "series"
response_entries_key = "data.headStats"
resource_id = "prom"
value "tsdb.series" {
  attribute = "numSeries"
}
value "tsdb.chunks" {
  attribute = "chunkCount"
  unit = "chunk"
  type = "cumulative"
}`,
			body: `{"status":"success","data":{"headStats":{"numSeries":508,"chunkCount":1016,"minTime":1,"maxTime":2}}}`,
			want: []brief{
				{Name: "tsdb.chunks", Unit: "chunk", Type: "cumulative", RID: "prom", Volume: 1016},
				{Name: "tsdb.series", Unit: "series", Type: "gauge", RID: "prom", Volume: 508},
			},
		},
		{
			name: "multi-metric",
			def: `url = "http://x/"
type = "gauge"
unit = "series"
response_entries_key = "data"
value_attribute = "[seriesCountByMetricName].value"
resource_id = "prom"
skip_sample_values = ["skipme"]`,
			body: `{"data":{"seriesCountByMetricName":[{"name":"up","value":1},{"name":"go_gc","value":"7"},{"name":"skipme","value":3}]}}`,
			want: []brief{
				{Name: "multi.go_gc", Unit: "series", Type: "gauge", RID: "prom", Volume: 7},
				{Name: "multi.up", Unit: "series", Type: "gauge", RID: "prom", Volume: 1},
			},
		},
		{
			name: "value expressions",
			def: `url = "http://x/"
type = "gauge"
unit = "KB"
value_attribute = "bytes"
value_expression = "volume / 1024"
metadata_fields = ["scale"]`,
			body: `[{"id":"a","bytes":2048,"scale":"2"}]`,
			want: []brief{{Name: "m", Unit: "KB", Type: "gauge", RID: "a", Volume: 2, Metadata: map[string]string{"scale": "2"}}},
		},
		{
			name: "value expressions in value blocks",
			def: `url = "http://x/"
type = "gauge"
unit = "1"
metadata_fields = ["k"]
value "tsdb.a" {
  attribute = "a"
  expression = "volume * float(metadata.k)"
}
value "tsdb.b" {
  attribute = "a"
}`,
			body: `{"id":"x","a":3,"k":"10"}`,
			want: []brief{
				{Name: "tsdb.a", Unit: "1", Type: "gauge", RID: "x", Volume: 30, Metadata: map[string]string{"k": "10"}},
				{Name: "tsdb.b", Unit: "1", Type: "gauge", RID: "x", Volume: 3, Metadata: map[string]string{"k": "10"}},
			},
		},
		{
			name: "invalid entries are skipped, the rest stand",
			def: `url = "http://x/"
type = "gauge"
unit = "1"
value_attribute = "v"
resource_id_attribute = "name"`,
			body: `[{"name":"ok","v":true},{"name":"nov"},{"v":1},{"name":"str","v":"abc"},{"name":"obj","v":{}}]`,
			want: []brief{{Name: "m", Unit: "1", Type: "gauge", RID: "ok", Volume: 1}},
			bad:  "4 of 5 entries skipped as invalid; first: entry 1: no v",
		},
		{
			name: "text with named groups",
			def: `url = "http://x/metrics"
response_format = "text"
text_pattern = "(?m)^up\\{instance=\"(?P<id>[^\"]+)\"\\} (?P<value>\\S+)$"
type = "gauge"
unit = "target"
metadata_fields = ["id"]`,
			body: "# HELP up\nup{instance=\"a\"} 1\nup{instance=\"b\"} 0\nother 5\n",
			want: []brief{
				{Name: "m", Unit: "target", Type: "gauge", RID: "a", Volume: 1, Metadata: map[string]string{"id": "a"}},
				{Name: "m", Unit: "target", Type: "gauge", RID: "b", Volume: 0, Metadata: map[string]string{"id": "b"}},
			},
		},
		{
			name: "text with one unnamed group, resource defaults to the definition name",
			def: `url = "http://x/metrics"
response_format = "text"
text_pattern = "(?m)^prometheus_tsdb_head_series (\\S+)$"
type = "gauge"
unit = "series"`,
			body: "prometheus_tsdb_head_series 1234\n",
			want: []brief{{Name: "m", Unit: "series", Type: "gauge", RID: "m", Volume: 1234}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := "m"
			if strings.Contains(tt.def, "[seriesCountByMetricName]") {
				name = "multi.{name}"
			}
			if strings.Contains(tt.def, "value \"") {
				name = "tsdb"
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(tt.body))
			}))
			t.Cleanup(srv.Close)
			def := strings.Replace(tt.def, `url = "http://x`, `url = "`+srv.URL, 1)
			p, _ := build(t, fmt.Sprintf("meter %q {\n%s\n}\n", name, def), nil)
			ss, err := p.Poll(t.Context(), pollster.Request{Resources: resources(p)})
			got := briefs(ss)
			for i := range got {
				if len(got[i].Metadata) == 0 {
					got[i].Metadata = nil
				}
			}
			require.Equal(t, tt.want, got)
			if tt.bad == "" {
				require.NoError(t, err)
			} else {
				require.Equal(t, map[string]string{name: tt.bad}, resourceErrors(t, err))
			}
			for _, s := range ss {
				require.Equal(t, "altimeter", s.Source)
				require.Len(t, s.MessageID, 36)
				require.False(t, s.Timestamp.IsZero())
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	meter := func(body string) string {
		return "meter \"m\" {\n  url = \"http://127.0.0.1:1/\"\n  type = \"gauge\"\n  unit = \"1\"\n" + body + "}\n"
	}
	tests := []struct {
		name string
		src  string
		want []string // "line: summary"
	}{
		{name: "ok", src: meter("  value_attribute = \"v\"\n")},
		{name: "no meters", src: ``, want: []string{"1: Invalid value for meter"}},
		{name: "bad timeout", src: "timeout = \"soon\"\n" + meter("  value_attribute = \"v\"\n"), want: []string{"1: Invalid value for timeout"}},
		{name: "bad url", src: "meter \"m\" {\n  url = \"ftp://x/\"\n  unit = \"1\"\n  type = \"gauge\"\n  value_attribute = \"v\"\n}\n", want: []string{"2: Invalid value for meter.0.url"}},
		{name: "bad type", src: "meter \"m\" {\n  url = \"http://x/\"\n  unit = \"1\"\n  type = \"rate\"\n  value_attribute = \"v\"\n}\n", want: []string{"4: Invalid value for meter.0.type"}},
		{name: "no value", src: meter(""), want: []string{"1: Invalid value for meter.0.value_attribute"}},
		{name: "bad path", src: meter("  value_attribute = \"a[\"\n"), want: []string{"5: Invalid value for meter.0.value_attribute"}},
		{name: "bad regex", src: meter("  response_format = \"text\"\n  text_pattern = \"(\"\n"), want: []string{"6: Invalid value for meter.0.text_pattern"}},
		{name: "bad name", src: "meter \"a b\" {\n  url = \"http://x/\"\n  unit = \"1\"\n  type = \"gauge\"\n  value_attribute = \"v\"\n}\n", want: []string{"1: Invalid value for meter.0.name"}},
		{name: "multi needs list path", src: "meter \"a.{n}\" {\n  url = \"http://x/\"\n  unit = \"1\"\n  type = \"gauge\"\n  value_attribute = \"v\"\n}\n", want: []string{"5: Invalid value for meter.0.value_attribute"}},
		{name: "missing env var", src: meter("  value_attribute = \"v\"\n  headers_from_env = { Authorization = \"NOPE_NOT_SET\" }\n"), want: []string{"6: Invalid value for meter.0.headers_from_env"}},
		{name: "missing header file", src: "headers_from_file = { X-Token = \"/nonexistent/token\" }\n" + meter("  value_attribute = \"v\"\n"), want: []string{"1: Invalid value for headers_from_file"}},
		{name: "two bearer sources", src: "bearer_token_env = \"A\"\nbearer_token_file = \"/x\"\n" + meter("  value_attribute = \"v\"\n"), want: []string{"2: Invalid value for bearer_token_file"}},
		{name: "bad expression", src: meter("  value_attribute = \"v\"\n  value_expression = \"volume +\"\n"), want: []string{"6: Invalid value for meter.0.value_expression"}},
		{name: "bad method", src: meter("  value_attribute = \"v\"\n  method = \"DELETE\"\n"), want: []string{"6: Invalid value for meter.0.method"}},
		{name: "duplicate", src: meter("  value_attribute = \"v\"\n") + meter("  value_attribute = \"v\"\n"), want: []string{"7: Invalid value for meter.1.name"}},
		{name: "value block without unit", src: "meter \"d\" {\n  url = \"http://x/\"\n  value \"a\" {\n    attribute = \"a\"\n    type = \"gauge\"\n  }\n}\n", want: []string{"3: Invalid value for meter.0.value.0.unit"}},
		{name: "unknown attribute", src: meter("  value_attribute = \"v\"\n  url_path = \"/x\"\n"), want: []string{"6: Unsupported argument"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := spec()
			p := sdktest.Start(t, s.Info(), s.Register())
			diags := p.Configure(t, tt.src)
			require.ElementsMatch(t, tt.want, sdktest.Summaries(diags), "diagnostics: %v", diags)
		})
	}
}

// TestSecretsStayOut: header values from env and file reach the server but
// never a log line, an error or a resource; nor do URL credentials.
func TestSecretsStayOut(t *testing.T) {
	t.Parallel()
	const token, fileToken, userPass, querySecret = "Bearer s3cr3t-env", "s3cr3t-file", "s3cr3t-pw", "s3cr3t-q"
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pw, _ := r.BasicAuth()
		switch {
		case r.URL.Path == "/env" && r.Header.Get("Authorization") != token,
			r.URL.Path == "/file" && r.Header.Get("X-Token") != fileToken,
			r.URL.Path == "/basic" && pw != userPass,
			r.URL.Path == "/bearer" && r.Header.Get("Authorization") != "Bearer "+fileToken:
			w.WriteHeader(http.StatusUnauthorized)
		case fail.Load():
			http.Error(w, "boom "+token, http.StatusInternalServerError)
		default:
			_, _ = w.Write([]byte(`[{"id":"x","v":1}]`))
		}
	}))
	t.Cleanup(srv.Close)
	file := t.TempDir() + "/token"
	require.NoError(t, os.WriteFile(file, []byte(fileToken+"\n"), 0o600))
	host := strings.TrimPrefix(srv.URL, "http://")
	src := fmt.Sprintf(`
meter "a" {
  url = "%[1]s/env"
  type = "gauge"
  unit = "1"
  value_attribute = "v"
  headers_from_env = { Authorization = "TOKEN" }
}
meter "b" {
  url = "%[1]s/file"
  type = "gauge"
  unit = "1"
  value_attribute = "v"
  headers_from_file = { X-Token = %[2]q }
}
meter "d" {
  url = "%[1]s/bearer"
  type = "gauge"
  unit = "1"
  value_attribute = "v"
  bearer_token_file = %[2]q
}
meter "c" {
  url = "http://user:%[3]s@%[4]s/basic?key=%[5]s"
  type = "gauge"
  unit = "1"
  value_attribute = "v"
}
`, srv.URL, file, userPass, host, querySecret)
	p, logs := build(t, src, map[string]string{"TOKEN": token})
	rs := resources(p)
	ss, err := p.Poll(t.Context(), pollster.Request{Resources: rs})
	require.NoError(t, err)
	require.Len(t, ss, 4)
	fail.Store(true)
	_, err = p.Poll(t.Context(), pollster.Request{Resources: rs})
	require.Len(t, resourceErrors(t, err), 4)
	all := logs.String() + err.Error() + fmt.Sprint(rs)
	require.Contains(t, all, "HTTP 500")
	for _, s := range []string{"s3cr3t", "user:"} {
		require.NotContains(t, all, s)
	}
}

// TestPollBadInput covers a local server that answers 500, malformed JSON, a
// missing entries key and bad next links, and an unreachable URL: each is a
// ResourceError of its definition only, counted, logged once per state
// change, and the next poll recovers.
func TestPollBadInput(t *testing.T) {
	t.Parallel()
	var mode atomic.Value
	mode.Store("bad")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad := mode.Load() == "bad"
		switch r.URL.Path {
		case "/good":
			_, _ = w.Write([]byte(`{"items":[{"id":"g","v":1}]}`))
		case "/e500":
			if bad {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			_, _ = w.Write([]byte(`{"items":[{"id":"e","v":2}]}`))
		case "/malformed":
			if bad {
				_, _ = w.Write([]byte(`{"items":[{"id":"m","v":`))
				return
			}
			_, _ = w.Write([]byte(`{"items":[{"id":"m","v":3}]}`))
		case "/nokey":
			if bad {
				_, _ = w.Write([]byte(`{"error":"busy"}`))
				return
			}
			_, _ = w.Write([]byte(`{"items":[{"id":"n","v":4}]}`))
		case "/elsewhere":
			_, _ = w.Write([]byte(`{"items":[{"id":"x","v":1}],"next":"http://127.0.0.2:1/steal"}`))
		case "/loop":
			_, _ = w.Write([]byte(`{"items":[{"id":"l","v":1}],"next":"/loop"}`))
		}
	}))
	t.Cleanup(srv.Close)
	// An unreachable URL: a port nothing listens on, until the test listens.
	port, err := peer.FreePort("tcp")
	require.NoError(t, err)
	down := "http://127.0.0.1:" + strconv.Itoa(port)

	def := func(name, url string) string {
		return fmt.Sprintf("meter %q {\n  url = %q\n  type = \"gauge\"\n  unit = \"1\"\n  response_entries_key = \"items\"\n  value_attribute = \"v\"\n  next_sample_url_attribute = \"next\"\n  timeout = \"2s\"\n}\n", name, url)
	}
	src := def("good", srv.URL+"/good") + def("e500", srv.URL+"/e500") + def("malformed", srv.URL+"/malformed") +
		def("nokey", srv.URL+"/nokey") + def("elsewhere", srv.URL+"/elsewhere") + def("loop", srv.URL+"/loop") +
		def("down", down+"/x")
	p, logs := build(t, src, nil)
	req := pollster.Request{Resources: resources(p)}

	poll := func() ([]brief, map[string]string) {
		ss, err := p.Poll(t.Context(), req)
		return briefs(ss), resourceErrors(t, err)
	}
	for range 3 {
		got, errs := poll()
		require.Equal(t, []brief{{Name: "good", Unit: "1", Type: "gauge", RID: "g", Volume: 1}}, got)
		require.Len(t, errs, 6)
		require.Contains(t, errs["e500"], "HTTP 500")
		require.Contains(t, errs["malformed"], "malformed response: not JSON")
		require.Contains(t, errs["nokey"], "malformed response: no items in the response")
		require.Contains(t, errs["elsewhere"], "next link leaves")
		require.Contains(t, errs["loop"], "loops back")
		require.Contains(t, errs["down"], "connection refused")
	}
	require.Equal(t, 6, logs.count("definition failing"), "logged once per state change, not per poll")
	c := p.Counters()
	require.EqualValues(t, 3, c["http_errors"])
	require.EqualValues(t, 3, c["request_errors"])
	require.EqualValues(t, 12, c["malformed_responses"])
	require.EqualValues(t, 18, c["definition_errors"])

	// Recovery: the server behaves and the dead port comes to life.
	mode.Store("good")
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	require.NoError(t, err)
	alive := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"items":[{"id":"d","v":5}]}`))
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = alive.Serve(l) }()
	t.Cleanup(func() { _ = alive.Close() })

	got, errs := poll()
	require.Len(t, errs, 2) // elsewhere, loop: still bad by design
	var rids []string
	for _, b := range got {
		rids = append(rids, b.RID)
	}
	require.ElementsMatch(t, []string{"g", "e", "m", "n", "d"}, rids)
	require.Equal(t, 4, logs.count("definition recovered"))
	require.Equal(t, 6, logs.count("definition failing"))
}

// TestPagination follows relative and absolute next links across pages.
func TestPagination(t *testing.T) {
	t.Parallel()
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pg, _ := strconv.Atoi(r.URL.Query().Get("page"))
		next := ""
		switch pg {
		case 0:
			next = `"/list?page=1"`
		case 1:
			next = `"` + srvURL + `/list?page=2"`
		case 2:
			next = `null`
		}
		fmt.Fprintf(w, `{"links":{"next":%s},"items":[{"id":"r%d","v":%d},{"id":"s%d","v":%d}]}`, next, pg, pg, pg, 10+pg)
	}))
	t.Cleanup(srv.Close)
	srvURL = srv.URL
	src := fmt.Sprintf(`meter "paged" {
  url = "%s/list"
  type = "gauge"
  unit = "1"
  response_entries_key = "items"
  value_attribute = "v"
  next_sample_url_attribute = "links.next"
}
meter "capped" {
  url = "%s/list"
  type = "gauge"
  unit = "1"
  response_entries_key = "items"
  value_attribute = "v"
  next_sample_url_attribute = "links.next"
}
max_pages = 2
`, srv.URL, srv.URL)
	p, _ := build(t, src, nil)
	ss, err := p.Poll(t.Context(), pollster.Request{Resources: []sample.Resource{{ID: "paged"}}})
	require.Error(t, err) // max_pages = 2 < 3 pages
	require.Empty(t, ss)
	p.maxPages = 10
	ss, err = p.Poll(t.Context(), pollster.Request{Resources: []sample.Resource{{ID: "paged"}}})
	require.NoError(t, err)
	var got []string
	for _, b := range briefs(ss) {
		got = append(got, fmt.Sprintf("%s=%g", b.RID, b.Volume))
	}
	require.Equal(t, []string{"r0=0", "r1=1", "r2=2", "s0=10", "s1=11", "s2=12"}, got)
	require.EqualValues(t, 2+3, p.Counters()["requests"])
}

// TestOwnership: Poll requests exactly the definitions Request.Resources
// names (what the host's ownership hook kept), and filters meters.
func TestOwnership(t *testing.T) {
	t.Parallel()
	var hits sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := hits.LoadOrStore(r.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		_, _ = w.Write([]byte(`{"id":"x","v":1,"w":2}`))
	}))
	t.Cleanup(srv.Close)
	src := fmt.Sprintf(`
meter "a.one" {
  url = "%[1]s/a"
  type = "gauge"
  unit = "1"
  value_attribute = "v"
}
meter "b" {
  url = "%[1]s/b"
  type = "gauge"
  unit = "1"
  value "b.v" {
    attribute = "v"
  }
  value "b.w" {
    attribute = "w"
  }
}
`, srv.URL)
	p, _ := build(t, src, nil)
	ctx := t.Context()

	rs, err := p.Discover(ctx, discoveryMethod, "")
	require.NoError(t, err)
	require.Equal(t, []sample.Resource{
		{ID: "a.one", Endpoint: srv.URL + "/a", Metadata: map[string]string{"url": srv.URL + "/a", "meters": "a.one"}},
		{ID: "b", Endpoint: srv.URL + "/b", Metadata: map[string]string{"url": srv.URL + "/b", "meters": "b.v,b.w"}},
	}, rs)
	rs, err = p.Discover(ctx, discoveryMethod, "a.*")
	require.NoError(t, err)
	require.Len(t, rs, 1)
	_, err = p.Discover(ctx, "nope", "")
	require.ErrorContains(t, err, `unknown discovery method "nope"`)

	_, err = p.Poll(ctx, pollster.Request{})
	require.ErrorIs(t, err, errNoResources)

	ss, err := p.Poll(ctx, pollster.Request{Resources: []sample.Resource{{ID: "b"}, {ID: "zzz"}}})
	require.Equal(t, map[string]string{"zzz": `no meter block named "zzz" in this pollster`}, resourceErrors(t, err))
	require.Len(t, ss, 2)
	_, polledA := hits.Load("/a")
	require.False(t, polledA, "a resource not given is never requested")

	ss, err = p.Poll(ctx, pollster.Request{Meters: []string{"b.w"}, Resources: []sample.Resource{{ID: "a.one"}, {ID: "b"}}})
	require.NoError(t, err)
	require.Equal(t, []brief{{Name: "b.w", Unit: "1", Type: "gauge", RID: "x", Volume: 2}}, briefs(ss))
	_, polledA = hits.Load("/a")
	require.False(t, polledA, "a definition none of whose meters is asked for is not requested")
}

// TestPollCanceled returns promptly once ctx ends, even on a hanging server.
func TestPollCanceled(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	p, _ := build(t, fmt.Sprintf("meter \"m\" {\n  url = %q\n  type = \"gauge\"\n  unit = \"1\"\n  value_attribute = \"v\"\n}\n", srv.URL), nil)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Poll(ctx, pollster.Request{Resources: resources(p)})
	require.Less(t, time.Since(start), 5*time.Second)
	require.Contains(t, resourceErrors(t, err)["m"], "deadline exceeded")
}

// TestContract runs the plugin over real gRPC as the host does: discovery,
// a poll of what discovery returned, per-definition errors, counters.
func TestContract(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			_, _ = w.Write([]byte(`<html>`))
			return
		}
		_, _ = w.Write([]byte(`{"data":[{"id":"a","v":"1.5","tags":{"zone":"z1"}}]}`))
	}))
	t.Cleanup(srv.Close)
	c := sdktest.Pollster(t, spec(), fmt.Sprintf(`
meter "good" {
  url = "%[1]s/good"
  type = "delta"
  unit = "B"
  response_entries_key = "data"
  value_attribute = "v"
  metadata_fields = ["tags"]
}
meter "bad" {
  url = "%[1]s/bad"
  type = "gauge"
  unit = "1"
  value_attribute = "v"
}
`, srv.URL))
	ctx := t.Context()
	rs, err := c.Discover(ctx, discoveryMethod, "")
	require.NoError(t, err)
	require.Len(t, rs, 2)
	res, err := c.Poll(ctx, pollster.Request{Meters: []string{"good", "bad"}, Resources: rs})
	require.NoError(t, err)
	require.Equal(t, []brief{{Name: "good", Unit: "B", Type: "delta", RID: "a", Volume: 1.5, Metadata: map[string]string{"tags.zone": "z1"}}}, briefs(res.Samples))
	require.Len(t, res.Errors, 1)
	require.Equal(t, "bad", res.Errors[0].ResourceID)
	require.Contains(t, res.Errors[0].Err.Error(), "malformed response: not JSON")
	counters, err := c.Counters(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, counters["malformed_responses"])
	require.EqualValues(t, 1, counters["samples"])
}

func TestExample(t *testing.T) {
	t.Parallel()
	s := spec()
	sdktest.CheckExample(t, "example.hcl", s.Info(), s.Register())
}
