package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/sdk/sample"
)

// limitStore opens a real store (clock t0+1h) holding the fixture.
func limitStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{Logger: hclog.NewNullLogger(), Now: func() time.Time { return t0.Add(time.Hour) }})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	rows := fixture()
	smps := make([]sample.Sample, len(rows))
	for i := range rows {
		smps[i] = rows[i].Sample
	}
	require.NoError(t, st.Write(t.Context(), smps))
	require.NoError(t, st.WriteEvents(t.Context(), eventFixture()))
	return st
}

// limitServer serves r (and writes to w when set) with lim, its metrics
// on a registry of its own.
func limitServer(t testing.TB, r store.Reader, w store.ProjectWriter, events store.EventReader, lim Limits) *Server {
	t.Helper()
	return New(Options{Store: r, Writer: w, Events: events, Auth: testAuth, Limits: lim, Registerer: prometheus.NewRegistry(),
		Logger: hclog.New(&hclog.LoggerOptions{Output: testWriter{t}, Level: hclog.Warn})})
}

func refusedCount(srv *Server, reason string) float64 {
	return testutil.ToFloat64(srv.metrics.refused.WithLabelValues(reason))
}

// Item 1 of issue 9: a limit past max_limit, negative, or not an integer is
// a 400 naming limit on every listing; none reaches the store's
// allocations (limit=2147483648 ran the agent out of memory, and
// 9223372036854775807 was a 500 from a caught panic).
func TestLimitIsCapped(t *testing.T) {
	t.Parallel()
	st := limitStore(t)
	srv := limitServer(t, st, st, st, Limits{})
	for _, target := range []string{"/v2/meters/cpu_util", "/v2/samples", "/v2/meters", "/v2/resources", "/v2/events"} {
		for _, v := range []string{"150000000", "2147483648", "9223372036854775807", "9223372036854775808", "10001"} {
			rec := call(t, srv, "GET", target+"?limit="+v, tokAdmin, "")
			requireError(t, rec, http.StatusBadRequest, "limit")
			if v != "9223372036854775808" {
				requireError(t, call(t, srv, "GET", target+"?limit="+v, tokAdmin, ""), http.StatusBadRequest, "api max_limit")
			}
		}
		for _, v := range []string{"-1", "0", "1.5", "ten", ""} {
			requireError(t, call(t, srv, "GET", target+"?limit="+v, tokAdmin, ""), http.StatusBadRequest, "limit must be a positive integer")
		}
		rec := call(t, srv, "GET", target+"?limit=10000", tokAdmin, "")
		require.Equal(t, http.StatusOK, rec.Code, "%s: %s", target, rec.Body.String())
	}
	for _, body := range []string{`{"limit": 2147483648}`, `{"limit": 9223372036854775807}`, `{"limit": 150000000}`} {
		requireError(t, call(t, srv, "POST", "/v2/query/samples", tokAdmin, body), http.StatusBadRequest, "limit")
	}
	requireError(t, call(t, srv, "POST", "/v2/query/samples", tokAdmin, `{"limit": 9223372036854775808}`), http.StatusBadRequest, "limit")
	require.Equal(t, http.StatusOK, call(t, srv, "POST", "/v2/query/samples", tokAdmin, `{"limit": 10000}`).Code)
	require.Equal(t, float64(5*(5+4+5)+4), refusedCount(srv, refusedLimit), "every refusal counted")

	// A configured maximum; a listing without a limit returns at most it.
	small := limitServer(t, st, st, st, Limits{MaxLimit: 2})
	requireError(t, call(t, small, "GET", "/v2/samples?limit=3", tokAdmin, ""), http.StatusBadRequest, "limit 3 is more than the maximum 2 (api max_limit)")
	require.Len(t, decodeList(t, call(t, small, "GET", "/v2/samples?limit=2", tokAdmin, "").Body.Bytes()), 2)
	require.Len(t, decodeList(t, call(t, small, "GET", "/v2/samples", tokAdmin, "").Body.Bytes()), 2)
	require.Len(t, decodeList(t, call(t, small, "POST", "/v2/query/samples", tokAdmin, `{}`).Body.Bytes()), 2)
	requireError(t, call(t, small, "POST", "/v2/query/samples", tokAdmin, `{"limit": 3}`), http.StatusBadRequest, "api max_limit")
}

