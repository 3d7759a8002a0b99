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
)

// receiverTmpl is a store member: only its API matters (the http
// publisher posts to it); the socket listener gives it a pipeline.
const receiverTmpl = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}

listener "socket" "unused" {
  tcp   = "127.0.0.1:%d"
  sinks = ["store"]
}

sink "store" {
  publish "store" {}
}
`

// TestIntegrationDiskQueue: the http publisher's destination is down while
// samples are accepted; the agent is SIGKILLed and restarted; once the
// destination is up, every accepted sample is delivered, each once (the
// receiver keeps one sample per message id, and counts them).
func TestIntegrationDiskQueue(t *testing.T) {
	skipShort(t)
	recv := startAgent(t, fmt.Sprintf(receiverTmpl, freePort(t)))
	token := recv.path("admin-token")
	// The destination goes down before the sender starts.
	require.NoError(t, recv.cmd.Process.Signal(syscall.SIGTERM))
	<-recv.exited

	port := freePort(t)
	a := startAgent(t, forwarder(port, 1000, httpPublish(recv.api, token, "")))
	waitTCP(t, port, "socket listener bound")
	const n = 3000
	// Recent timestamps: the receiver refuses samples older than raw
	// retention (400, counted as rejected by the publisher).
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second).UnixNano()
	var lines strings.Builder
	for i := range n {
		fmt.Fprintf(&lines, "queue,resource_id=r%d load=%d %d\n", i%10, i, t0+int64(i)*1e6)
	}
	send(t, port, lines.String())
	const pub = `publisher="publisher.http.out"`
	// The queue's worker counts a failed attempt after the dial is
	// refused, which can come after the last batch was queued.
	waitFor(t, 20*time.Second, "samples in the disk queue and a failed attempt", func() bool {
		m := a.metrics()
		return metric(m, `altimeter_publisher_in_samples_total{`+pub+`}`) == n &&
			metric(m, `altimeter_publisher_failures_total{`+pub+`}`) > 0
	})
	m := a.metrics()
	require.Equal(t, float64(n), metric(m, `altimeter_publisher_queue_samples{`+pub+`}`))
	require.Positive(t, metric(m, `altimeter_publisher_queue_bytes{`+pub+`}`))
	require.Positive(t, metric(m, `altimeter_publisher_failures_total{`+pub+`}`), "the destination is down")
	require.Zero(t, metric(m, `altimeter_publisher_dropped_samples_total{`+pub+`}`))
	segs, err := filepath.Glob(a.path("queues/out/http/*.seg"))
	require.NoError(t, err)
	require.NotEmpty(t, segs)
	// /v2/plugins shows the same depth.
	q := a.plugins()["publisher.http.out"].Queue
	require.NotNil(t, q, "/v2/plugins shows the publisher's queue")
	require.Equal(t, "disk", q.Type)
	require.Equal(t, n, q.Samples)
	require.Equal(t, metric(m, `altimeter_publisher_queue_bytes{`+pub+`}`), float64(q.Bytes))
	require.Positive(t, q.OldestAgeSeconds)
	require.Equal(t, int64(1<<30), q.MaxBytes)
	require.Equal(t, "drop_oldest", q.Full)
	require.Nil(t, a.plugins()["listener.socket.in"].Queue, "only publishers have a queue")

	// SIGKILL: nothing is flushed or drained.
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGKILL))
	a.restart()
	m = a.metrics()
	require.Equal(t, float64(n), metric(m, `altimeter_publisher_replayed_samples_total{`+pub+`}`))
	require.Positive(t, metric(m, `altimeter_publisher_queue_oldest_age_seconds{`+pub+`}`))

	recv.restart()
	admin := &client{t: t, base: "http://" + recv.api, token: recv.adminToken()}
	waitFor(t, 60*time.Second, "queue drained", func() bool {
		return metric(a.metrics(), `altimeter_publisher_queue_samples{`+pub+`}`) == 0
	})
	require.Zero(t, a.plugins()["publisher.http.out"].Queue.Samples)
	got := admin.allSamples("queue.load")
	require.Len(t, got, n, "every accepted sample delivered, once")
	seen := map[string]bool{}
	for _, s := range got {
		require.False(t, seen[s.ID], "duplicate %s", s.ID)
		seen[s.ID] = true
	}
	require.Equal(t, float64(n), metric(a.metrics(), `altimeter_publisher_out_samples_total{`+pub+`}`))
	// Delivered segments are removed (the open one stays).
	segs, err = filepath.Glob(a.path("queues/out/http/*.seg"))
	require.NoError(t, err)
	require.LessOrEqual(t, len(segs), 1)
	_, err = os.Stat(a.path("queues/out/http/cursor"))
	require.NoError(t, err)
}

// httpPublish is the publish block of an http publisher posting to the
// agent at api with the token in tokenFile, without retries (its disk
// queue holds what is not delivered); queue is an optional queue block.
func httpPublish(api, tokenFile, queue string) string {
	return fmt.Sprintf(`  publish "http" {
    url         = "http://%s"
    token_file  = %q
    timeout     = "2s"
    max_retries = 0
%s
  }`, api, tokenFile, queue)
}

// TestIntegrationHTTPTimeoutRetry (issue 13): the receiving agent is
// SIGSTOPped, so the http publisher's posts reach its socket but time out
// unanswered; the publisher retries from its queue. When the receiver
// resumes, it finds the timed-out posts' connections closed (their
// requests end as 499, or are stored and then deduplicated by message_id
// when the retry comes) and serves the retry: every sample is stored
// exactly once.
func TestIntegrationHTTPTimeoutRetry(t *testing.T) {
	skipShort(t)
	recv := startAgent(t, fmt.Sprintf(receiverTmpl, freePort(t)))
	token := recv.path("admin-token")
	admin := &client{t: t, base: "http://" + recv.api, token: recv.adminToken()}
	port := freePort(t)
	a := startAgent(t, forwarder(port, 1000, httpPublish(recv.api, token, "")))
	waitTCP(t, port, "socket listener bound")
	const pub = `publisher="publisher.http.out"`
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second).UnixNano()
	lines := func(from, to int) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "retry,resource_id=r%d load=%d %d\n", i%10, i, t0+int64(i)*1e6)
		}
		return b.String()
	}
	send(t, port, lines(0, 500))
	waitFor(t, 30*time.Second, "the first part delivered", func() bool {
		return metric(a.metrics(), `altimeter_publisher_out_samples_total{`+pub+`}`) == 500
	})

	require.NoError(t, recv.cmd.Process.Signal(syscall.SIGSTOP))
	stopped := true
	t.Cleanup(func() {
		if stopped {
			_ = recv.cmd.Process.Signal(syscall.SIGCONT)
		}
	})
	failures := metric(a.metrics(), `altimeter_publisher_failures_total{`+pub+`}`)
	send(t, port, lines(500, 1500))
	waitFor(t, 60*time.Second, "posts timed out and retried", func() bool {
		return metric(a.metrics(), `altimeter_publisher_failures_total{`+pub+`}`) >= failures+2
	})
	require.NoError(t, recv.cmd.Process.Signal(syscall.SIGCONT))
	stopped = false

	waitFor(t, 90*time.Second, "queue drained", func() bool {
		return metric(a.metrics(), `altimeter_publisher_queue_samples{`+pub+`}`) == 0
	})
	got := admin.allSamples("retry.load")
	require.Len(t, got, 1500, "every sample stored once")
	seen := map[string]bool{}
	for _, s := range got {
		require.False(t, seen[s.ID], "duplicate %s", s.ID)
		seen[s.ID] = true
	}
	m := a.metrics()
	require.Zero(t, metric(m, `altimeter_publisher_dropped_samples_total{`+pub+`}`))
	require.Zero(t, metric(m, `altimeter_publisher_rejected_samples_total{`+pub+`}`))
	t.Logf("publisher failures while the receiver was stopped: %.0f; the receiver's answers: %d 201, %d 499",
		metric(m, `altimeter_publisher_failures_total{`+pub+`}`)-failures,
		strings.Count(recv.log.String(), "path=/v2/meters/retry.load status=201"),
		strings.Count(recv.log.String(), "path=/v2/meters/retry.load status=499"))
}
