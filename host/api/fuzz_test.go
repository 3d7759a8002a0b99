package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The fuzzers run their seed corpus as ordinary tests; explore with
// go test ./host/api -run '^$' -fuzz FuzzSimpleQuery -fuzztime 30s.

var simpleSeeds = []string{
	"",
	"q.field=resource_id&q.op=eq&q.value=res-a1",
	"q.field=timestamp&q.op=gt&q.value=2024-01-02T03:01:00&q.field=timestamp&q.op=le&q.value=2024-01-02T03:03:00%2B00:00",
	"q.field=metadata.flavor.name&q.value=small&q.type=string",
	"q.field=resource_metadata.n&q.op=lt&q.value=3&q.type=integer",
	"q.field=metadata.on&q.op=ne&q.value=yes&q.type=boolean",
	"q.field=metadata.when&q.op=ge&q.value=2024-01-01T00:00:00&q.type=datetime",
	"q.field=metadata.x&q.op=gt&q.value=1e400&q.type=float",
	"q.field=project&q.value=proj-b",
	"q.field=project_id&q.op=ne&q.value=proj-a",
	"q.field=search_offset&q.value=5&q.field=timestamp&q.op=ge&q.value=2024-01-02T03:01:00&q.op=eq",
	"q.field=message_id&q.value=a1-2&limit=1&marker=a1-3",
	"q.field=user&q.field=source&q.value=a&q.value=b&q.op=eq",
	"q.field=timestamp&q.op=eq&q.value=garbage",
	"q.field=&q.value=",
	"q.field=metadata.&q.value=1",
	"q.nope=1",
	"limit=0",
	"limit=99999999999999999999",
	"q.field=meter&q.op=like&q.value=x",
	"q.field=timestamp&q.op=lt&q.value=0001-01-01T00:00:00",
	"q.field=timestamp&q.op=gt&q.value=9999-12-31T23:59:59.999999",
	// Issue 9, item 1: limits that ran the agent out of memory or panicked.
	"limit=150000000",
	"limit=2147483648",
	"limit=9223372036854775807",
	"limit=-9223372036854775808",
	"limit=10001",
	"limit=10000&marker=a1-3",
	// Item 5: more conditions than max_query_leaves; a wide groupby.
	strings.Repeat("q.field=metadata.k&q.value=v&", 101),
	"groupby=resource_id&groupby=metadata.host&groupby=user_id&period=1",
}

// FuzzSimpleQuery: any query string gives a precise 400/403 or an answer,
// never a panic or a 500, on the parser and through the handlers over the
// fake and the real store (whose allocations a limit must not size).
func FuzzSimpleQuery(f *testing.F) {
	for _, s := range simpleSeeds {
		f.Add(s)
	}
	srv, _ := testServer(f)
	real := realStoreServer(f)
	rows := fixture()
	f.Fuzz(func(t *testing.T, raw string) {
		params, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, sc := range []queryScope{samplesScope, statisticsScope, metersScope, resourcesScope} {
			q, err := parseSimpleQuery(params, sc)
			if err != nil {
				if !errors.Is(err, ErrBadRequest) {
					t.Fatalf("%s: parse error is not a bad request: %v", sc.endpoint, err)
				}
				continue
			}
			p, err := planQuery(q, sc, projectA)
			if err != nil {
				if code := statusOf(err); code != http.StatusBadRequest && code != http.StatusForbidden {
					t.Fatalf("%s: plan error gives %d: %v", sc.endpoint, code, err)
				}
				continue
			}
			if m := p.match(); m != nil {
				for i := range rows {
					m(&rows[i])
				}
			}
		}
		for _, path := range []string{"/v2/samples", "/v2/meters", "/v2/meters/cpu_util/statistics", "/v2/resources", "/v2/meters/cpu_util"} {
			for _, sv := range []*Server{srv, real} {
				req := httptest.NewRequest("GET", path, nil)
				req.URL.RawQuery = raw // as sent, even where NewRequest would refuse it
				req.Header.Set(TokenHeader, tokA)
				rec := httptest.NewRecorder()
				sv.Handler().ServeHTTP(rec, req)
				if rec.Code >= 500 {
					t.Fatalf("GET %s?%s: %d %s", path, raw, rec.Code, rec.Body.String())
				}
			}
		}
	})
}

