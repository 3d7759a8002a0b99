package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

func startPrometheus(t testing.TB, opt peer.PrometheusOptions) *peer.Prometheus {
	t.Helper()
	peer.Need(t)
	start := time.Now()
	pr, err := peer.StartPrometheus(context.Background(), t.TempDir(), opt)
	require.NoError(t, err)
	t.Logf("prometheus pid %d on %s ready (up has a sample) in %s", pr.PID(), pr.Addr, time.Since(start).Round(time.Millisecond))
	t.Cleanup(pr.Stop)
	return pr
}

// prometheusConfig is example.hcl's pollster block pointed at base, plus two
// definitions Prometheus answers with an error.
func prometheusConfig(base string) string {
	return strings.ReplaceAll(fmt.Sprintf(`
meter "prometheus.target.up" {
  url                   = "BASE/api/v1/query?query=up"
  type                  = "gauge"
  unit                  = "target"
  response_entries_key  = "data.result"
  value_attribute       = "value[1]"
  resource_id_attribute = "metric.instance"
  metadata_fields       = ["metric"]
  metadata_mapping      = { "metric.job" = "job" }
}
meter "prometheus.target.health" {
  url                   = "BASE/api/v1/targets?state=active"
  type                  = "gauge"
  unit                  = "state"
  response_entries_key  = "data.activeTargets"
  value_attribute       = "health"
  value_mapping         = { up = 1, down = 0 }
  default_value         = -1
  resource_id_attribute = "scrapeUrl"
  metadata_fields       = ["labels.job", "lastError"]
}
meter "prometheus.tsdb" {
  url                  = "BASE/api/v1/status/tsdb"
  type                 = "gauge"
  unit                 = "series"
  response_entries_key = "data.headStats"
  resource_id          = "prometheus-local"
  value "prometheus.tsdb.head.series" {
    attribute = "numSeries"
  }
  value "prometheus.tsdb.head.chunks" {
    attribute = "chunkCount"
    unit      = "chunk"
  }
}
meter "prometheus.tsdb.series.{name}" {
  url                  = "BASE/api/v1/status/tsdb"
  type                 = "gauge"
  unit                 = "series"
  response_entries_key = "data"
  value_attribute      = "[seriesCountByMetricName].value"
  resource_id          = "prometheus-local"
}
meter "prometheus.head.series" {
  url             = "BASE/metrics"
  response_format = "text"
  text_pattern    = "(?m)^prometheus_tsdb_head_series (?P<value>\\S+)$"
  type            = "gauge"
  unit            = "series"
  resource_id     = "prometheus-local"
}
meter "missing.path" {
  url             = "BASE/api/v1/no/such/path"
  type            = "gauge"
  unit            = "1"
  value_attribute = "v"
}
meter "bad.query" {
  url                  = "BASE/api/v1/query?query=up%%7B"
  type                 = "gauge"
  unit                 = "1"
  response_entries_key = "data.result"
  value_attribute      = "value[1]"
}
`), "BASE", base)
}

// TestIntegrationPrometheus polls a real Prometheus's HTTP API over real
// gRPC, through discovery, as the host does.
func TestIntegrationPrometheus(t *testing.T) {
	pr := startPrometheus(t, peer.PrometheusOptions{})
	c := sdktest.Pollster(t, spec(), prometheusConfig(pr.URL))
	ctx := t.Context()

	rs, err := c.Discover(ctx, discoveryMethod, "")
	require.NoError(t, err)
	require.Len(t, rs, 7)
	for _, r := range rs {
		require.True(t, strings.HasPrefix(r.Endpoint, pr.URL+"/"), r.Endpoint)
		require.NotContains(t, r.Endpoint, "?", "discovery shows no query strings")
	}

	// The TSDB status may list no series for a moment after the first
	// scrape; poll until every good definition has data.
	var res *pollster.Result
	require.Eventually(t, func() bool {
		res, err = c.Poll(ctx, pollster.Request{Meters: []string{"*"}, Resources: rs})
		if err != nil || len(res.Errors) != 2 {
			return false
		}
		for _, s := range res.Samples {
			if strings.HasPrefix(s.Name, "prometheus.tsdb.series.") {
				return true
			}
		}
		return false
	}, 20*time.Second, 200*time.Millisecond)
	require.NoError(t, err)

	by := map[string][]sample.Sample{}
	for _, s := range res.Samples {
		by[s.Name] = append(by[s.Name], s)
		require.NotEmpty(t, s.MessageID)
		require.Equal(t, "altimeter", s.Source)
	}
	up := by["prometheus.target.up"]
	require.Len(t, up, 1, "one sample per result entry (one self-scrape target)")
	require.Equal(t, pr.Addr, up[0].ResourceID, "resource from metric.instance")
	require.Equal(t, 1.0, up[0].Volume, "value from value[1]")
	require.Equal(t, sample.Gauge, up[0].Type)
	require.Equal(t, "target", up[0].Unit)
	require.Equal(t, map[string]string{"metric.__name__": "up", "metric.instance": pr.Addr, "metric.job": "prometheus", "job": "prometheus"}, up[0].Metadata)

	health := by["prometheus.target.health"]
	require.Len(t, health, 1)
	require.Equal(t, pr.URL+"/metrics", health[0].ResourceID)
	require.Equal(t, 1.0, health[0].Volume, `"up" mapped to 1`)
	require.Equal(t, "prometheus", health[0].Metadata["labels.job"])
	require.Contains(t, health[0].Metadata, "lastError")

	series := by["prometheus.tsdb.head.series"]
	require.Len(t, series, 1)
	require.Equal(t, "prometheus-local", series[0].ResourceID)
	require.Greater(t, series[0].Volume, 10.0)
	require.Len(t, by["prometheus.tsdb.head.chunks"], 1)
	require.Equal(t, "chunk", by["prometheus.tsdb.head.chunks"][0].Unit)
	require.Greater(t, by["prometheus.tsdb.head.chunks"][0].Volume, 0.0)

	text := by["prometheus.head.series"]
	require.Len(t, text, 1)
	require.Greater(t, text[0].Volume, 10.0)

	multi := 0
	for name, ss := range by {
		if rest, ok := strings.CutPrefix(name, "prometheus.tsdb.series."); ok {
			multi++
			require.NotEmpty(t, rest)
			require.Len(t, ss, 1)
			require.GreaterOrEqual(t, ss[0].Volume, 1.0)
		}
	}
	require.Positive(t, multi)

	errs := map[string]string{}
	for _, e := range res.Errors {
		errs[e.ResourceID] = e.Err.Error()
	}
	require.Contains(t, errs["missing.path"], "HTTP 404")
	require.Contains(t, errs["bad.query"], "HTTP 400")
	require.NotContains(t, errs["bad.query"], "query=", "errors show no query strings")

	counters, err := c.Counters(ctx)
	require.NoError(t, err)
	require.Positive(t, counters["http_errors"])
	require.Positive(t, counters["samples"])
	t.Logf("%d samples (%d multi-metric), counters %v", len(res.Samples), multi, counters)
}

