package pipeline

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/base"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
)

func recvAck(t *testing.T, st *fakeStream) ack {
	t.Helper()
	select {
	case a := <-st.acks:
		return a
	case <-time.After(5 * time.Second):
		t.Fatal("no ack")
	}
	return ack{}
}

// TestDiskQueueSurvivesRestart: deliveries are accepted while the publisher
// is down, the graph stops (and a new one starts on the same directory, as
// after an agent restart), and every sample reaches the publisher once it
// is back, in order.
func TestDiskQueueSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pub := &fakePublisher{err: errors.New("connection refused")}
	spec := func(st *fakeStream) Spec {
		return Spec{
			Sinks: []SinkSpec{{Name: "s", Publishers: []NamedPublisher{
				{ID: "publisher.p.s", Publisher: pub, Disk: &DiskQueue{Dir: dir}},
			}}},
			Listeners: []ListenerSpec{{ID: "listener.l", Source: fakeListener{st}, Sinks: []string{"s"}}},
			Queue:     QueueOptions{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, MaxBatch: 7},
		}
	}
	st := &fakeStream{in: make(chan *pb.Batch), acks: make(chan ack, 100)}
	m := NewMetrics(prometheus.NewRegistry())
	g, err := New(spec(st), m, hclog.NewNullLogger())
	require.NoError(t, err)
	g.Start(t.Context())
	for i := range 10 {
		st.in <- &pb.Batch{Samples: []*pb.Sample{{Name: "m", MessageId: fmt.Sprint(i, "a")}, {Name: "m", MessageId: fmt.Sprint(i, "b")}}}
		require.Equal(t, base.Accepted, recvAck(t, st).o, "durable in the queue: accepted although the publisher is down")
	}
	waitFor(t, func() bool { return testutil.ToFloat64(m.pubFailures.WithLabelValues("publisher.p.s")) > 0 }, 5*time.Second)
	require.Equal(t, 20.0, testutil.ToFloat64(m.pubQueued.WithLabelValues("publisher.p.s")))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g.Stop(ctx)
	require.Zero(t, testutil.ToFloat64(m.pubDropped.WithLabelValues("publisher.p.s")))

	pub.mu.Lock()
	pub.err = nil
	pub.mu.Unlock()
	st2 := &fakeStream{in: make(chan *pb.Batch), acks: make(chan ack, 100)}
	_, m2 := start(t, spec(st2))
	require.Equal(t, 20.0, testutil.ToFloat64(m2.pubReplayed.WithLabelValues("publisher.p.s")))
	waitFor(t, func() bool { return pub.count() == 20 }, 5*time.Second)
	pub.mu.Lock()
	for i, s := range pub.samples {
		require.Equal(t, fmt.Sprint(i/2, string(rune('a'+i%2))), s.MessageID, "in order")
	}
	pub.mu.Unlock()
	waitFor(t, func() bool { return testutil.ToFloat64(m2.pubQueued.WithLabelValues("publisher.p.s")) == 0 }, 5*time.Second)
	require.Equal(t, 20.0, testutil.ToFloat64(m2.pubOut.WithLabelValues("publisher.p.s")))
	require.Contains(t, gather(t, m2), "altimeter_publisher_queue_bytes")
}

func gather(t *testing.T, m *Metrics) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.queues)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := ""
	for _, mf := range mfs {
		out += mf.GetName() + "\n"
	}
	return out
}

