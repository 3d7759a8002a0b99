package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
)

// collectorTmpl is a second agent consuming what the notifier publisher
// sends: Ceilometer's metering topic on the ceilometer exchange, signed
// samples, into its store.
const collectorTmpl = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}

listener "oslo" "metering" {
  transport_urls        = [%q]
  exchanges             = ["ceilometer"]
  topics                = ["metering"]
  priorities            = ["sample"]
  telemetry_secret_file = %q
  batch_timeout         = "50ms"
  sinks                 = ["store"]
}

sink "store" {
  publish "store" {}
}
`

// TestIntegrationNotifierToOslo: socket listener -> notifier publisher ->
// RabbitMQ -> the oslo listener of a second agent -> its store: every
// sample stored once, with its signature checked on the way.
func TestIntegrationNotifierToOslo(t *testing.T) {
	skipShort(t)
	r := peer.NeedRabbitMQ(t)
	url := peer.VHost(t, r)
	secret := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secret, []byte("s3cr3t\n"), 0o600))

	collector := startAgent(t, fmt.Sprintf(collectorTmpl, url, secret))
	port := freePort(t)
	fwd := startAgent(t, forwarder(port, 1000, fmt.Sprintf(`  publish "notifier" {
    transport_url         = %q
    telemetry_secret_file = %q
    batch_size            = 200
  }`, url, secret)))
	waitTCP(t, port, "socket listener bound")
	const n = 2000
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	var lines strings.Builder
	for i := range n {
		fmt.Fprintf(&lines, "fwd,resource_id=r%d load=%d %d\n", i%10, i, start.Add(time.Duration(i)*time.Millisecond).UnixNano())
	}
	send(t, port, lines.String())
	const pub = `publisher="publisher.notifier.out"`
	waitFor(t, 30*time.Second, "all published", func() bool {
		return metric(fwd.metrics(), `altimeter_publisher_out_samples_total{`+pub+`}`) == n
	})
	admin := &client{t: t, base: "http://" + collector.api, token: collector.adminToken()}
	waitFor(t, 30*time.Second, "all stored by the collector", func() bool { return len(admin.allSamples("fwd.load")) >= n })
	got := admin.allSamples("fwd.load")
	require.Len(t, got, n, "each sample once")
	m := collector.metrics()
	const lst = `plugin="listener.oslo.metering"`
	require.Equal(t, float64(n), metric(m, `altimeter_plugin_events_total{event="samples_accepted",`+lst+`}`), "signatures verified, nothing dead-lettered")
	require.GreaterOrEqual(t, metric(m, `altimeter_plugin_events_total{event="notifications",`+lst+`}`), float64(n/200), "at most batch_size samples per notification")
}
