package promapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang/snappy"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/internal/metric"
	"github.com/altimeter/altimeter/sdk/sample"
)

// fixture is a store holding a deterministic data set and the API over it.
type fixture struct {
	st      *store.Store
	api     *API
	srv     *httptest.Server
	mapping *metric.Mapping
	samples []sample.Sample
	// start and end bound the samples' times.
	start, end time.Time
}

// Test tokens of the fixture's server (Authorization: Bearer or
// X-Auth-Token): admin, and members of p1 and p2.
var testTokens = map[string]Principal{
	"admin-token": {Admin: true},
	"p1-token":    {Project: "p1"},
	"p2-token":    {Project: "p2"},
}

func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Warn})
}

// genSamples makes the data set: 12 resources in 3 projects, meters cpu
// (cumulative, with a counter reset), memory.usage (gauge), disk.read.bytes
// (cumulative) and net.packets (delta), one sample per 15 s per series at
// odd millisecond offsets (so no sample falls on an evaluation time or a
// range boundary: Prometheus 2 and 3 differ there), over [start, end).
// Resource r03 changes flavor half way (a metadata label).
func genSamples(start time.Time, n int) []sample.Sample {
	var out []sample.Sample
	meters := []struct {
		name string
		typ  sample.Type
		unit string
	}{{"cpu", sample.Cumulative, "ns"}, {"memory.usage", sample.Gauge, "MB"}, {"disk.read.bytes", sample.Cumulative, "B"}, {"net.packets", sample.Delta, "packet"}}
	for i := range n {
		for r := range 12 {
			ts := start.Add(time.Duration(i)*15*time.Second + time.Duration(7+137*r)*time.Millisecond)
			flavor := "m1.small"
			if r%4 == 1 {
				flavor = "m1.large"
			}
			if r == 3 && i >= n/2 {
				flavor = "m1.xlarge"
			}
			for m, mt := range meters {
				var v float64
				switch m {
				case 0:
					v = float64(i*(r+1))*1.5e9 + float64(r)*1e9
					if r == 5 && i >= n/3 {
						v = float64(i-n/3) * 2e9 // counter reset
					}
				case 1:
					v = 512 + float64(r*64) + 100*math.Sin(float64(i+r)/7)
				case 2:
					v = float64(i*i*(r+2)) * 4096
				case 3:
					v = float64((i*7+r*3)%23 + 1)
				}
				out = append(out, sample.Sample{
					Name: mt.name, Type: mt.typ, Unit: mt.unit, Volume: v,
					ResourceID: fmt.Sprintf("r%02d", r), ProjectID: fmt.Sprintf("p%d", r%3+1), UserID: fmt.Sprintf("u%d", r%2),
					Source: "test", Timestamp: ts, MessageID: fmt.Sprintf("m-%d-%d-%d", i, r, m),
					Metadata: map[string]string{"flavor.name": flavor, "host": fmt.Sprintf("h%d", r%2)},
				})
			}
		}
	}
	return out
}

// newFixture opens a store under a temp dir, writes n points per series
// from start, and serves the API over it with the test tokens.
func newFixture(t testing.TB, start time.Time, n int, o Options) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), store.Options{Logger: testLogger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, start: start, end: start.Add(time.Duration(n) * 15 * time.Second)}
	f.samples = genSamples(start, n)
	for i := 0; i < len(f.samples); i += 500 {
		require.NoError(t, st.Write(ctx, f.samples[i:min(i+500, len(f.samples))]))
	}
	if o.Mapping == nil {
		f.mapping, err = metric.New([]string{"flavor.name"})
		require.NoError(t, err)
		o.Mapping = f.mapping
	}
	f.mapping = o.Mapping
	o.Source = st
	o.Logger = testLogger(t)
	f.api = New(o)
	f.srv = httptest.NewServer(testRouter(f.api))
	t.Cleanup(f.srv.Close)
	return f
}

// testRouter mounts the API behind the test tokens, as host/api does
// behind the real ones.
func testRouter(a *API) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	g := r.Group("/api/v1", func(c *gin.Context) {
		tok := c.GetHeader("X-Auth-Token")
		if h := c.GetHeader("Authorization"); tok == "" && strings.HasPrefix(h, "Bearer ") {
			tok = strings.TrimPrefix(h, "Bearer ")
		}
		if _, pw, ok := c.Request.BasicAuth(); ok && tok == "" {
			tok = pw
		}
		p, ok := testTokens[tok]
		if !ok {
			a.Fail(c, fmt.Errorf("%w: unknown token", ErrUnauthorized))
			return
		}
		c.Request = c.Request.WithContext(WithPrincipal(c.Request.Context(), p))
		c.Next()
	})
	a.Register(g)
	return r
}

// remoteWrite sends the samples to a Prometheus remote-write receiver with
// the labels of the mapping, series by series in time order.
func remoteWrite(t testing.TB, url string, m *metric.Mapping, samples []sample.Sample) {
	t.Helper()
	byKey := map[string]*prompb.TimeSeries{}
	var order []string
	var buf []metric.Label
	for _, s := range samples {
		buf = m.Labels(buf[:0], &metric.Series{Meter: s.Name, Type: s.Type.String(), Unit: s.Unit,
			ResourceID: s.ResourceID, ProjectID: s.ProjectID, UserID: s.UserID, Metadata: s.Metadata})
		var k strings.Builder
		ls := make([]prompb.Label, 0, len(buf))
		for _, l := range buf {
			k.WriteString(l.Name + "=" + l.Value + ",")
			ls = append(ls, prompb.Label{Name: l.Name, Value: l.Value})
		}
		ts := byKey[k.String()]
		if ts == nil {
			ts = &prompb.TimeSeries{Labels: ls}
			byKey[k.String()] = ts
			order = append(order, k.String())
		}
		ts.Samples = append(ts.Samples, prompb.Sample{Value: s.Volume, Timestamp: s.Timestamp.UnixMilli()})
	}
	// Send in time slices so every series advances together (the head
	// wants samples in order per series only; slices keep requests small).
	const slice = 40
	for lo := 0; ; lo += slice {
		var req prompb.WriteRequest
		any := false
		for _, k := range order {
			ts := byKey[k]
			if lo >= len(ts.Samples) {
				continue
			}
			any = true
			req.Timeseries = append(req.Timeseries, prompb.TimeSeries{Labels: ts.Labels, Samples: ts.Samples[lo:min(lo+slice, len(ts.Samples))]})
		}
		if !any {
			return
		}
		raw, err := req.Marshal()
		require.NoError(t, err)
		hr, err := http.NewRequest(http.MethodPost, url+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, raw)))
		require.NoError(t, err)
		hr.Header.Set("Content-Encoding", "snappy")
		hr.Header.Set("Content-Type", "application/x-protobuf")
		hr.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
		resp, err := http.DefaultClient.Do(hr)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusNoContent, resp.StatusCode, "remote write: %s", body)
	}
}

// promResponse is the Prometheus API envelope.
type promResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
	Warnings  []string        `json:"warnings"`
}

// get calls path with form values and a token, and decodes the envelope.
func get(t testing.TB, base, token, path string, form url.Values) (int, promResponse) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path+"?"+form.Encode(), nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var r promResponse
	require.NoError(t, json.Unmarshal(body, &r), "body: %s", body)
	return resp.StatusCode, r
}
