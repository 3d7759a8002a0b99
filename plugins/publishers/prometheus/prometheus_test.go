package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// fixture is 3 resources x 2 meters (cumulative cpu, gauge memory.usage)
// x 20 points 15 s apart, ending a minute ago (Prometheus' head takes
// samples up to an hour old).
func fixture(end time.Time) []sample.Sample {
	var out []sample.Sample
	start := end.Add(-19 * 15 * time.Second).Truncate(time.Second)
	for r := range 3 {
		for i := range 20 {
			ts := start.Add(time.Duration(i) * 15 * time.Second)
			md := map[string]string{"flavor.name": "m1.small", "host": "compute-1"}
			out = append(out,
				sample.Sample{Name: "cpu", Type: sample.Cumulative, Unit: "ns", Volume: float64(r*1e9 + i*1e7),
					ResourceID: fmt.Sprintf("vm-%d", r), ProjectID: "p1", UserID: "u1", Timestamp: ts, Metadata: md},
				sample.Sample{Name: "memory.usage", Type: sample.Gauge, Unit: "MB", Volume: float64(r*100+i) + 0.25,
					ResourceID: fmt.Sprintf("vm-%d", r), ProjectID: "p1", Timestamp: ts, Metadata: md})
		}
	}
	return out
}

type promResult struct {
	Metric map[string]string `json:"metric"`
	Values [][2]any          `json:"values"`
	Value  [2]any            `json:"value"`
}