// Issue 9 item 1 for the event type and trait listings: many distinct
// event types, trait names and trait values are listed a page at a time
// (limit at most max_limit, store.DefaultLimit when absent), never all at
// once; a limit past max_limit is a counted 400.
func TestEventListingsAreBounded(t *testing.T) {
	t.Parallel()
	const n = 60
	st := limitStore(t)
	var evs []sample.Event
	for i := range n {
		evs = append(evs, sample.Event{
			MessageID: fmt.Sprintf("many-%02d", i), EventType: fmt.Sprintf("many.%02d", i), Generated: t0.Add(time.Duration(i) * time.Second),
			Traits: []sample.Trait{
				{Name: "project_id", Type: sample.TraitText, Text: projectA},
				{Name: fmt.Sprintf("name%02d", i), Type: sample.TraitText, Text: "x"},
			},
		})
		for j := range n {
			evs = append(evs, sample.Event{
				MessageID: fmt.Sprintf("value-%02d-%02d", i, j), EventType: "values", Generated: t0.Add(time.Duration(i*n+j) * time.Millisecond),
				Traits: []sample.Trait{
					{Name: "project_id", Type: sample.TraitText, Text: projectA},
					{Name: "v", Type: sample.TraitInt, Int: int64(i*n + j)},
					{Name: fmt.Sprintf("n%02d", i), Type: sample.TraitText, Text: "x"},
				},
			})
		}
	}
	require.NoError(t, st.WriteEvents(t.Context(), evs))
	srv := limitServer(t, st, st, st, Limits{MaxLimit: 25})
	listings := []struct {
		name, target, key string
		total             int // rows when paged to the end; 0: no marker
	}{
		{"event types", "/v2/event_types", "", n + 5},
		{"trait names", "/v2/event_types/values/traits", "name", n + 2},
		{"trait values", "/v2/event_types/values/traits/v", "", 0},
	}
	for _, tok := range []string{tokAdmin, tokA} {
		for _, l := range listings {
			t.Run(l.name, func(t *testing.T) {
				for _, v := range []string{"26", "2147483648", "9223372036854775807", "99999999999999999999"} {
					requireError(t, call(t, srv, "GET", l.target+"?limit="+v, tok, ""), http.StatusBadRequest, "limit")
				}
				requireError(t, call(t, srv, "GET", l.target+"?limit=26", tok, ""), http.StatusBadRequest, "limit 26 is more than the maximum 25 (api max_limit)")
				requireError(t, call(t, srv, "GET", l.target+"?limit=-1", tok, ""), http.StatusBadRequest, "limit must be a positive integer")
				rec := call(t, srv, "GET", l.target, tok, "")
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				var first []any
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &first))
				require.LessOrEqual(t, len(first), 25, "no limit: at most max_limit")
				if l.total == 0 {
					require.Len(t, first, 25, "the first max_limit values")
					return
				}
				seen, marker := 0, ""
				for range l.total {
					target := l.target + "?limit=7"
					if marker != "" {
						target += "&marker=" + url.QueryEscape(marker)
					}
					rec := call(t, srv, "GET", target, tok, "")
					require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
					var page []any
					require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
					require.LessOrEqual(t, len(page), 7)
					if len(page) == 0 {
						break
					}
					seen += len(page)
					last := page[len(page)-1]
					if m, ok := last.(map[string]any); ok {
						marker = m[l.key].(string)
					} else {
						marker = last.(string)
					}
				}
				if tok == tokAdmin {
					require.Equal(t, l.total, seen, "every row once, a page at a time")
				}
			})
		}
	}
	require.Equal(t, float64(2*3*6), refusedCount(srv, refusedLimit), "every refusal counted")
}

func postBody(items ...map[string]any) string {
	b, _ := json.Marshal(items)
	return string(b)
}

func posted(ts string, md map[string]any) map[string]any {
	m := map[string]any{"counter_name": "cpu_util", "counter_type": "gauge", "counter_unit": "%", "counter_volume": 1,
		"resource_id": "res-new", "project_id": projectA}
	if ts != "" {
		m["timestamp"] = ts
	}
	if md != nil {
		m["resource_metadata"] = md
	}
	return m
}

// requireNothingOf checks that no sample or resource of res-new was stored.
func requireNothingOf(t *testing.T, srv *Server, why string) {
	t.Helper()
	rows := decodeList(t, call(t, srv, "GET", "/v2/samples"+qs("q.field", "resource_id", "q.value", "res-new"), tokAdmin, "").Body.Bytes())
	require.Empty(t, rows, why)
	requireError(t, call(t, srv, "GET", "/v2/resources/res-new", tokAdmin, ""), http.StatusNotFound, "res-new")
}