// TestDiskQueueFullBlock: a full queue with full = "block" answers Retry,
// and a healthy publisher of the same sink is not held back.
func TestDiskQueueFullBlock(t *testing.T) {
	t.Parallel()
	down := &fakePublisher{err: errors.New("connection refused")}
	up := &fakePublisher{}
	st := &fakeStream{in: make(chan *pb.Batch), acks: make(chan ack, 100)}
	_, m := start(t, Spec{
		Sinks: []SinkSpec{{Name: "s", Publishers: []NamedPublisher{
			{ID: "publisher.down", Publisher: down, Disk: &DiskQueue{Dir: t.TempDir(), MaxBytes: 300, Full: Block}},
			{ID: "publisher.up", Publisher: up, Disk: &DiskQueue{Dir: t.TempDir()}},
		}}},
		Listeners: []ListenerSpec{{ID: "listener.l", Source: fakeListener{st}, Sinks: []string{"s"}}},
		Queue:     QueueOptions{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond},
	})
	var retried int
	for i := range 20 {
		st.in <- &pb.Batch{Samples: []*pb.Sample{{Name: "m", MessageId: fmt.Sprint(i), ResourceId: "resource-with-a-longish-id"}}}
		if recvAck(t, st).o == base.Retry {
			retried++
		}
	}
	require.Positive(t, retried)
	require.Less(t, retried, 20)
	require.Equal(t, float64(retried), testutil.ToFloat64(m.pubRefusals.WithLabelValues("publisher.down", "full")))
	waitFor(t, func() bool { return up.count() == 20 }, 5*time.Second)
}

// TestDiskQueueDropOldest: a full drop_oldest queue keeps accepting and
// counts what it dropped.
func TestDiskQueueDropOldest(t *testing.T) {
	t.Parallel()
	down := &fakePublisher{err: errors.New("connection refused")}
	st := &fakeStream{in: make(chan *pb.Batch), acks: make(chan ack, 100)}
	_, m := start(t, Spec{
		Sinks: []SinkSpec{{Name: "s", Publishers: []NamedPublisher{
			{ID: "publisher.down", Publisher: down, Disk: &DiskQueue{Dir: t.TempDir(), MaxBytes: 300}},
		}}},
		Listeners: []ListenerSpec{{ID: "listener.l", Source: fakeListener{st}, Sinks: []string{"s"}}},
		Queue:     QueueOptions{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond},
	})
	for i := range 20 {
		st.in <- &pb.Batch{Samples: []*pb.Sample{{Name: "m", MessageId: fmt.Sprint(i), ResourceId: "resource-with-a-longish-id"}}}
		require.Equal(t, base.Accepted, recvAck(t, st).o)
	}
	dropped := testutil.ToFloat64(m.pubDropped.WithLabelValues("publisher.down"))
	require.Positive(t, dropped)
	require.Equal(t, 20.0, dropped+testutil.ToFloat64(m.pubQueued.WithLabelValues("publisher.down")))
}

// TestDiskQueueHungPublisher: a publisher that hangs (a SIGSTOPped
// process) holds up neither the listener nor the other publisher of its
// sink; what it did not take waits on disk.
func TestDiskQueueHungPublisher(t *testing.T) {
	t.Parallel()
	hung := &fakePublisher{block: make(chan struct{})}
	up := &fakePublisher{}
	st := &fakeStream{in: make(chan *pb.Batch), acks: make(chan ack, 1000)}
	_, m := start(t, Spec{
		Sinks: []SinkSpec{{Name: "s", Publishers: []NamedPublisher{
			{ID: "publisher.hung", Publisher: hung, Disk: &DiskQueue{Dir: t.TempDir()}},
			{ID: "publisher.up", Publisher: up, Disk: &DiskQueue{Dir: t.TempDir()}},
		}}},
		Listeners: []ListenerSpec{{ID: "listener.l", Source: fakeListener{st}, Sinks: []string{"s"}}},
		Queue:     QueueOptions{Timeout: time.Hour},
	})
	start := time.Now()
	for i := range 200 {
		st.in <- &pb.Batch{Samples: []*pb.Sample{{Name: "m", MessageId: fmt.Sprint(i)}}}
		require.Equal(t, base.Accepted, recvAck(t, st).o)
	}
	waitFor(t, func() bool { return up.count() == 200 }, 10*time.Second)
	require.Less(t, time.Since(start), 10*time.Second)
	require.Equal(t, 200.0, testutil.ToFloat64(m.pubQueued.WithLabelValues("publisher.hung")), "undelivered, on disk (one of them in the hung call)")
	close(hung.block)
	waitFor(t, func() bool { return hung.count() == 200 }, 10*time.Second)
}
