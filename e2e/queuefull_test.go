package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
)

// TestIntegrationQueueDiskFull: the http publisher's disk queue lives on a
// small tmpfs (data_dir/queues is a symlink to it) and its destination is
// down, so the queue only grows. A filler leaves room for a few thousand
// samples: when the file system is full the queue refuses batches (counted
// by reason, logged once), the listener is answered Retry and holds its
// samples (pushback), and nothing it was told is accepted is lost. When
// the filler goes, writing resumes by itself; when the destination comes
// back, every sample is delivered, each once.
func TestIntegrationQueueDiskFull(t *testing.T) {
	skipShort(t)
	mnt := peer.Tmpfs(t, 16)
	recv := startAgent(t, fmt.Sprintf(receiverTmpl, freePort(t)))
	token := recv.path("admin-token")
	require.NoError(t, recv.cmd.Process.Signal(syscall.SIGTERM))
	<-recv.exited

	data := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.MkdirAll(data, 0o755))
	require.NoError(t, os.Mkdir(filepath.Join(mnt, "queues"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(mnt, "queues"), filepath.Join(data, "queues")))
	filler := peer.Fill(t, mnt, peer.Free(t, mnt)-512<<10) // 512 KiB left for the queue
	port := freePort(t)
	a := startAgentData(t, forwarder(port, 500, httpPublish(recv.api, token, `    queue {
      max_bytes = "1GiB"
      full      = "block"
    }`)), data)
	waitTCP(t, port, "socket listener bound")

	const (
		n   = 20000
		pub = `publisher="publisher.http.out"`
		lst = `listener="listener.socket.in"`
	)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second).UnixNano()
	var lines strings.Builder
	for i := range n {
		fmt.Fprintf(&lines, "full,resource_id=r%d load=%d %d\n", i%10, i, t0+int64(i)*1e6)
	}
	send(t, port, lines.String())

	// The file system fills: the queue refuses, the listener retries.
	accepted := func() float64 {
		return metric(a.metrics(), `altimeter_plugin_events_total{event="samples_accepted",plugin="listener.socket.in"}`)
	}
	waitFor(t, 45*time.Second, "the queue refusing writes", func() bool {
		m := a.metrics()
		return metric(m, `altimeter_publisher_queue_refusals_total{`+pub+`,reason="io"}`) >= 3 &&
			metric(m, `altimeter_listener_deliveries_total{`+lst+`,outcome="retry"}`) >= 3
	})
	// In one scrape, once the last ack has reached the listener: what it
	// counts as accepted is exactly what the queue holds.
	var m string
	waitFor(t, 20*time.Second, "the listener's accepted count equal to the queue's", func() bool {
		m = a.metrics()
		return metric(m, `altimeter_plugin_events_total{event="samples_accepted",plugin="listener.socket.in"}`) ==
			metric(m, `altimeter_publisher_queue_samples{`+pub+`}`)
	})
	held := metric(m, `altimeter_publisher_queue_samples{`+pub+`}`)
	require.Positive(t, held, "the queue took what fitted")
	require.Less(t, held, float64(n), "the queue is full before the end")
	require.Equal(t, held, metric(m, `altimeter_publisher_in_samples_total{`+pub+`}`), "accepted = queued: nothing delivered, nothing lost")
	require.Zero(t, metric(m, `altimeter_publisher_dropped_samples_total{`+pub+`}`))
	warnings := strings.Count(a.log.String(), "cannot write to the queue; refusing batches")
	require.GreaterOrEqual(t, warnings, 1)
	require.Less(t, float64(warnings), metric(m, `altimeter_publisher_queue_refusals_total{`+pub+`,reason="io"}`), "one warning per episode, not per refusal")
	require.Contains(t, a.log.String(), "no space left on device")
	q := a.plugins()["publisher.http.out"].Queue
	require.NotNil(t, q)
	require.Positive(t, q.Samples)
	require.Less(t, q.Samples, n)

	// Space is back: the listener's retries are accepted, without help.
	require.NoError(t, os.Remove(filler))
	waitFor(t, 45*time.Second, "every sample accepted into the queue", func() bool { return accepted() == n })
	m = a.metrics()
	require.Equal(t, float64(n), metric(m, `altimeter_publisher_queue_samples{`+pub+`}`))
	require.Zero(t, metric(m, `altimeter_publisher_dropped_samples_total{`+pub+`}`))

	// The destination is back: everything delivered, once.
	recv.restart()
	waitFor(t, 60*time.Second, "queue drained", func() bool {
		return metric(a.metrics(), `altimeter_publisher_queue_samples{`+pub+`}`) == 0
	})
	admin := &client{t: t, base: "http://" + recv.api, token: recv.adminToken()}
	got := admin.allSamples("full.load")
	require.Len(t, got, n, "every accepted sample delivered, once")
	seen := map[string]bool{}
	for _, s := range got {
		require.False(t, seen[s.ID], "duplicate %s", s.ID)
		seen[s.ID] = true
	}
}
