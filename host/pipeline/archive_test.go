package pipeline

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/base"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
)

type fakeArchive struct {
	mu  sync.Mutex
	ids []string
	err error
}

func (a *fakeArchive) Archive(_ context.Context, ns []*pb.Notification) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return a.err
	}
	for _, n := range ns {
		a.ids = append(a.ids, n.GetMessageId())
	}
	return nil
}

func TestListenerArchive(t *testing.T) {
	t.Parallel()
	arch := &fakeArchive{}
	pub := &fakePublisher{}
	st := &fakeStream{in: make(chan *pb.Batch), acks: make(chan ack, 10)}
	_, m := start(t, Spec{
		Sinks:     []SinkSpec{{Name: "s", Publishers: []NamedPublisher{{ID: "publisher.p", Publisher: pub}}}},
		Listeners: []ListenerSpec{{ID: "listener.l", Source: fakeListener{st}, Sinks: []string{"s"}, Archive: arch}},
		Queue:     QueueOptions{RetryMin: time.Millisecond},
	})
	next := func() ack {
		t.Helper()
		select {
		case a := <-st.acks:
			return a
		case <-time.After(5 * time.Second):
			t.Fatal("no ack")
		}
		return ack{}
	}
	// Samples and notifications: archived, then the samples published.
	st.in <- &pb.Batch{Samples: []*pb.Sample{{Name: "m"}}, Notifications: []*pb.Notification{{MessageId: "n1"}, {MessageId: "n2"}}}
	require.Equal(t, base.Accepted, next().o)
	require.Equal(t, 1, pub.count())
	// Notifications only (the mapping made nothing): archived and accepted
	// without reaching a sink.
	st.in <- &pb.Batch{Notifications: []*pb.Notification{{MessageId: "n3"}}}
	require.Equal(t, base.Accepted, next().o)
	require.Equal(t, 1, pub.count())
	require.Equal(t, []string{"n1", "n2", "n3"}, arch.ids)
	// A failing archive: the delivery is retried and its samples not published.
	arch.mu.Lock()
	arch.err = errors.New("disk full")
	arch.mu.Unlock()
	st.in <- &pb.Batch{Samples: []*pb.Sample{{Name: "m"}}, Notifications: []*pb.Notification{{MessageId: "n4"}}}
	require.Equal(t, base.Retry, next().o)
	require.Equal(t, 1, pub.count())
	require.Equal(t, 3.0, testutil.ToFloat64(m.archived.WithLabelValues("listener.l", "stored")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.archived.WithLabelValues("listener.l", "failed")))
}

func TestListenerWithoutArchiveDropsNotifications(t *testing.T) {
	t.Parallel()
	pub := &fakePublisher{}
	st := &fakeStream{in: make(chan *pb.Batch), acks: make(chan ack, 10)}
	_, m := start(t, Spec{
		Sinks:     []SinkSpec{{Name: "s", Publishers: []NamedPublisher{{ID: "publisher.p", Publisher: pub}}}},
		Listeners: []ListenerSpec{{ID: "listener.l", Source: fakeListener{st}, Sinks: []string{"s"}}},
	})
	st.in <- &pb.Batch{Notifications: []*pb.Notification{{MessageId: "n1"}}}
	select {
	case a := <-st.acks:
		require.Equal(t, base.Accepted, a.o)
	case <-time.After(5 * time.Second):
		t.Fatal("no ack")
	}
	require.Equal(t, 1.0, testutil.ToFloat64(m.archived.WithLabelValues("listener.l", "dropped")))
}
