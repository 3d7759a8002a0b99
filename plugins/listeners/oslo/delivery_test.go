package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
)

// existsNotice returns a compute.instance.exists notification for instance
// id in a v2 envelope.
func existsNotice(t testing.TB, id string) []byte {
	t.Helper()
	return envelope(t, osloMessage("msg-"+id, "compute.instance.exists", "INFO",
		time.Date(2026, 11, 22, 3, 1, 30, 123456000, time.UTC), instancePayload(id)))
}

// instancePayload is the payload Nova sends with compute.instance.*
// notifications (legacy format), trimmed of fields no definition reads.
func instancePayload(id string) map[string]any {
	return map[string]any{
		"instance_id":            id,
		"tenant_id":              "p-1",
		"user_id":                "u-1",
		"display_name":           "vm-" + id,
		"host":                   "compute-01",
		"node":                   "compute-01.example",
		"instance_type":          "m1.small",
		"instance_type_id":       2,
		"instance_flavor_id":     "2",
		"memory_mb":              2048,
		"vcpus":                  1,
		"root_gb":                20,
		"ephemeral_gb":           0,
		"disk_gb":                20,
		"state":                  "active",
		"state_description":      "",
		"launched_at":            "2026-11-22T03:00:00.000000",
		"created_at":             "2026-11-22 02:59:50+00:00",
		"image_ref_url":          "http://glance/images/img-1",
		"image_meta":             map[string]any{"base_image_ref": "img-1"},
		"availability_zone":      "nova",
		"os_type":                "linux",
		"architecture":           "x86_64",
		"audit_period_beginning": "2026-11-22T02:00:00.000000",
		"audit_period_ending":    "2026-11-22T03:00:00.000000",
		"metadata":               map[string]any{},
	}
}