// Item 5: resource_metadata past max_metadata_bytes is a 413 naming the
// sample, and nothing of the batch is stored.
func TestMaxMetadataBytes(t *testing.T) {
	t.Parallel()
	st := limitStore(t)
	srv := limitServer(t, st, st, st, Limits{MaxMetadataBytes: 1024})
	ok := posted("2024-01-02T03:30:00", map[string]any{"a": strings.Repeat("x", 900)})
	big := posted("2024-01-02T03:31:00", map[string]any{"a": map[string]any{"b": strings.Repeat("x", 1100)}})
	rec := call(t, srv, "POST", "/v2/meters/cpu_util", tokAdmin, postBody(ok, big))
	requireError(t, rec, http.StatusRequestEntityTooLarge, "samples[1].resource_metadata: 1111 bytes of JSON, more than the maximum 1024")
	requireNothingOf(t, srv, "a refused batch stores nothing")
	require.Equal(t, 1.0, refusedCount(srv, refusedMetadata))
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/v2/meters/cpu_util", tokAdmin, postBody(ok)).Code)

	// The default bound refuses the 4 MB of metadata per sample.
	def := limitServer(t, st, st, st, Limits{})
	huge := posted("", map[string]any{"blob": strings.Repeat("y", 4<<20)})
	requireError(t, call(t, def, "POST", "/v2/meters/cpu_util", tokAdmin, postBody(huge)), http.StatusRequestEntityTooLarge,
		"samples[0].resource_metadata: 4194316 bytes of JSON, more than the maximum 65536 (api max_metadata_bytes)")
}

// Item 5: a query with more conditions than max_query_leaves is a 400,
// simple or complex; an "in" counts one per value.
func TestMaxQueryLeaves(t *testing.T) {
	t.Parallel()
	srv, fs := testServer(t)
	leaves := func(n int) string {
		var kids []string
		for i := range n {
			kids = append(kids, fmt.Sprintf(`{"=~": {"metadata.k%d": "^(a|b)*c$"}}`, i))
		}
		b, _ := json.Marshal(map[string]string{"filter": `{"and": [` + strings.Join(kids, ",") + `]}`})
		return string(b)
	}
	calls := fs.calls
	requireError(t, call(t, srv, "POST", "/v2/query/samples", tokAdmin, leaves(101)), http.StatusBadRequest, "filter: 101 conditions, more than the maximum 100 (api max_query_leaves)")
	require.Equal(t, calls, fs.calls, "refused before the store")
	require.Equal(t, http.StatusOK, call(t, srv, "POST", "/v2/query/samples", tokAdmin, leaves(100)).Code)
	in := make([]string, 101)
	for i := range in {
		in[i] = fmt.Sprintf("%q", fmt.Sprint("r", i))
	}
	b, _ := json.Marshal(map[string]string{"filter": `{"in": {"resource_id": [` + strings.Join(in, ",") + `]}}`})
	requireError(t, call(t, srv, "POST", "/v2/query/samples", tokAdmin, string(b)), http.StatusBadRequest, "101 conditions")

	var kv []string
	for i := range 101 {
		kv = append(kv, "q.field", fmt.Sprint("metadata.k", i), "q.value", "v")
	}
	for _, path := range []string{"/v2/samples", "/v2/meters/cpu_util", "/v2/meters/cpu_util/statistics", "/v2/resources", "/v2/meters"} {
		requireError(t, call(t, srv, "GET", path+qs(kv...), tokAdmin, ""), http.StatusBadRequest, "api max_query_leaves")
		require.Equal(t, http.StatusOK, call(t, srv, "GET", path+qs(kv[:400]...), tokAdmin, "").Code, path)
	}
	var ev []string
	for i := range 101 {
		ev = append(ev, "q.field", fmt.Sprint("t", i), "q.value", "v")
	}
	requireError(t, call(t, srv, "GET", "/v2/events"+qs(ev...), tokAdmin, ""), http.StatusBadRequest, "api max_query_leaves")
	require.Equal(t, 8.0, refusedCount(srv, refusedLeaves))
}