// TestIntegrationPrometheusRestart: Prometheus goes away (connection
// refused: one ResourceError per poll, one log line) and comes back on the
// same port (the next poll recovers, one log line).
func TestIntegrationPrometheusRestart(t *testing.T) {
	pr := startPrometheus(t, peer.PrometheusOptions{})
	port, err := strconv.Atoi(pr.Addr[strings.LastIndexByte(pr.Addr, ':')+1:])
	require.NoError(t, err)
	p, logs := build(t, prometheusConfig(pr.URL), nil)
	req := pollster.Request{Resources: []sample.Resource{{ID: "prometheus.target.up"}, {ID: "prometheus.head.series"}}}
	ctx := t.Context()

	ss, err := p.Poll(ctx, req)
	require.NoError(t, err)
	require.Len(t, ss, 2)

	pr.Stop()
	for range 3 {
		ss, err = p.Poll(ctx, req)
		require.Empty(t, ss)
		errs := resourceErrors(t, err)
		require.Len(t, errs, 2)
		require.Contains(t, errs["prometheus.target.up"], "connection refused")
	}
	require.Equal(t, 2, logs.count("definition failing"))
	require.Equal(t, 2, logs.count("state=unreachable"))

	// Same port and data directory: the WAL replays the earlier samples, so
	// `up` answers at once.
	pr2, err := peer.StartPrometheus(ctx, pr.Dir, peer.PrometheusOptions{Port: port})
	require.NoError(t, err)
	t.Cleanup(pr2.Stop)
	require.Equal(t, pr.URL, pr2.URL)
	ss, err = p.Poll(ctx, req)
	require.NoError(t, err)
	require.Len(t, ss, 2)
	require.Equal(t, 2, logs.count("definition recovered"))
	require.Equal(t, 2, logs.count("definition failing"))
	require.EqualValues(t, 6, p.Counters()["request_errors"])
}

// BenchmarkIntegrationPoll polls one definition against a real Prometheus:
// polls per second, and CPU per poll of this process (the pollster) and of
// the Prometheus process.
func BenchmarkIntegrationPoll(b *testing.B) {
	pr := startPrometheus(b, peer.PrometheusOptions{})
	cases := []struct{ name, def string }{
		{"query_up", "prometheus.target.up"},
		{"tsdb_status", "prometheus.tsdb"},
		{"metrics_text", "prometheus.head.series"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			c := decodeConfig(b, prometheusConfig(pr.URL))
			p, err := newPoller(c, nopLogger(), os.Getenv)
			require.NoError(b, err)
			defer p.Close(context.Background())
			req := pollster.Request{Resources: []sample.Resource{{ID: tc.def}}}
			ctx := context.Background()
			if _, err := p.Poll(ctx, req); err != nil { // warm the connection
				b.Fatal(err)
			}
			selfCPU0, peerCPU0 := peer.SelfCPU(), peer.ProcessCPU(pr.PID())
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				ss, err := p.Poll(ctx, req)
				if err != nil || len(ss) == 0 {
					b.Fatalf("poll: %d samples, %v", len(ss), err)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(n/elapsed.Seconds(), "polls/s")
			b.ReportMetric(float64((peer.SelfCPU()-selfCPU0).Microseconds())/n, "cpu-µs/poll")
			b.ReportMetric(float64((peer.ProcessCPU(pr.PID())-peerCPU0).Microseconds())/n, "peer-cpu-µs/poll")
		})
	}
}