func query(t *testing.T, base, q string, at time.Time) []promResult {
	t.Helper()
	u := base + "/api/v1/query?" + url.Values{"query": {q}, "time": {strconv.FormatInt(at.Unix(), 10)}}.Encode()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promResult `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "success", body.Status, body.Error)
	return body.Data.Result
}

// checkBack queries every written sample back and compares values, times
// and labels.
func checkBack(t *testing.T, base string, in []sample.Sample, at time.Time) {
	t.Helper()
	for _, tc := range []struct {
		q    string
		meta map[string]string
	}{
		{`cpu[30m]`, map[string]string{"__name__": "cpu", "type": "cumulative", "unit": "ns", "user_id": "u1"}},
		{`memory_usage[30m]`, map[string]string{"__name__": "memory_usage", "type": "gauge", "unit": "MB"}},
	} {
		res := query(t, base, tc.q, at)
		require.Len(t, res, 3, tc.q)
		for _, r := range res {
			for k, v := range tc.meta {
				require.Equal(t, v, r.Metric[k], "%s label %s", tc.q, k)
			}
			require.Equal(t, "m1.small", r.Metric["flavor_name"])
			require.Equal(t, "p1", r.Metric["project_id"])
			require.NotContains(t, r.Metric, "host", "only the chosen metadata keys are labels")
			var want []sample.Sample
			for _, s := range in {
				if metricName(s.Name) == r.Metric["__name__"] && s.ResourceID == r.Metric["resource_id"] {
					want = append(want, s)
				}
			}
			require.Len(t, r.Values, len(want), "%s %s", tc.q, r.Metric["resource_id"])
			for i, v := range r.Values {
				require.InDelta(t, float64(want[i].Timestamp.UnixMilli())/1000, v[0].(float64), 0.0005)
				f, err := strconv.ParseFloat(v[1].(string), 64)
				require.NoError(t, err)
				require.Equal(t, want[i].Volume, f)
			}
		}
	}
}

func metricName(meter string) string {
	if meter == "memory.usage" {
		return "memory_usage"
	}
	return meter
}

func cfg(u string) string {
	return fmt.Sprintf("url = %q\nmetadata_labels = [\"flavor.name\"]\nmax_samples_per_send = 50\n", u)
}

// TestIntegrationPrometheus writes to a real Prometheus 2.42 (Debian) with
// its remote write receiver and reads every sample back with PromQL; a
// sample older than what the series holds is refused (400) and rejected,
// not retried.
func TestIntegrationPrometheus(t *testing.T) {
	peer.Need(t)
	t.Parallel()
	ctx := context.Background()
	prom, err := peer.StartPrometheus(ctx, t.TempDir(), peer.PrometheusOptions{RemoteWriteReceiver: true})
	require.NoError(t, err)
	t.Cleanup(prom.Stop)
	now := time.Now()
	in := fixture(now.Add(-time.Minute))
	c := sdktest.Publisher(t, spec(), cfg(prom.URL+"/api/v1/write"))
	res, err := c.Publish(ctx, &sample.Batch{Samples: in})
	require.NoError(t, err)
	require.Equal(t, base.Accepted, res.Outcome, res.Reason)
	checkBack(t, prom.URL, in, now)

	old := in[0]
	old.Timestamp = old.Timestamp.Add(-time.Minute)
	res, err = c.Publish(ctx, &sample.Batch{Samples: []sample.Sample{old}})
	require.NoError(t, err)
	require.Equal(t, base.Rejected, res.Outcome)
	require.Contains(t, res.Reason, "400")
}

// TestIntegrationVictoriaMetrics writes to a real VictoriaMetrics 1.79
// (Debian) and reads every sample back through its Prometheus API.
func TestIntegrationVictoriaMetrics(t *testing.T) {
	peer.Need(t)
	t.Parallel()
	ctx := context.Background()
	vm, err := peer.StartVictoriaMetrics(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(vm.Stop)
	now := time.Now()
	in := fixture(now.Add(-time.Minute))
	c := sdktest.Publisher(t, spec(), cfg(vm.URL+"/api/v1/write"))
	res, err := c.Publish(ctx, &sample.Batch{Samples: in})
	require.NoError(t, err)
	require.Equal(t, base.Accepted, res.Outcome, res.Reason)
	// The first series of a fresh VictoriaMetrics can take ~15 s to be
	// searchable, even after a flush (see shared/peers.md).
	deadline := time.Now().Add(40 * time.Second)
	for {
		require.NoError(t, vm.Flush(ctx))
		if len(query(t, vm.URL, `memory_usage[30m]`, now)) == 3 && len(query(t, vm.URL, `cpu[30m]`, now)) == 3 {
			break
		}
		require.True(t, time.Now().Before(deadline), "samples not searchable in VictoriaMetrics")
		time.Sleep(500 * time.Millisecond)
	}
	checkBack(t, vm.URL, in, now)
}

// TestRetryAndReject: 5xx and 429 are retried and end in Retry; another
// 4xx rejects at once; nothing listening is a Retry.
func TestRetryAndReject(t *testing.T) {
	t.Parallel()
	var calls int
	var headers []http.Header
	codes := []int{503, 429, 500, 400}
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		headers = append(headers, r.Header.Clone())
		code := codes[min(calls, len(codes)-1)]
		calls++
		w.WriteHeader(code)
	})
	c := sdktest.Publisher(t, spec(), fmt.Sprintf("url = %q\nmax_retries = 2\n", srv))
	in := fixture(time.Now())[:3]
	res, err := c.Publish(context.Background(), &sample.Batch{Samples: in})
	require.NoError(t, err)
	require.Equal(t, base.Retry, res.Outcome, "three 5xx/429 answers: back to the host's queue")
	require.Equal(t, 3, calls)
	res, err = c.Publish(context.Background(), &sample.Batch{Samples: in})
	require.NoError(t, err)
	require.Equal(t, base.Rejected, res.Outcome, "400 is permanent")
	require.Equal(t, 4, calls)
	for _, h := range headers {
		require.Equal(t, "snappy", h.Get("Content-Encoding"))
		require.Equal(t, "application/x-protobuf", h.Get("Content-Type"))
		require.Equal(t, "0.1.0", h.Get("X-Prometheus-Remote-Write-Version"))
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	down := sdktest.Publisher(t, spec(), fmt.Sprintf("url = \"http://%s/api/v1/write\"\nmax_retries = 0\n", addr))
	res, err = down.Publish(context.Background(), &sample.Batch{Samples: in})
	require.NoError(t, err)
	require.Equal(t, base.Retry, res.Outcome)
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		`url = "ftp://x/api/v1/write"`,
		`url = "http://u:p@127.0.0.1:9090/api/v1/write"`,
		"url = \"http://127.0.0.1:9090/api/v1/write\"\nmetadata_labels = [\"type\"]",
		"url = \"http://127.0.0.1:9090/api/v1/write\"\nmax_samples_per_send = 0",
		"url = \"http://127.0.0.1:9090/api/v1/write\"\ntimeout = \"1y\"",
	} {
		p := sdktest.Start(t, spec().Info(), spec().Register())
		require.True(t, p.Configure(t, bad).HasErrors(), bad)
	}
}

func TestExample(t *testing.T) {
	t.Parallel()
	sp := spec()
	sdktest.CheckExample(t, "example.hcl", sp.Info(), sp.Register())
}