// TestIntegrationRetryAndReject checks the end-to-end ack against a real
// broker: a delivery the host asks to retry is redelivered, one retried
// more than max_retries times is dead-lettered, and one the host rejects is
// dead-lettered, each with its reason.
func TestIntegrationRetryAndReject(t *testing.T) {
	rmq := peer.NeedRabbitMQ(t)
	url := peer.VHost(t, rmq)
	r := startPlugin(t, fmt.Sprintf(`
transport_urls = [%q]
exchanges      = ["nova"]
priorities     = ["info"]
batch_size     = 1
batch_timeout  = "20ms"
retry_delay    = "20ms"
max_retries    = 2
`, url), nil)
	pub := newPublisher(t, url)
	o := r.impl.Load()

	// Retry once, then accept: the same notification comes back.
	pub.publish(t, "nova", "notifications.info", existsNotice(t, "i-retry"))
	first := r.recv(t, 10*time.Second)
	require.NotEmpty(t, first.batch.Samples)
	require.NoError(t, r.stream.Ack(first.id, base.Retry, "sink busy"))
	again := r.recv(t, 10*time.Second)
	require.Equal(t, resources(first.batch.Samples), resources(again.batch.Samples))
	require.Equal(t, ids(first.batch.Samples), ids(again.batch.Samples), "message ids are stable across redeliveries")
	require.NoError(t, r.stream.Ack(again.id, base.Accepted, ""))
	waitFor(t, "accepted", 5*time.Second, func() bool { return o.stats.notifications.Load() == 1 })
	require.Equal(t, uint64(1), o.stats.retried.Load())

	// Retried past max_retries: dead-lettered.
	pub.publish(t, "nova", "notifications.info", existsNotice(t, "i-stuck"))
	for range 3 {
		g := r.recv(t, 10*time.Second)
		require.Equal(t, []string{"i-stuck"}, resources(g.batch.Samples))
		require.NoError(t, r.stream.Ack(g.id, base.Retry, "sink down"))
	}
	// Rejected: dead-lettered at once.
	pub.publish(t, "nova", "notifications.info", existsNotice(t, "i-bad"))
	g := r.recv(t, 10*time.Second)
	require.Equal(t, []string{"i-bad"}, resources(g.batch.Samples))
	require.NoError(t, r.stream.Ack(g.id, base.Rejected, "unknown meter"))

	dead := readQueue(t, url, "altimeter.dead", 2, 10*time.Second)
	byReason := map[any]string{}
	for _, d := range dead {
		require.Equal(t, "nova", d.Headers[headerExchange])
		require.Equal(t, "notifications.info", d.Headers[headerRoutingKey])
		require.Equal(t, "notifications.info", d.Headers[headerQueue])
		byReason[d.Headers[headerReason]] = d.Headers[headerError].(string)
		if d.Headers[headerReason] == reasonRejected {
			require.Equal(t, string(existsNotice(t, "i-bad")), string(d.Body), "the original body is kept")
		}
	}
	require.Contains(t, byReason[reasonRetryLimit], "sink down")
	require.Contains(t, byReason[reasonRejected], "unknown meter")
	c := o.Counters()
	require.Equal(t, uint64(1), c["dead_lettered_retry_limit"])
	require.Equal(t, uint64(1), c["dead_lettered_rejected"])
	waitFor(t, "source queue drained", 5*time.Second, func() bool { return queueLen(t, url, "notifications.info") == 0 })

	// Prefetch bounds what the listener holds while the host has not
	// answered: 5 deliveries of 30, the rest stays in the queue.
	p := startPlugin(t, fmt.Sprintf(`
transport_urls = [%q]
exchanges      = ["glance"]
priorities     = ["info"]
pool           = "prefetch-test"
prefetch       = 5
batch_size     = 1
batch_timeout  = "10ms"
max_in_flight  = 64
`, url), nil)
	for i := range 30 {
		pub.publish(t, "glance", "notifications.info", existsNotice(t, fmt.Sprintf("i-p%02d", i)))
	}
	var held []got
	for range 5 {
		held = append(held, p.recv(t, 10*time.Second))
	}
	waitFor(t, "25 left in the queue", 5*time.Second, func() bool { return queueLen(t, url, "prefetch-test") == 25 })
	extra := make(chan got, 1)
	go func() {
		if id, b, err := p.stream.Recv(); err == nil {
			extra <- got{id, b}
		}
	}()
	select {
	case <-extra:
		t.Fatal("a 6th delivery arrived with prefetch = 5 and none answered")
	case <-time.After(300 * time.Millisecond):
	}
	for _, g := range held {
		require.NoError(t, p.stream.Ack(g.id, base.Accepted, ""))
	}
	sixth := <-extra
	require.NoError(t, p.stream.Ack(sixth.id, base.Accepted, ""))
	for range 30 - 6 {
		g := p.recv(t, 10*time.Second)
		require.NoError(t, p.stream.Ack(g.id, base.Accepted, ""))
	}
	waitFor(t, "the rest taken", 10*time.Second, func() bool { return queueLen(t, url, "prefetch-test") == 0 })
}

