package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/altimeter/altimeter/sdk/sample"
)

// udpCollectorTmpl is a second agent reading Ceilometer's udp publisher
// format on a UDP socket, checking signatures, into its store.
const udpCollectorTmpl = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}

listener "socket" "collector" {
  udp              = %q
  format           = "msgpack"
  secret_file      = %q
  read_buffer_size = 4194304
  batch_timeout    = "20ms"
  sinks            = ["store"]
}

sink "store" {
  publish "store" {}
}
`

// TestIntegrationUDPPublisherToSocket: socket listener -> udp publisher ->
// the socket listener (format msgpack) of a second agent -> its store.
// Every sample is stored once with its signature checked; a forged and an
// unsigned datagram sent straight to the collector are counted and never
// stored.
func TestIntegrationUDPPublisherToSocket(t *testing.T) {
	skipShort(t)
	secret := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secret, []byte("s3cr3t\n"), 0o600))
	udpAddr := freeUDPAddr(t)
	collector := startAgent(t, fmt.Sprintf(udpCollectorTmpl, udpAddr, secret))
	waitFor(t, 20*time.Second, "collector's udp socket bound", func() bool { return udpBound(t, udpAddr) })
	port := freePort(t)
	fwd := startAgent(t, forwarder(port, 1000, fmt.Sprintf(`  publish "udp" {
    address               = %q
    telemetry_secret_file = %q
  }`, udpAddr, secret)))
	waitTCP(t, port, "sender's socket listener bound")

	const (
		n     = 2000
		chunk = 250 // datagrams in flight at once stay well inside the receive buffer
		lst   = `plugin="listener.socket.collector"`
		pub   = `publisher="publisher.udp.out"`
	)
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	for c := 0; c < n; c += chunk {
		var lines strings.Builder
		for i := c; i < c+chunk; i++ {
			fmt.Fprintf(&lines, "udp,resource_id=r%d,project_id=p1 load=%d %d\n", i%10, i, start.Add(time.Duration(i)*time.Millisecond).UnixNano())
		}
		send(t, port, lines.String())
		waitFor(t, 30*time.Second, fmt.Sprintf("%d datagrams read by the collector", c+chunk), func() bool {
			return metric(collector.metrics(), `altimeter_plugin_events_total{event="udp_datagrams",`+lst+`}`) >= float64(c+chunk)
		})
	}
	admin := &client{t: t, base: "http://" + collector.api, token: collector.adminToken()}
	waitFor(t, 30*time.Second, "all stored by the collector", func() bool { return len(admin.allSamples("udp.load")) >= n })
	m := fwd.metrics()
	require.Equal(t, float64(n), metric(m, `altimeter_publisher_out_samples_total{`+pub+`}`))
	require.Equal(t, float64(n), metric(m, `altimeter_plugin_events_total{event="sent",plugin="publisher.udp.out"}`))

	// A forged datagram (signed with another secret) and an unsigned one.
	forged := func(name, key string) []byte {
		s := sample.Sample{Name: name, Type: sample.Gauge, Volume: 1, ResourceID: "r0", ProjectID: "p1", Timestamp: start}
		msg := sample.MeteringMessage(&s, key)
		msg[sample.CeilometerVolume] = 1.0
		if key != "" {
			msg[sample.CeilometerSignature] = sample.ComputeSignature(msg, key)
		}
		raw, err := msgpack.Marshal(msg)
		require.NoError(t, err)
		return raw
	}
	conn, err := net.Dial("udp", udpAddr)
	require.NoError(t, err)
	defer conn.Close()
	for _, d := range [][]byte{forged("udp.forged", "not-the-secret"), forged("udp.unsigned", "")} {
		_, err := conn.Write(d)
		require.NoError(t, err)
	}
	waitFor(t, 20*time.Second, "forged and unsigned datagrams counted", func() bool {
		m := collector.metrics()
		return metric(m, `altimeter_plugin_events_total{event="bad_signatures",`+lst+`}`) == 1 &&
			metric(m, `altimeter_plugin_events_total{event="unsigned",`+lst+`}`) == 1
	})

	got := admin.allSamples("udp.load")
	require.Len(t, got, n, "each sample once")
	seen := map[string]bool{}
	for _, s := range got {
		require.False(t, seen[s.ID], "duplicate %s", s.ID)
		seen[s.ID] = true
	}
	require.Empty(t, admin.allSamples("udp.forged"), "a forged sample is never stored")
	require.Empty(t, admin.allSamples("udp.unsigned"), "an unsigned sample is never stored")
	m = collector.metrics()
	require.Equal(t, float64(n+2), metric(m, `altimeter_plugin_events_total{event="udp_datagrams",`+lst+`}`))
	require.Zero(t, metric(m, `altimeter_plugin_events_total{event="udp_kernel_drops",`+lst+`}`))
	require.Zero(t, metric(m, `altimeter_plugin_events_total{event="bad_lines",`+lst+`}`))
	require.Equal(t, float64(n), metric(m, `altimeter_plugin_events_total{event="samples_accepted",`+lst+`}`))
}
