package main

import (
	"context"
	"flag"
	"fmt"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

var benchNotifications = flag.Int("oslo.bench-notifications", 20000, "notifications per BenchmarkConsume iteration")

// BenchmarkConsume publishes compute.instance.exists notifications (oslo
// v2 envelopes) to a real broker, then consumes them through the plugin
// in-process, with the built-in definitions and an emit that accepts at
// once, and reports notifications per second and the CPU seconds this
// process (not the broker) spent per 100k notifications.
//
//	go test -run '^$' -bench Consume -benchtime 1x ./plugins/listeners/oslo/
func BenchmarkConsume(b *testing.B) {
	rmq := peer.NeedRabbitMQ(b)
	url := peer.VHost(b, rmq)
	n := *benchNotifications
	c := defaultConfig()
	c.TransportURLs, c.Exchanges, c.Priorities = []string{url}, []string{"nova"}, []string{"info"}
	s, err := validate(c)
	require.NoError(b, err)
	m, err := loadMapper(s)
	require.NoError(b, err)

	bodies := make([][]byte, 64)
	for i := range bodies {
		bodies[i] = existsNotice(b, fmt.Sprintf("i-%04d", i))
	}
	var total time.Duration
	var cpu float64
	for i := range b.N {
		o := newWithMapper(s, m, sdktest.Logger(b).Named(fmt.Sprint(i)))
		// Declare the queue, then fill it while nobody consumes.
		declareOnly(b, o, url)
		publishMany(b, url, n, bodies)
		ctx, cancel := context.WithCancel(context.Background())
		emit := func(context.Context, sample.Batch) error { return nil } // accepted at once
		done := make(chan struct{})
		cpu0 := cpuSeconds()
		start := time.Now()
		go func() {
			defer close(done)
			_ = o.Listen(ctx, emit)
		}()
		waitFor(b, "every notification consumed", 5*time.Minute, func() bool { return o.stats.notifications.Load() >= uint64(n) })
		total += time.Since(start)
		cpu += cpuSeconds() - cpu0
		cancel()
		<-done
	}
	consumed := float64(n * b.N)
	b.ReportMetric(consumed/total.Seconds(), "notifications/s")
	b.ReportMetric(cpu/consumed*100000, "cpu-s/100k")
	b.ReportMetric(0, "ns/op")
}

// declareOnly declares o's topology on url without consuming.
func declareOnly(b testing.TB, o *oslo, url string) {
	b.Helper()
	conn, err := amqp.Dial(url)
	require.NoError(b, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(b, err)
	dl, err := conn.Channel()
	require.NoError(b, err)
	_, err = o.declare(ch, dl)
	require.NoError(b, err)
	_, err = ch.QueuePurge("notifications.info", false)
	require.NoError(b, err)
}

// publishMany publishes n bodies round robin to nova/notifications.info and
// waits for every confirm.
func publishMany(b *testing.B, url string, n int, bodies [][]byte) {
	b.Helper()
	p := newPublisher(b, url)
	ctx := context.Background()
	pending := make([]*amqp.DeferredConfirmation, 0, 1024)
	wait := func() {
		for _, dc := range pending {
			ok, err := dc.WaitContext(ctx)
			require.NoError(b, err)
			require.True(b, ok)
		}
		pending = pending[:0]
	}
	for i := range n {
		dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, "nova", "notifications.info", false, false, amqp.Publishing{
			ContentType: "application/json", ContentEncoding: "utf-8", Body: bodies[i%len(bodies)],
		})
		require.NoError(b, err)
		pending = append(pending, dc)
		if len(pending) == cap(pending) {
			wait()
		}
	}
	wait()
}

// cpuSeconds returns the user and system CPU time of this process.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkProcess splits the per-notification CPU cost without a broker:
// decoding the v2 envelope, then the meter and event definitions, on one
// compute.instance.exists notification.
func BenchmarkProcess(b *testing.B) {
	s, err := validate(defaultConfig())
	require.NoError(b, err)
	mp, err := loadMapper(s)
	require.NoError(b, err)
	body := existsNotice(b, "i-1")
	now := time.Now()
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeNotice(body, "info", now); err != nil {
				b.Fatal(err)
			}
		}
	})
	n, err := decodeNotice(body, "info", now)
	require.NoError(b, err)
	b.Run("meters", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := mp.Samples(&n.Notification); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("events", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := mp.Event(&n.Notification); err != nil {
				b.Fatal(err)
			}
		}
	})
	// All of it, as process does it per delivery.
	b.Run("all", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n, err := decodeNotice(body, "info", now)
			if err != nil {
				b.Fatal(err)
			}
			n.PrepareDocument()
			if _, err := mp.Samples(&n.Notification); err != nil {
				b.Fatal(err)
			}
			if _, _, err := mp.Event(&n.Notification); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeNotice decodes one compute.instance.exists notification
// in its v2 envelope.
func BenchmarkDecodeNotice(b *testing.B) {
	body := existsNotice(b, "i-0001")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeNotice(body, "info", now); err != nil {
			b.Fatal(err)
		}
	}
}