// Item 5: a groupby past max_groups is a 400 that says so.
func TestMaxGroups(t *testing.T) {
	t.Parallel()
	st := limitStore(t)
	srv := limitServer(t, st, st, st, Limits{MaxGroups: 2})
	// By a key field (whole series) and by metadata (sample by sample).
	for _, by := range [][]string{{"resource_id"}, {"resource_id", "metadata.host"}} {
		var kv []string
		for _, b := range by {
			kv = append(kv, "groupby", b)
		}
		rec := call(t, srv, "GET", "/v2/meters/cpu_util/statistics"+qs(kv...), tokAdmin, "")
		requireError(t, rec, http.StatusBadRequest, "groupby: ")
		rec = call(t, srv, "GET", "/v2/meters/cpu_util/statistics"+qs(kv...), tokAdmin, "")
		requireError(t, rec, http.StatusBadRequest, "gives more than 2 groups; narrow the query")
		// A member sees its own project: two resources on two hosts.
		rec = call(t, srv, "GET", "/v2/meters/cpu_util/statistics"+qs(kv...), tokA, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Len(t, decodeList(t, rec.Body.Bytes()), 2)
	}
	require.Equal(t, 4.0, refusedCount(srv, refusedGroups))
}

// Statistics buckets are bounded by max_buckets: period=1 over ten years
// is a 400 naming period before a bucket is made, and so are more buckets
// across groups than the limit; a member is counted on its own data.
func TestMaxBuckets(t *testing.T) {
	t.Parallel()
	st := limitStore(t)
	tenYears := []string{"q.field", "timestamp", "q.op", "ge", "q.value", "2019-01-01T00:00:00", "q.field", "timestamp", "q.op", "lt", "q.value", "2029-01-01T00:00:00"}
	with := func(kv ...string) string { return qs(append(slices.Clone(tenYears), kv...)...) }
	cases := []struct {
		name, token, query string
		code, rows         int // rows of a 200
		msg                string
	}{
		{"ten years of seconds", tokAdmin, with("period", "1"), 400, 0, "period: invalid request: too many buckets: 9 samples from 2024-01-02T03:00:00Z to 2024-01-02T03:03:00Z may fill 181 periods of 1s, more than 8 buckets"},
		{"ten years of seconds, by resource", tokAdmin, with("period", "1", "groupby", "resource_id"), 400, 0, "more than 8 buckets"},
		{"ten years of seconds, by metadata", tokAdmin, with("period", "1", "groupby", "metadata.host"), 400, 0, "more than 8 buckets"},
		{"ten years of seconds, a member's 6 samples in 4 seconds", tokA, with("period", "1"), 200, 4, ""},
		{"ten years of seconds, B's 3 samples", tokB, with("period", "1"), 200, 3, ""},
		{"the samples' range in seconds", tokAdmin, qs("period", "1"), 400, 0, "181 periods of 1s"},
		{"minutes by resource: 9 buckets", tokAdmin, qs("period", "60", "groupby", "resource_id"), 400, 0, "the answer has more than 8 buckets"},
		{"minutes by host: 7 buckets", tokAdmin, qs("period", "60", "groupby", "metadata.host"), 200, 7, ""},
		{"minutes by resource and host: 9 buckets", tokAdmin, qs("period", "60", "groupby", "resource_id", "groupby", "metadata.host"), 400, 0, "the answer has more than 8 buckets"},
		{"a member's minutes by resource: 6", tokA, qs("period", "60", "groupby", "resource_id"), 200, 6, ""},
		{"ten years in one bucket", tokAdmin, with(), 200, 1, ""},
		{"ten years of years", tokAdmin, with("period", fmt.Sprint(366*24*3600)), 200, 1, ""},
	}
	srv := limitServer(t, st, st, st, Limits{MaxBuckets: 8})
	refusals := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := call(t, srv, "GET", "/v2/meters/cpu_util/statistics"+tc.query, tc.token, "")
			if tc.code != http.StatusOK {
				require.Contains(t, rec.Body.String(), "period: ")
				requireError(t, rec, tc.code, tc.msg)
				refusals++
				return
			}
			require.Equal(t, tc.code, rec.Code, rec.Body.String())
			require.Len(t, decodeList(t, rec.Body.Bytes()), tc.rows)
		})
	}
	require.Equal(t, float64(refusals), refusedCount(srv, refusedBuckets), "every refusal counted")

	// 1001 samples a minute apart: by the second or the minute they may
	// fill more than 1000 buckets; every two minutes, 501.
	dense := make([]sample.Sample, 1001)
	for i := range dense {
		dense[i] = sample.Sample{Name: "dense", Type: sample.Gauge, Unit: "u", Volume: float64(i), ResourceID: resourceA1, ProjectID: projectA,
			Timestamp: t0.Add(time.Duration(i-1000) * time.Minute)}
	}
	require.NoError(t, st.Write(t.Context(), dense))
	thousand := limitServer(t, st, st, st, Limits{MaxBuckets: 1000})
	for _, q := range []string{with("period", "1"), qs("period", "1"), qs("period", "60"), with("period", "1", "groupby", "resource_id"), with("period", "60", "groupby", "metadata.host")} {
		requireError(t, call(t, thousand, "GET", "/v2/meters/dense/statistics"+q, tokA, ""), http.StatusBadRequest,
			"1001 samples from 2024-01-01T10:20:00Z to 2024-01-02T03:00:00Z may fill")
	}
	rec := call(t, thousand, "GET", "/v2/meters/dense/statistics"+with("period", "120"), tokA, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Len(t, decodeList(t, rec.Body.Bytes()), 501)
}

// slowReader makes each sample its listing examines cost delay, as a
// costly residual (a regex over long metadata) does, and counts them.
type slowReader struct {
	store.Reader
	delay    time.Duration
	examined atomic.Int64
	done     chan error
}

