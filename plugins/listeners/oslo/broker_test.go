package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/listener"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// running is the plugin served over real gRPC by sdktest, with a handle on
// the instance for its counters.
type running struct {
	stream *listener.Stream
	impl   atomic.Pointer[oslo]
	cancel context.CancelFunc
	logs   *syncBuffer // everything the plugin logged
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startPlugin configures the plugin from src and opens its stream. When m
// is not nil it replaces the mapper built from the config.
func startPlugin(t *testing.T, src string, m mapper) *running {
	t.Helper()
	r := &running{logs: &syncBuffer{}}
	sp := spec()
	sp.New = func(c config, _ hclog.Logger) (listener.Listener, error) {
		log := hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Debug,
			Output: io.MultiWriter(r.logs, testLogWriter{t})})
		var (
			o   *oslo
			err error
		)
		if m == nil {
			o, err = newOslo(c, log)
		} else {
			var s *settings
			if s, err = validate(c); err == nil {
				o = newWithMapper(s, m, log)
			}
		}
		if err == nil {
			r.impl.Store(o)
		}
		return o, err
	}
	client := sdktest.Listener(t, sp, src)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r.cancel = cancel
	stream, err := client.Listen(ctx)
	require.NoError(t, err)
	r.stream = stream
	waitFor(t, "plugin consuming", 30*time.Second, func() bool {
		o := r.impl.Load()
		return o != nil && o.stats.consuming.Load() > 0
	})
	return r
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// got is one delivery received from the plugin.
type got struct {
	id    uint64
	batch sample.Batch
}

// recv waits up to timeout for the next delivery (not yet acked).
func (r *running) recv(t *testing.T, timeout time.Duration) got {
	t.Helper()
	ch := make(chan got, 1)
	errc := make(chan error, 1)
	go func() {
		id, b, err := r.stream.Recv()
		if err != nil {
			errc <- err
			return
		}
		ch <- got{id, b}
	}()
	select {
	case g := <-ch:
		return g
	case err := <-errc:
		t.Fatalf("recv: %v", err)
	case <-time.After(timeout):
		t.Fatalf("no delivery within %s", timeout)
	}
	return got{}
}

// collect receives and accepts deliveries until done says it has enough.
func (r *running) collect(t *testing.T, timeout time.Duration, done func(samples []sample.Sample, events []sample.Event) bool) ([]sample.Sample, []sample.Event) {
	t.Helper()
	var (
		samples []sample.Sample
		events  []sample.Event
	)
	deadline := time.Now().Add(timeout)
	for !done(samples, events) {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("timed out: got %d samples, %d events", len(samples), len(events))
		}
		g := r.recv(t, left)
		samples = append(samples, g.batch.Samples...)
		events = append(events, g.batch.Events...)
		require.NoError(t, r.stream.Ack(g.id, base.Accepted, ""))
	}
	return samples, events
}

// publisher publishes to a broker with publisher confirms.
type publisher struct {
	conn *amqp.Connection
	ch   *amqp.Channel
}

func newPublisher(t testing.TB, url string) *publisher {
	t.Helper()
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.Confirm(false))
	return &publisher{conn: conn, ch: ch}
}

// publish sends body to exchange with key, as oslo.messaging does
// (JSON, utf-8, persistent when durable), and waits for the confirm.
func (p *publisher) publish(t testing.TB, exchange, key string, body []byte) {
	t.Helper()
	require.NoError(t, p.tryPublish(context.Background(), exchange, key, body))
}

func (p *publisher) tryPublish(ctx context.Context, exchange, key string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false, amqp.Publishing{
		ContentType: "application/json", ContentEncoding: "utf-8", DeliveryMode: amqp.Persistent, Body: body,
	})
	if err != nil {
		return err
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("broker nacked publish")
	}
	return nil
}

// readQueue takes n messages from queue (basic.get, acked), polling for at
// most timeout.
func readQueue(t *testing.T, url, queue string, n int, timeout time.Duration) []amqp.Delivery {
	t.Helper()
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	var out []amqp.Delivery
	deadline := time.Now().Add(timeout)
	for len(out) < n {
		d, ok, err := ch.Get(queue, true)
		require.NoError(t, err)
		if ok {
			out = append(out, d)
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s: got %d messages of %d within %s", queue, len(out), n, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return out
}

// queueLen returns how many ready messages queue holds.
func queueLen(t *testing.T, url, queue string) int {
	t.Helper()
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		// A durable queue declared passively with other flags still
		// answers; only a missing queue errors.
		t.Fatalf("inspect queue %s: %v", queue, err)
	}
	return q.Messages
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// osloMessage returns a notification in oslo.messaging's message form.
func osloMessage(id, eventType, priority string, ts time.Time, payload any) map[string]any {
	return map[string]any{
		"message_id":          id,
		"publisher_id":        "compute.host1",
		"event_type":          eventType,
		"priority":            priority,
		"timestamp":           ts.UTC().Format("2006-01-02 15:04:05.000000"),
		"payload":             payload,
		"_context_user_id":    "u-ctx",
		"_context_project_id": "p-ctx",
		"_context_request_id": "req-" + id,
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
