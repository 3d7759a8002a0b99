package pipeline

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/base"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
)

// TestQueueStatus: Graph.Queues reports what each publisher has not
// delivered, on disk (a publisher that is down) and in memory (a
// publisher that hangs with the batch it was handed), with the queue's
// bounds, and an empty queue once it is delivered.
func TestQueueStatus(t *testing.T) {
	t.Parallel()
	down := &fakePublisher{err: errors.New("connection refused")}
	hung := &fakePublisher{block: make(chan struct{})}
	st := &fakeStream{in: make(chan *pb.Batch), acks: make(chan ack, 10)}
	g, _ := start(t, Spec{
		Sinks: []SinkSpec{
			{Name: "d", Publishers: []NamedPublisher{{ID: "publisher.down.d", Publisher: down, Disk: &DiskQueue{Dir: t.TempDir(), MaxBytes: 1 << 20, Full: Block}}}},
			{Name: "m", Publishers: []NamedPublisher{{ID: "publisher.hung.m", Publisher: hung}}},
		},
		Listeners: []ListenerSpec{{ID: "listener.l", Source: fakeListener{st}, Sinks: []string{"d", "m"}}},
		Queue:     QueueOptions{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, MaxSamples: 500},
	})
	empty := g.Queues()
	require.Len(t, empty, 2)
	require.Equal(t, QueueStatus{Publisher: "publisher.down.d", Type: "disk", MaxBytes: 1 << 20, Full: Block}, empty[0])
	require.Equal(t, QueueStatus{Publisher: "publisher.hung.m", Type: "memory", MaxSamples: 500}, empty[1])

	st.in <- &pb.Batch{Samples: []*pb.Sample{{Name: "m", MessageId: "a"}, {Name: "m", MessageId: "b"}}}
	var qs []QueueStatus
	waitFor(t, func() bool {
		qs = g.Queues()
		return qs[0].Samples == 2 && qs[1].Samples == 2 && qs[0].OldestAge > 0 && qs[1].OldestAge > 0
	}, 5*time.Second)
	for _, q := range qs {
		require.Positive(t, q.Bytes, q.Publisher)
		require.Less(t, q.OldestAge, time.Minute, q.Publisher)
	}

	// Delivered: both queues are empty again.
	close(hung.block)
	down.mu.Lock()
	down.err = nil
	down.mu.Unlock()
	require.Equal(t, base.Accepted, recvAck(t, st).o)
	waitFor(t, func() bool {
		qs = g.Queues()
		return qs[0].Samples == 0 && qs[1].Samples == 0
	}, 5*time.Second)
	require.Equal(t, empty, qs)
}

// TestGroupCommit: a sink's two disk queues (fsync per batch) are made
// durable by the sink's committer: every delivery is accepted once both
// queues are synced, and a graph opened on the same directories (an agent
// restart) replays all of it to each publisher.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	dirs := []string{t.TempDir(), t.TempDir()}
	down := &fakePublisher{err: errors.New("connection refused")}
	spec := func(st *fakeStream, pubs ...*fakePublisher) Spec {
		return Spec{
			Sinks: []SinkSpec{{Name: "s", Publishers: []NamedPublisher{
				{ID: "publisher.a.s", Publisher: pubs[0], Disk: &DiskQueue{Dir: dirs[0]}},
				{ID: "publisher.b.s", Publisher: pubs[1], Disk: &DiskQueue{Dir: dirs[1]}},
			}}},
			Listeners: []ListenerSpec{{ID: "listener.l", Source: fakeListener{st}, Sinks: []string{"s"}}},
			Queue:     QueueOptions{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond},
		}
	}
	st := &fakeStream{in: make(chan *pb.Batch), acks: make(chan ack, 100)}
	g, _ := start(t, spec(st, down, down))
	require.NotNil(t, g.sinks["s"].commit, "queues fsynced per batch share the sink's committer")
	const n = 30
	for i := range n {
		st.in <- &pb.Batch{Samples: []*pb.Sample{{Name: "m", MessageId: fmt.Sprint(i)}}}
	}
	for range n {
		require.Equal(t, base.Accepted, recvAck(t, st).o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g.Stop(ctx)

	a, b := &fakePublisher{}, &fakePublisher{}
	st2 := &fakeStream{in: make(chan *pb.Batch), acks: make(chan ack, 100)}
	start(t, spec(st2, a, b))
	waitFor(t, func() bool { return a.count() == n && b.count() == n }, 5*time.Second)
}