func (r *slowReader) Samples(ctx context.Context, f store.Filter, o store.ListOptions) ([]store.Sample, error) {
	inner := o.Match
	o.Match = func(s *store.Sample) bool {
		r.examined.Add(1)
		time.Sleep(r.delay)
		return inner == nil || inner(s)
	}
	rows, err := r.Reader.Samples(ctx, f, o)
	r.done <- err
	return rows, err
}

func slowStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{Logger: hclog.NewNullLogger(), Now: func() time.Time { return t0.Add(time.Hour) }})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	smps := make([]sample.Sample, 3000)
	for i := range smps {
		smps[i] = sample.Sample{Name: "slow", Type: sample.Gauge, Unit: "u", Volume: float64(i), ResourceID: "r", ProjectID: projectA,
			Timestamp: t0.Add(time.Duration(i) * time.Millisecond), MessageID: fmt.Sprint("s-", i)}
	}
	require.NoError(t, st.Write(t.Context(), smps))
	return st
}

// Item 5: when the client goes away, the store's scan stops within a few
// samples (it went on for a thousand on main: 12.8 s of CPU in the issue).
func TestQueryStopsWhenClientLeaves(t *testing.T) {
	t.Parallel()
	sr := &slowReader{Reader: slowStore(t), delay: 2 * time.Millisecond, done: make(chan error, 1)}
	srv := limitServer(t, sr, nil, nil, Limits{})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	ctx, cancel := context.WithCancel(t.Context())
	var atCancel atomic.Int64
	go func() {
		for sr.examined.Load() < 20 {
			time.Sleep(time.Millisecond)
		}
		atCancel.Store(sr.examined.Load())
		cancel()
	}()
	req, err := http.NewRequestWithContext(ctx, "POST", hs.URL+"/v2/query/samples",
		strings.NewReader(`{"filter": "{\"=~\": {\"resource_id\": \"^r\"}}", "limit": 3000}`))
	require.NoError(t, err)
	req.Header.Set(TokenHeader, tokAdmin)
	_, err = http.DefaultClient.Do(req)
	require.ErrorIs(t, err, context.Canceled)
	select {
	case err := <-sr.done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(20 * time.Second):
		t.Fatal("the scan did not stop after the client left")
	}
	after := sr.examined.Load() - atCancel.Load()
	require.LessOrEqual(t, after, int64(40), "samples examined after the client left")
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(srv.metrics.canceled.WithLabelValues("client_gone")) == 1
	}, 5*time.Second, 10*time.Millisecond)
}

// Item 5: a query past query_timeout stops and answers 503 naming it.
func TestQueryTimeout(t *testing.T) {
	t.Parallel()
	sr := &slowReader{Reader: slowStore(t), delay: 2 * time.Millisecond, done: make(chan error, 1)}
	srv := limitServer(t, sr, nil, nil, Limits{QueryTimeout: 100 * time.Millisecond})
	start := time.Now()
	rec := call(t, srv, "GET", "/v2/samples?limit=3000", tokAdmin, "")
	requireError(t, rec, http.StatusServiceUnavailable, "the request ran longer than 100ms (api query_timeout)")
	require.ErrorIs(t, <-sr.done, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 3*time.Second)
	require.Equal(t, 1.0, testutil.ToFloat64(srv.metrics.canceled.WithLabelValues("deadline")))
}

// Item 8: a timestamp the store cannot hold is a 400 naming
// samples[i].timestamp, Go's zero time is refused rather than replaced by
// now, and a refused batch stores nothing (on main, 2262-04-11 was a 500
// that left the sample in the series without its index entry).
func TestPostedTimestampRange(t *testing.T) {
	t.Parallel()
	st := limitStore(t)
	srv := limitServer(t, st, st, st, Limits{})
	good := posted("2024-01-02T03:30:00", nil)
	for _, ts := range []string{"2262-04-11T23:47:16.854775", "2262-04-12T00:00:00", "2262-01-01T00:00:00", "9999-12-31T23:59:59",
		"0001-01-01T00:00:00", "0001-01-01T00:00:00+00:00", "1969-12-31T23:59:59"} {
		rec := call(t, srv, "POST", "/v2/meters/cpu_util", tokAdmin, postBody(good, posted(ts, nil)))
		requireError(t, rec, http.StatusBadRequest, "samples[1].timestamp: ")
		requireNothingOf(t, srv, ts)
	}
	requireError(t, call(t, srv, "POST", "/v2/meters/cpu_util", tokAdmin, postBody(posted("0001-01-01T00:00:00", nil))), http.StatusBadRequest,
		"samples[0].timestamp: 0001-01-01T00:00:00Z is outside 1970-01-01T00:00:00Z..2262-01-01T00:00:00Z (exclusive)")
	require.Equal(t, 8.0, refusedCount(srv, refusedTimestamp))

	// No timestamp (or null) still means now, as Ceilometer.
	rec := call(t, srv, "POST", "/v2/meters/cpu_util", tokAdmin, postBody(posted("", nil)))
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	ts, err := time.Parse(isoLayout, decodeList(t, rec.Body.Bytes())[0]["timestamp"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), ts, time.Minute)
}