// TestIntegrationBrokerRestart kills a private broker by PID while
// notifications are being consumed and restarts it on the same port: the
// listener reconnects by itself and every published notification reaches
// the host at least once (unacked deliveries are redelivered; durable
// queues and persistent messages survive the crash).
func TestIntegrationBrokerRestart(t *testing.T) {
	rmq := peer.NeedPrivateRabbitMQ(t)
	url := rmq.URL("")
	// The plugin runs as a user with the permissions its README lists.
	_, err := rmq.Ctl(t.Context(), "add_user", "altimeter", "pw-secret")
	require.NoError(t, err)
	ex := strings.Join(defaultExchanges, "|")
	_, err = rmq.Ctl(t.Context(), "set_permissions", "-p", "/", "altimeter",
		`^(`+ex+`|notifications\..*|altimeter.*)$`, `^(notifications\..*|altimeter.*)$`, `^(`+ex+`|notifications\..*|altimeter.*)$`)
	require.NoError(t, err)
	pluginURL := "amqp://altimeter:pw-secret@" + rmq.Addr + "/%2F"
	r := startPlugin(t, fmt.Sprintf(`
transport_urls      = [%q]
exchanges           = ["nova"]
priorities          = ["info"]
durable             = true
batch_size          = 20
batch_timeout       = "20ms"
prefetch            = 50
reconnect_delay     = "50ms"
reconnect_max_delay = "500ms"
`, pluginURL), nil)
	o := r.impl.Load()

	var (
		mu   sync.Mutex
		seen = map[string]int{}
	)
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
	hostDone := make(chan struct{})
	go func() {
		// The host: accept every delivery, a little slowly, so that
		// some are in flight and unacked when the broker dies.
		defer close(hostDone)
		for {
			id, b, err := r.stream.Recv()
			if err != nil {
				return
			}
			mu.Lock()
			for _, s := range b.Samples {
				seen[s.ResourceID]++
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			_ = r.stream.Ack(id, base.Accepted, "")
		}
	}()

	const perPhase = 150
	pub := newPublisher(t, url)
	for i := range perPhase {
		pub.publish(t, "nova", "notifications.info", existsNotice(t, fmt.Sprintf("i-%03d", i)))
	}
	waitFor(t, "some consumed", 20*time.Second, func() bool { return count() >= 20 })
	require.NoError(t, rmq.Kill())
	require.NoError(t, rmq.Restart(t.Context()))
	waitFor(t, "listener reconnected", 30*time.Second, func() bool {
		return o.stats.reconnects.Load() >= 1 && o.stats.consuming.Load() == 1
	})
	pub = newPublisher(t, url)
	for i := perPhase; i < 2*perPhase; i++ {
		pub.publish(t, "nova", "notifications.info", existsNotice(t, fmt.Sprintf("i-%03d", i)))
	}
	waitFor(t, "every notification seen", 30*time.Second, func() bool { return count() == 2*perPhase })
	mu.Lock()
	for i := range 2 * perPhase {
		require.Positive(t, seen[fmt.Sprintf("i-%03d", i)], "i-%03d", i)
	}
	mu.Unlock()
	waitFor(t, "queue drained", 10*time.Second, func() bool { return queueLen(t, url, "notifications.info") == 0 })
	r.cancel()
	<-hostDone
	logs := r.logs.String()
	require.NotContains(t, logs, "pw-secret", "credentials are never logged")
	require.Equal(t, 1, strings.Count(logs, "connection lost"), "one warning per state change")
	require.Equal(t, 2, strings.Count(logs, "consuming:"))
}

// TestUnreachableBroker checks that a broker that never answers is retried
// with backoff, warned about once, and that Listen ends when ctx is done.
func TestUnreachableBroker(t *testing.T) {
	port, err := peer.FreePort("tcp")
	require.NoError(t, err)
	c := defaultConfig()
	c.TransportURLs = []string{fmt.Sprintf("amqp://user:hunter2@127.0.0.1:%d/", port)}
	c.ReconnectDelay, c.ReconnectMaxDelay = "5ms", "20ms"
	s, err := validate(c)
	require.NoError(t, err)
	logs := &syncBuffer{}
	o := newWithMapper(s, nil, hclog.New(&hclog.LoggerOptions{Output: io.MultiWriter(logs, testLogWriter{t}), Level: hclog.Debug}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- o.Listen(ctx, func(context.Context, sample.Batch) error { return nil })
	}()
	waitFor(t, "several attempts", 10*time.Second, func() bool { return o.stats.connectFails.Load() >= 5 })
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Listen did not return after cancel")
	}
	require.Equal(t, 1, strings.Count(logs.String(), "cannot consume from broker"))
	require.NotContains(t, logs.String(), "hunter2")
	require.Contains(t, logs.String(), fmt.Sprintf("amqp://127.0.0.1:%d/", port))
}

func resources(ss []sample.Sample) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s.ResourceID] {
			seen[s.ResourceID] = true
			out = append(out, s.ResourceID)
		}
	}
	return out
}

func ids(ss []sample.Sample) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.MessageID
	}
	return out
}
