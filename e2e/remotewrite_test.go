package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
)

const remoteWriteTmpl = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}

# One batch in flight: the listener then hands batches over in the order
# of the lines; Prometheus refuses a sample older than its series' newest.
listener "socket" "in" {
  tcp           = "127.0.0.1:%d"
  batch_timeout = "20ms"
  max_in_flight = 1
  sinks         = ["out"]
}

sink "out" {
  publish "prometheus" {
    url         = "%s/api/v1/write"
    timeout     = "2s"
    max_retries = 0
  }
}
`

// promCount is sum(count_over_time(metric[2h])) at now, or -1.
func promCount(t *testing.T, base, metric string) float64 {
	t.Helper()
	q := url.Values{"query": {"sum(count_over_time(" + metric + "[2h]))"}, "time": {strconv.FormatInt(time.Now().Unix(), 10)}}
	resp, err := http.Get(base + "/api/v1/query?" + q.Encode())
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil || len(body.Data.Result) == 0 {
		return -1
	}
	f, _ := strconv.ParseFloat(body.Data.Result[0].Value[1].(string), 64)
	return f
}

// TestIntegrationRemoteWriteOutage (issue 13): Prometheus is stopped for
// two minutes while 200,000 samples flow socket listener -> disk queue ->
// remote write; the agent is SIGKILLed twice during the outage; once
// Prometheus is back (same data, same port) every sample is in it, each
// once, none rejected. It mostly waits out the outage, so it runs beside
// the package's other parallel tests.
func TestIntegrationRemoteWriteOutage(t *testing.T) {
	skipShort(t)
	t.Parallel()
	ctx := context.Background()
	promDir := t.TempDir()
	prom, err := peer.StartPrometheus(ctx, promDir, peer.PrometheusOptions{RemoteWriteReceiver: true})
	require.NoError(t, err)
	t.Cleanup(func() { prom.Stop() })
	_, portStr, _ := net.SplitHostPort(prom.Addr)
	promPort, _ := strconv.Atoi(portStr)

	port := freePort(t)
	a := startAgent(t, fmt.Sprintf(remoteWriteTmpl, port, prom.URL))
	waitTCP(t, port, "socket listener bound")
	const (
		resources, points = 200, 1000 // 200,000 samples, 1 s apart per series
		outage            = 2 * time.Minute
	)
	start := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	chunk := func(from, to int) string {
		var b strings.Builder
		for p := from; p < to; p++ {
			ts := start.Add(time.Duration(p) * time.Second).UnixNano()
			for r := range resources {
				fmt.Fprintf(&b, "rw,resource_id=r%02d load=%d %d\n", r, p, ts)
			}
		}
		return b.String()
	}
	const pub = `publisher="publisher.prometheus.out"`
	queued := func() float64 { return metric(a.metrics(), `altimeter_publisher_in_samples_total{`+pub+`}`) }

	// A first part is delivered while Prometheus is up.
	send(t, port, chunk(0, 100))
	waitFor(t, 30*time.Second, "first part written", func() bool { return promCount(t, prom.URL, "rw_load") == 100*resources })

	prom.Stop()
	down := time.Now()
	send(t, port, chunk(100, 400))
	waitFor(t, 30*time.Second, "second part queued", func() bool { return queued() == 400*resources })
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGKILL))
	a.restart()
	waitTCP(t, port, "socket listener bound again")
	send(t, port, chunk(400, 1000))
	waitFor(t, 30*time.Second, "third part queued", func() bool { return queued() == 600*resources })
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGKILL))
	a.restart()
	m := a.metrics()
	require.Equal(t, float64(900*resources), metric(m, `altimeter_publisher_replayed_samples_total{`+pub+`}`), "everything queued during the outage survived two SIGKILLs")
	time.Sleep(time.Until(down.Add(outage))) // the outage lasts its two minutes

	prom2, err := peer.StartPrometheus(ctx, promDir, peer.PrometheusOptions{Port: promPort, RemoteWriteReceiver: true})
	require.NoError(t, err)
	t.Cleanup(func() { prom2.Stop() })
	waitFor(t, 90*time.Second, "queue drained into Prometheus", func() bool {
		return metric(a.metrics(), `altimeter_publisher_queue_samples{`+pub+`}`) == 0
	})
	require.Equal(t, float64(resources*points), promCount(t, prom2.URL, "rw_load"), "every sample, once")
	m = a.metrics()
	require.Equal(t, float64(900*resources), metric(m, `altimeter_publisher_out_samples_total{`+pub+`}`))
	require.Zero(t, metric(m, `altimeter_publisher_rejected_samples_total{`+pub+`}`))
	require.Zero(t, metric(m, `altimeter_publisher_dropped_samples_total{`+pub+`}`))
}