// Item 9: a sample older than its meter's raw retention is refused (it was
// answered 201 and deleted by the next retention pass, after which period=0
// statistics lost it while period=3600 still counted it).
func TestPostedOlderThanRetention(t *testing.T) {
	t.Parallel()
	st := limitStore(t) // clock t0+1h; cpu_util's policy keeps raw samples 7 days
	srv := limitServer(t, st, st, st, Limits{})
	old := posted(t0.Add(-8*24*time.Hour).Format(isoLayout), nil)
	rec := call(t, srv, "POST", "/v2/meters/cpu_util", tokAdmin, postBody(posted("2024-01-02T03:30:00", nil), old))
	requireError(t, rec, http.StatusBadRequest, "samples[1].timestamp: 2023-12-25T03:00:00Z is older than the raw retention of this meter (raw samples are kept from 2023-12-26T04:00:00Z)")
	requireNothingOf(t, srv, "a refused batch stores nothing")
	require.NoError(t, st.Retain(t.Context()))
	for _, period := range []string{"0", "3600"} {
		rec := call(t, srv, "GET", "/v2/meters/cpu_util/statistics"+qs("period", period, "q.field", "resource_id", "q.value", "res-new"), tokAdmin, "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Empty(t, decodeList(t, rec.Body.Bytes()), "period %s", period)
	}
	require.Equal(t, 1.0, refusedCount(srv, refusedRetention))

	recent := posted(t0.Add(-6*24*time.Hour).Format(isoLayout), nil)
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/v2/meters/cpu_util", tokAdmin, postBody(recent)).Code)
}

// Listings are streamed: the body is the same JSON as one encoding of the
// whole answer.
func TestListingIsStreamedAsOneArray(t *testing.T) {
	t.Parallel()
	st := limitStore(t)
	srv := limitServer(t, st, st, st, Limits{})
	rec := call(t, srv, "GET", "/v2/samples", tokAdmin, "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
	rows := decodeList(t, rec.Body.Bytes())
	require.Len(t, rows, len(fixture()))
	rec = call(t, srv, "GET", "/v2/samples"+qs("q.field", "resource_id", "q.value", "nothing"), tokAdmin, "")
	require.Equal(t, "[]", rec.Body.String())
}

// Item 5: stalled readers of a listing whose rows share their metadata
// hold their rows, not each a copy of the answer with the metadata spelled
// out per row (on main, 10 stalled readers of 1,000 samples sharing 60 KB
// of metadata held 1.3 GB of heap; streamed, 10 MB).
func TestSlowReadersDoNotMultiplyMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap for seconds")
	}
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{Logger: hclog.NewNullLogger(), Now: func() time.Time { return t0.Add(time.Hour) }})
	require.NoError(t, err)
	defer st.Close()
	md := map[string]string{"blob": strings.Repeat("a", 60_000)}
	smps := make([]sample.Sample, 300)
	for i := range smps {
		smps[i] = sample.Sample{Name: "m", Type: sample.Gauge, Unit: "u", Volume: 1, ResourceID: "r", ProjectID: projectA,
			Timestamp: t0.Add(time.Duration(i) * time.Second), MessageID: fmt.Sprint("id-", i), Metadata: md}
	}
	require.NoError(t, st.Write(t.Context(), smps))
	srv := limitServer(t, st, nil, nil, Limits{})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	before := heap()
	var conns []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", hs.Listener.Addr().String())
		require.NoError(t, err)
		require.NoError(t, c.(*net.TCPConn).SetReadBuffer(4096))
		_, err = fmt.Fprintf(c, "GET /v2/samples?limit=300 HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\n\r\n", tokAdmin)
		require.NoError(t, err)
		conns = append(conns, c) // and never read
	}
	time.Sleep(3 * time.Second)
	held := int64(heap()) - int64(before)
	for _, c := range conns {
		c.Close()
	}
	// Each answer is 18 MB of JSON; its rows share one map.
	require.Less(t, held, int64(20<<20), "heap held by 5 stalled readers")
}