var complexSeeds = []string{
	`{}`,
	`{"filter": "{\"=\": {\"counter_name\": \"cpu_util\"}}"}`,
	`{"filter": "{\"and\": [{\"and\": [{\"=\": {\"counter_name\": \"cpu_util\"}}, {\">\": {\"counter_volume\": 0.23}}, {\"<\": {\"counter_volume\": 0.26}}]}, {\"or\": [{\"and\": [{\">\": {\"timestamp\": \"2013-12-01T18:00:00\"}}, {\"<\": {\"timestamp\": \"2013-12-01T18:15:00\"}}]}, {\"and\": [{\">\": {\"timestamp\": \"2013-12-01T18:30:00\"}}, {\"<\": {\"timestamp\": \"2013-12-01T18:45:00\"}}]}]}]}", "orderby": "[{\"counter_volume\": \"ASC\"}, {\"timestamp\": \"DESC\"}]", "limit": 42}`,
	`{"filter": {"not": {"in": {"resource": ["res-a1", 3]}}}}`,
	`{"filter": "{\"=~\": {\"metadata.host\": \"^h[0-9]+\"}}"}`,
	`{"filter": "{\"=~\": {\"user_id\": \"(\"}}"}`,
	`{"filter": "{\"OR\": [{\"=\": {\"project\": \"proj-a\"}}, {\"!=\": {\"metadata.on\": true}}]}"}`,
	`{"filter": "{\"=>\": {\"recorded_at\": \"2024-01-02T03:00:00Z\"}}", "marker": "a1-1"}`,
	`{"filter": "{\"<=\": {\"volume\": \"1e999\"}}"}`,
	`{"filter": "{\"=\": {\"timestamp\": 5}}"}`,
	`{"filter": "[]"}`,
	`{"filter": "null"}`,
	`{"filter": ""}`,
	`{"orderby": "[{\"project\": \"desc\"}, {\"type\": \"asc\"}, {\"unit\": \"asc\"}, {\"id\": \"asc\"}, {\"recorded_at\": \"desc\"}]"}`,
	`{"orderby": "[{}]"}`,
	`{"limit": -1}`,
	`{"limit": 1.5}`,
	`{"filter": "{\"and\": [{\"=\": {\"project_id\": \"proj-b\"}}, {\"=\": {\"meter\": \"x\"}}]}"}`,
	// Issue 9, item 1: limits that ran the agent out of memory or panicked.
	`{"limit": 2147483648}`,
	`{"limit": 150000000, "orderby": "[{\"counter_volume\": \"asc\"}]"}`,
	`{"limit": 9223372036854775807}`,
	`{"limit": 9223372036854775808}`,
	`{"limit": 10001}`,
	// Item 5: more conditions than max_query_leaves, as =~ leaves and as
	// the values of an in.
	`{"filter": {"and": [` + strings.TrimSuffix(strings.Repeat(`{"=~": {"metadata.k": "^(a|b)*c$"}},`, 101), ",") + `]}}`,
	`{"filter": {"in": {"resource_id": [` + strings.TrimSuffix(strings.Repeat(`"r",`, 101), ",") + `]}}}`,
	`[]`,
	`null`,
	``,
}

// FuzzComplexQuery: any body gives a precise 400/403/413 or an answer,
// never a panic or a 500, in the decoder and through the handler over the
// fake and the real store.
func FuzzComplexQuery(f *testing.F) {
	for _, s := range complexSeeds {
		f.Add(s)
	}
	srv, _ := testServer(f)
	real := realStoreServer(f)
	rows := fixture()
	f.Fuzz(func(t *testing.T, body string) {
		q, err := decodeComplexQuery([]byte(body))
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("decode error is not a bad request: %v", err)
			}
		} else {
			p := newPlan(q.root)
			if err := p.confine(projectA, q.root); err != nil && !errors.Is(err, ErrForbidden) {
				t.Fatalf("confine: %v", err)
			}
			if m := p.match(); m != nil {
				for i := range rows {
					m(&rows[i])
				}
			}
		}
		for _, tok := range []string{tokA, tokAdmin} {
			for _, sv := range []*Server{srv, real} {
				rec := call(t, sv, "POST", "/v2/query/samples", tok, body)
				if rec.Code >= 500 {
					t.Fatalf("POST /v2/query/samples %s: %d %s", body, rec.Code, rec.Body.String())
				}
			}
		}
	})
}

var postSeeds = []string{
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r"}]`,
	`[{"counter_name":"cpu_util","counter_type":"delta","counter_unit":"%","counter_volume":"2","resource_id":"r","resource_metadata":{"a":[1,{"b":null}]},"timestamp":"2024-01-01 00:00:00"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","project_id":null,"user_id":5}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","timestamp":"0000-01-01T00:00:00"}]`,
	`[1, "a", null]`,
	`{}`,
	// Issue 9, item 8: timestamps the store cannot hold, and Go's zero time.
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","timestamp":"2262-04-11T23:47:16.854775"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","timestamp":"2262-01-01T00:00:00"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","timestamp":"0001-01-01T00:00:00"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","timestamp":"1969-12-31T23:59:59+00:00"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","timestamp":"2024-01-02T03:00:00"},` +
		`{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","timestamp":"9999-12-31T23:59:59"}]`,
	// Item 9: older than raw retention.
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","timestamp":"2001-01-01T00:00:00"}]`,
	// Item 5: more metadata than max_metadata_bytes.
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","resource_metadata":{"a":"` +
		strings.Repeat("x", 70_000) + `"}}]`,
}

// FuzzPostSamples: any posted body gives a 201 or a precise client error,
// into the fake and the real store.
func FuzzPostSamples(f *testing.F) {
	for _, s := range postSeeds {
		f.Add(s)
	}
	srv, _ := testServer(f)
	real := realStoreServer(f)
	f.Fuzz(func(t *testing.T, body string) {
		for _, sv := range []*Server{srv, real} {
			rec := call(t, sv, "POST", "/v2/meters/cpu_util", tokA, body)
			if rec.Code >= 500 {
				t.Fatalf("POST %s: %d %s", body, rec.Code, rec.Body.String())
			}
		}
	})
}
