package e2e

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const socketTmpl = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}

listener "socket" "in" {
  tcp              = "{{TCP}}"
  udp              = "{{UDP}}"
  read_buffer_size = 65536
  batch_timeout    = "20ms"
  sinks            = ["in"]
}

sink "in" {
  publish "store" {}
}
`

// udpBound reports whether a UDP socket is bound to addr (127.0.0.1:port),
// as /proc/net/udp lists it.
func udpBound(t *testing.T, addr string) bool {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	raw, err := os.ReadFile("/proc/net/udp")
	require.NoError(t, err)
	return strings.Contains(string(raw), fmt.Sprintf(" 0100007F:%04X ", p))
}

func freeUDPAddr(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	return pc.LocalAddr().String()
}

// TestIntegrationSocketToStore runs the real agent with the socket listener
// in front of the store. An Influx line sent twice is stored once (it has
// no message id, so the store keys it by series and timestamp) and counted
// once by statistics; and every UDP datagram sent is either stored or
// counted as a kernel drop in /metrics.
func TestIntegrationSocketToStore(t *testing.T) {
	skipShort(t)
	tcp := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	udp := freeUDPAddr(t)
	a := startAgent(t, strings.NewReplacer("{{TCP}}", tcp, "{{UDP}}", udp).Replace(socketTmpl))
	admin := &client{t: t, base: "http://" + a.api, token: a.adminToken()}
	const plugin = `plugin="listener.socket.in"`
	counter := func(event string) float64 {
		return metric(a.metrics(), `altimeter_plugin_events_total{event="`+event+`",`+plugin+`}`)
	}
	// The agent answers /healthz before its listeners have bound.
	waitFor(t, 20*time.Second, "socket listener bound", func() bool {
		c, err := net.Dial("tcp", tcp)
		if err != nil {
			return false
		}
		_ = c.Close()
		return udpBound(t, udp)
	})

	t.Run("a line sent twice is stored once", func(t *testing.T) {
		ts := time.Now().Add(-time.Minute).Truncate(time.Second)
		line := fmt.Sprintf("dedup.m,resource_id=r-dedup,project_id=p-dedup value=5 %d\n", ts.UnixNano())
		for range 2 { // two connections, as a retrying sender would
			c, err := net.Dial("tcp", tcp)
			require.NoError(t, err)
			_, err = c.Write([]byte(line))
			require.NoError(t, err)
			require.NoError(t, c.Close())
		}
		waitFor(t, 20*time.Second, "both lines accepted", func() bool { return counter("samples_accepted") >= 2 })
		rows := admin.list("/v2/meters/dedup.m")
		require.Len(t, rows, 1, "the repeated line is stored once")
		require.Equal(t, 5.0, rows[0]["counter_volume"])
		id := rows[0]["message_id"].(string)
		require.Len(t, id, 36)
		require.Equal(t, byte('8'), id[14], "the store's canonical id (UUID version 8) from series and timestamp: %s", id)
		code, body := admin.do("GET", "/v2/samples/"+id, nil)
		require.Equal(t, 200, code, string(body))
		stats := admin.list("/v2/meters/dedup.m/statistics")
		require.Len(t, stats, 1)
		require.Equal(t, 1.0, stats[0]["count"], "statistics count it once")
	})

	t.Run("udp datagrams are stored or counted as kernel drops", func(t *testing.T) {
		const sent = 20000
		c, err := net.Dial("udp", udp)
		require.NoError(t, err)
		defer c.Close()
		base := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
		for i := range sent {
			_, err := fmt.Fprintf(c, "udp.m,resource_id=r-udp value=%d %d\n", i, base.Add(time.Duration(i)*time.Microsecond).UnixNano())
			require.NoError(t, err)
		}
		var read, dropped float64
		waitFor(t, 60*time.Second, "every datagram read or dropped", func() bool {
			read, dropped = counter("udp_datagrams"), counter("udp_kernel_drops")
			return read+dropped == sent
		})
		t.Logf("sent %d datagrams: %.0f read, %.0f dropped by the kernel (65536-byte receive buffer)", sent, read, dropped)
		waitFor(t, 60*time.Second, "every datagram read stored", func() bool {
			stats := admin.list("/v2/meters/udp.m/statistics")
			return len(stats) == 1 && stats[0]["count"] == read
		})
	})
}