// The refusals are in /metrics when the server's registry is the one
// /metrics gathers (as the agent wires it), also for a second server on
// the same registry.
func TestRefusalsInMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	fs := &fakeStore{rows: fixture(), now: func() time.Time { return t0.Add(time.Hour) }}
	var srv *Server
	for range 2 {
		srv = New(Options{Store: fs, Writer: fs, Auth: testAuth, Registerer: reg, Gatherer: reg})
		requireError(t, call(t, srv, "GET", "/v2/samples?limit=9223372036854775807", tokA, ""), http.StatusBadRequest, "limit")
	}
	requireError(t, call(t, srv, "POST", "/v2/meters/cpu_util", tokA, postBody(posted("0001-01-01T00:00:00", nil))), http.StatusBadRequest, "samples[0].timestamp")
	body := call(t, srv, "GET", "/metrics", "", "").Body.String()
	require.Contains(t, body, `altimeter_api_refused_total{reason="limit"} 2`)
	require.Contains(t, body, `altimeter_api_refused_total{reason="timestamp"} 1`)
	require.Contains(t, body, `altimeter_api_requests_canceled_total{reason="deadline"} 0`)
}

// Item 3 of issue 15: python-ceilometerclient's query-samples -l N posts
// "limit": "N"; WSME's int type takes a numeric string, so Altimeter does
// too. A string that is not an integer stays a 400 naming limit, and the
// api max_limit cap applies to a string as to a number.
func TestComplexQueryLimitString(t *testing.T) {
	t.Parallel()
	st := limitStore(t)
	srv := limitServer(t, st, st, st, Limits{MaxLimit: 4})
	for _, tc := range []struct {
		body string
		rows int    // when want is 200
		want int    // status
		msg  string // in the error
	}{
		{`{"limit": "3"}`, 3, http.StatusOK, ""},
		{`{"limit": 3}`, 3, http.StatusOK, ""},
		{`{"limit": " 2 "}`, 2, http.StatusOK, ""},
		{`{"limit": "4"}`, 4, http.StatusOK, ""},
		{`{"limit": null}`, 4, http.StatusOK, ""},
		{`{"limit": "5"}`, 0, http.StatusBadRequest, "limit 5 is more than the maximum 4 (api max_limit)"},
		{`{"limit": "9223372036854775807"}`, 0, http.StatusBadRequest, "api max_limit"},
		{`{"limit": "9223372036854775808"}`, 0, http.StatusBadRequest, "limit must be a positive integer"},
		{`{"limit": "three"}`, 0, http.StatusBadRequest, `limit must be a positive integer or a string holding one, got "three"`},
		{`{"limit": "3.0"}`, 0, http.StatusBadRequest, "limit must be a positive integer"},
		{`{"limit": 1.5}`, 0, http.StatusBadRequest, "limit must be a positive integer"},
		{`{"limit": ""}`, 0, http.StatusBadRequest, "limit must be a positive integer"},
		{`{"limit": "0"}`, 0, http.StatusBadRequest, "limit must be a positive integer"},
		{`{"limit": "-1"}`, 0, http.StatusBadRequest, "limit must be a positive integer"},
		{`{"limit": true}`, 0, http.StatusBadRequest, "limit must be a positive integer"},
		{`{"limit": ["3"]}`, 0, http.StatusBadRequest, "limit must be a positive integer"},
	} {
		t.Run(tc.body, func(t *testing.T) {
			rec := call(t, srv, "POST", "/v2/query/samples", tokAdmin, tc.body)
			if tc.want != http.StatusOK {
				requireError(t, rec, tc.want, tc.msg)
				return
			}
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Len(t, decodeList(t, rec.Body.Bytes()), tc.rows)
		})
	}
	require.Equal(t, float64(11), refusedCount(srv, refusedLimit), "every refusal counted")
}

// TestUnboundedInputsRefused: every count, size and pattern a request
// carries is bounded, per endpoint family; each refusal is a 400 naming
// what is too large, and the refused request changes nothing.
func TestUnboundedInputsRefused(t *testing.T) {
	t.Parallel()
	many := func(n int, kv ...string) []string {
		var out []string
		for i := range n {
			for j := 0; j < len(kv); j += 2 {
				v := kv[j+1]
				if strings.Contains(v, "%d") {
					v = fmt.Sprintf(v, i)
				}
				out = append(out, kv[j], v)
			}
		}
		return out
	}
	leaves := func(n int, leaf string) string {
		return `{"and":[` + strings.TrimSuffix(strings.Repeat(leaf+",", n), ",") + `]}`
	}
	longRegex := strings.Repeat("a", maxRegexBytes+1)
	cases := []struct {
		family, name, method, target, body string
		msg                                string
	}{
		{"data", "groupby of 9 fields", "GET", "/v2/meters/cpu_util/statistics" + qs(many(9, "groupby", "metadata.k%d")...), "", "groupby: 9 fields, more than the maximum 8"},
		{"data", "101 q conditions", "GET", "/v2/samples" + qs(many(101, "q.field", "metadata.k%d", "q.value", "v")...), "", "101 conditions, more than the maximum 100 (api max_query_leaves)"},
		{"data", "a long regex", "POST", "/v2/query/samples", `{"filter":{"=~":{"resource_id":"` + longRegex + `"}}}`, "regular expression of 1025 bytes, more than the maximum 1024"},
		{"data", "orderby of 20 terms", "POST", "/v2/query/samples", `{"orderby":[` + strings.TrimSuffix(strings.Repeat(`{"timestamp":"asc"},`, 20), ",") + `]}`, "20 terms, at most"},
		{"data", "orderby naming a field twice", "POST", "/v2/query/samples", `{"orderby":[{"timestamp":"asc"},{"timestamp":"desc"}]}`, "field timestamp is given more than once"},
		{"events", "101 q conditions", "GET", "/v2/events" + qs(many(101, "q.field", "t%d", "q.value", "v")...), "", "q.field: 101 conditions"},
		{"events", "a long event_type", "GET", "/v2/events" + qs("q.field", "event_type", "q.value", strings.Repeat("x", 256)), "", "field event_type: 256 bytes, more than the maximum 255"},
		{"events", "an event_type of 5 wildcards", "GET", "/v2/events" + qs("q.field", "event_type", "q.value", "*a*b*c*d*"), "", "5 '*' wildcards, more than the maximum 4"},
		{"events", "5 sort keys", "GET", "/v2/events" + qs(many(5, "sort", "generated:asc")...), "", "sort: more than 4 keys"},
		{"events", "event types past max_limit", "GET", "/v2/event_types?limit=10001", "", "(api max_limit)"},
		{"events", "trait values past max_limit", "GET", "/v2/event_types/" + evCreate + "/traits/host?limit=10001", "", "(api max_limit)"},
		{"alarms", "101 q conditions", "GET", "/v2/alarms" + qs(many(101, "q.field", "name", "q.value", "x%d")...), "", "q.field: 101 conditions, more than the maximum 100 (api max_query_leaves)"},
		{"alarms", "a listing past max_limit", "GET", "/v2/alarms?limit=10001", "", "limit 10001 is more than the maximum 10000 (api max_limit)"},
		{"alarms", "a history past max_limit", "GET", "/v2/alarms/" + alarmA1 + "/history?limit=2147483648", "", "(api max_limit)"},
		{"alarms", "a query of 101 leaves", "POST", "/v2/query/alarms", `{"filter":` + mustJSON(t, leaves(101, `{"=":{"name":"x"}}`)) + `}`, "filter: 101 conditions"},
		{"alarms", "a history query of 101 leaves", "POST", "/v2/query/alarms/history", `{"filter":` + leaves(101, `{"=":{"type":"creation"}}`) + `}`, "filter: 101 conditions"},
		{"alarms", "a query past max_limit", "POST", "/v2/query/alarms", `{"limit":10001}`, "(api max_limit)"},
		{"alarms", "a query with a long regex", "POST", "/v2/query/alarms", `{"filter":{"=~":{"name":"` + longRegex + `"}}}`, "more than the maximum 1024"},
		{"notifications", "raw listing past 100", "GET", "/v2/notifications?raw=true&limit=101", "", "limit: at most 100 with raw=true"},
		{"notifications", "a listing past 1000", "GET", "/v2/notifications?limit=1001", "", "limit: want an integer between 1 and 1000"},
		{"notifications", "a glob of 5 wildcards", "GET", "/v2/notifications?event_type=*a*b*c*d*", "", "event_type"},
		{"notifications", "a long filter", "GET", "/v2/notifications?host=" + strings.Repeat("h", 256), "", "host: longer than 255 bytes"},
	}
	st := limitStore(t)
	srv := New(Options{Store: st, Writer: st, Events: st, Notifications: archiveFixture(t), Auth: testAuth, Alarms: testAlarms(t),
		Registerer: prometheus.NewRegistry(), Logger: hclog.New(&hclog.LoggerOptions{Output: testWriter{t}, Level: hclog.Warn})})
	for _, family := range []string{"data", "events", "alarms", "notifications"} {
		t.Run(family, func(t *testing.T) {
			for _, tc := range cases {
				if tc.family != family {
					continue
				}
				t.Run(tc.name, func(t *testing.T) {
					for _, tok := range []string{tokAdmin, tokA} {
						requireError(t, call(t, srv, tc.method, tc.target, tok, tc.body), http.StatusBadRequest, tc.msg)
					}
				})
			}
		})
	}
	rows := decodeList(t, call(t, srv, "GET", "/v2/alarms", tokAdmin, "").Body.Bytes())
	require.Len(t, rows, 3, "no alarm created")
}
