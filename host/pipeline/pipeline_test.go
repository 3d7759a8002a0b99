package pipeline

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/altimeter/altimeter/host/rawbatch"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/pollster"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/wire"
)

type fakePoller struct{ polls atomic.Int64 }

func (p *fakePoller) Poll(_ context.Context, req pollster.Request) (*pollster.Result, error) {
	n := p.polls.Add(1)
	out := make([]sample.Sample, 0, len(req.Meters))
	for _, m := range req.Meters {
		out = append(out, sample.Sample{Name: m, Volume: float64(n)})
	}
	return &pollster.Result{Samples: out}, nil
}

func (p *fakePoller) Discover(context.Context, string, string) ([]sample.Resource, error) {
	return []sample.Resource{{ID: "r1"}, {ID: "r2"}}, nil
}

type fakePublisher struct {
	mu      sync.Mutex
	samples []sample.Sample
	outcome base.Outcome
	err     error
	block   chan struct{}
}

func (p *fakePublisher) Publish(ctx context.Context, rb *rawbatch.Batch) (publisher.Result, error) {
	b, err := rb.Decode()
	if err != nil {
		return publisher.Result{}, err
	}
	if len(b.GetNotifications()) > 0 {
		return publisher.Result{}, errors.New("raw notifications reached a publisher")
	}
	if p.block != nil {
		select {
		case <-p.block:
		case <-ctx.Done():
			return publisher.Result{}, ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return publisher.Result{}, p.err
	}
	o := p.outcome
	if o == base.OutcomeUnspecified {
		o = base.Accepted
	}
	if o == base.Accepted {
		p.samples = append(p.samples, wire.SamplesFromProto(b.GetSamples())...)
	}
	return publisher.Result{Outcome: o, Reason: o.String()}, nil
}

func (p *fakePublisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.samples)
}

type suffixTransformer struct{ suffix string }

func (s suffixTransformer) Transform(_ context.Context, rb *rawbatch.Batch) (*rawbatch.Batch, error) {
	b, err := rb.Decode()
	if err != nil {
		return nil, err
	}
	out := &pb.Batch{Events: b.GetEvents()}
	for _, x := range b.GetSamples() {
		c := proto.Clone(x).(*pb.Sample)
		c.Name += s.suffix
		out.Samples = append(out.Samples, c)
	}
	return rawbatch.FromProto(out)
}

func (suffixTransformer) Flush(context.Context) ([]sample.Sample, error) { return nil, nil }

type fakeStream struct {
	ctx  context.Context
	in   chan *pb.Batch
	raw  chan []byte // encoded batches, checked as a plugin's would be
	next uint64
	acks chan ack
}

type ack struct {
	id uint64
	o  base.Outcome
}

func (s *fakeStream) Recv() (uint64, *rawbatch.Batch, error) {
	var data []byte
	select {
	case b := <-s.in:
		var err error
		data, err = proto.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
	case data = <-s.raw:
	case <-s.ctx.Done():
		return 0, nil, s.ctx.Err()
	}
	s.next++
	b, err := rawbatch.Parse(data)
	return s.next, b, err
}

func (s *fakeStream) Ack(id uint64, o base.Outcome, _ string) error {
	s.acks <- ack{id: id, o: o}
	return nil
}

type fakeListener struct{ s *fakeStream }

func (l fakeListener) Listen(ctx context.Context) (Stream, error) {
	l.s.ctx = ctx
	return l.s, nil
}

func start(t *testing.T, spec Spec) (*Graph, *Metrics) {
	t.Helper()
	m := NewMetrics(prometheus.NewRegistry())
	g, err := New(spec, m, hclog.NewNullLogger())
	require.NoError(t, err)
	g.Start(t.Context())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		g.Stop(ctx)
	})
	return g, m
}

func waitFor(t *testing.T, cond func() bool, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDeliveryOutcome(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		a, b       base.Outcome
		want       base.Outcome
		transformB bool
	}{
		{"both accept", base.Accepted, base.Accepted, base.Accepted, false},
		{"one rejects", base.Accepted, base.Rejected, base.Rejected, false},
		{"one retries", base.Retry, base.Accepted, base.Retry, true},
		{"reject beats retry", base.Retry, base.Rejected, base.Rejected, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := &fakeStream{in: make(chan *pb.Batch), acks: make(chan ack, 1)}
			pubA, pubB := &fakePublisher{outcome: tc.a}, &fakePublisher{outcome: tc.b}
			var tr []NamedTransformer
			if tc.transformB {
				tr = []NamedTransformer{{ID: "transformer.x", Transformer: suffixTransformer{".x"}}}
			}
			start(t, Spec{
				Sinks: []SinkSpec{
					{Name: "a", Publishers: []NamedPublisher{{ID: "publisher.a", Publisher: pubA}}},
					{Name: "b", Transformers: tr, Publishers: []NamedPublisher{{ID: "publisher.b", Publisher: pubB}}},
				},
				Listeners: []ListenerSpec{{ID: "listener.l", Source: fakeListener{st}, Sinks: []string{"a", "b"}}},
				Queue:     QueueOptions{RetryMin: time.Millisecond},
			})
			st.in <- &pb.Batch{Samples: []*pb.Sample{{Name: "m"}}}
			select {
			case a := <-st.acks:
				require.Equal(t, uint64(1), a.id)
				require.Equal(t, tc.want, a.o)
			case <-time.After(5 * time.Second):
				t.Fatal("no ack")
			}
		})
	}
}

func TestFailingPublisherDoesNotStallAnother(t *testing.T) {
	t.Parallel()
	down := &fakePublisher{err: errors.New("connection refused")}
	up := &fakePublisher{}
	st := &fakeStream{in: make(chan *pb.Batch), acks: make(chan ack, 100)}
	_, m := start(t, Spec{
		Sinks: []SinkSpec{{Name: "s", Publishers: []NamedPublisher{
			{ID: "publisher.down", Publisher: down}, {ID: "publisher.up", Publisher: up},
		}}},
		Polling: []PollingSpec{{Name: "p", Interval: 20 * time.Millisecond, Sinks: []string{"s"},
			Tasks: []PollTask{{PollsterID: "pollster.f", Poller: &fakePoller{}, Meters: []string{"a", "b", "c", "d", "e"}}}}},
		Listeners:    []ListenerSpec{{ID: "listener.l", Source: fakeListener{st}, Sinks: []string{"s"}}},
		Queue:        QueueOptions{MaxSamples: 20, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond},
		StartupDelay: time.Millisecond,
	})
	// Polled samples keep reaching the healthy publisher while the other's
	// queue is full and drops the oldest.
	waitFor(t, func() bool { return up.count() >= 100 }, 10*time.Second)
	waitFor(t, func() bool { return testutil.ToFloat64(m.pubDropped.WithLabelValues("publisher.down")) > 0 }, 5*time.Second)
	require.LessOrEqual(t, testutil.ToFloat64(m.pubQueued.WithLabelValues("publisher.down")), 20.0)
	// Deliveries are not stuck behind the failing publisher: they come back
	// Retry, so the listener's broker keeps them.
	for range 5 {
		st.in <- &pb.Batch{Samples: []*pb.Sample{{Name: "l"}}}
		select {
		case a := <-st.acks:
			require.Equal(t, base.Retry, a.o)
		case <-time.After(5 * time.Second):
			t.Fatal("delivery stalled behind a failing publisher")
		}
	}
}

func TestTransformerOrderAndDiscovery(t *testing.T) {
	t.Parallel()
	pub := &fakePublisher{}
	poller := &fakePoller{}
	start(t, Spec{
		Sinks: []SinkSpec{{Name: "s",
			Transformers: []NamedTransformer{{ID: "t1", Transformer: suffixTransformer{".1"}}, {ID: "t2", Transformer: suffixTransformer{".2"}}},
			Publishers:   []NamedPublisher{{ID: "p", Publisher: pub}}}},
		Polling: []PollingSpec{{Name: "p", Interval: time.Hour, Sinks: []string{"s"},
			Tasks: []PollTask{{PollsterID: "pollster.f", Poller: poller, Meters: []string{"m"}, Discovery: []string{"local"}}}}},
		StartupDelay: time.Millisecond,
	})
	waitFor(t, func() bool { return pub.count() == 1 }, 5*time.Second)
	require.Equal(t, "m.1.2", pub.samples[0].Name)
	require.Equal(t, int64(1), poller.polls.Load(), "one startup poll, then the interval")
}

func TestStopAnswersPendingDeliveries(t *testing.T) {
	t.Parallel()
	blocked := &fakePublisher{block: make(chan struct{})}
	st := &fakeStream{in: make(chan *pb.Batch), acks: make(chan ack, 10)}
	m := NewMetrics(prometheus.NewRegistry())
	g, err := New(Spec{
		Sinks:     []SinkSpec{{Name: "s", Publishers: []NamedPublisher{{ID: "p", Publisher: blocked}}}},
		Listeners: []ListenerSpec{{ID: "listener.l", Source: fakeListener{st}, Sinks: []string{"s"}}},
	}, m, hclog.NewNullLogger())
	require.NoError(t, err)
	g.Start(t.Context())
	st.in <- &pb.Batch{Samples: []*pb.Sample{{Name: "m"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	g.Stop(ctx)
	select {
	case a := <-st.acks:
		require.Equal(t, base.Retry, a.o, "an unpublished delivery goes back to its broker")
	case <-time.After(5 * time.Second):
		t.Fatal("no ack after stop")
	}
	g.Stop(ctx) // twice is fine
}

func TestStopDoesNotWaitOnAFailedPublisher(t *testing.T) {
	t.Parallel()
	down := &fakePublisher{err: errors.New("plugin instance failed")}
	m := NewMetrics(prometheus.NewRegistry())
	g, err := New(Spec{
		Sinks: []SinkSpec{{Name: "s", Publishers: []NamedPublisher{{ID: "publisher.down", Publisher: down}}}},
		Polling: []PollingSpec{{Name: "p", Interval: time.Hour, Sinks: []string{"s"},
			Tasks: []PollTask{{PollsterID: "pollster.f", Poller: &fakePoller{}, Meters: []string{"a"}}}}},
		StartupDelay: time.Millisecond,
		// A long backoff: stop must not wait it out.
		Queue: QueueOptions{RetryMin: time.Minute, RetryMax: time.Minute},
	}, m, hclog.NewNullLogger())
	require.NoError(t, err)
	g.Start(t.Context())
	waitFor(t, func() bool { return testutil.ToFloat64(m.pubFailures.WithLabelValues("publisher.down")) > 0 }, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	g.Stop(ctx)
	require.Less(t, time.Since(start), 5*time.Second, "stop must not spend the drain window on a publisher that is down")
	require.Equal(t, 1.0, testutil.ToFloat64(m.pubDropped.WithLabelValues("publisher.down")))
}

func TestMalformedDeliveryIsRefusedAndCounted(t *testing.T) {
	t.Parallel()
	pub := &fakePublisher{}
	st := &fakeStream{in: make(chan *pb.Batch), raw: make(chan []byte), acks: make(chan ack, 10)}
	_, m := start(t, Spec{
		Sinks:     []SinkSpec{{Name: "s", Publishers: []NamedPublisher{{ID: "p", Publisher: pub}}}},
		Listeners: []ListenerSpec{{ID: "listener.l", Source: fakeListener{st}, Sinks: []string{"s"}}},
	})
	// A sample whose name is not UTF-8: the proto decoder would refuse it.
	st.raw <- []byte{0x0a, 0x03, 0x0a, 0x01, 0xff}
	a := <-st.acks
	require.Equal(t, base.Rejected, a.o)
	require.Equal(t, 1.0, testutil.ToFloat64(m.sourceErrors.WithLabelValues("listener.l", "listener.l", "malformed")))
	// The stream goes on: the next delivery is published.
	st.in <- &pb.Batch{Samples: []*pb.Sample{{Name: "ok"}}, Events: []*pb.Event{{EventType: "e"}}}
	a = <-st.acks
	require.Equal(t, base.Accepted, a.o)
	require.Equal(t, 1, pub.count())
}

func TestMergeConcatenatesQueuedBatches(t *testing.T) {
	t.Parallel()
	var es []entry
	for _, name := range []string{"a", "b", "c"} {
		b, err := rawbatch.FromProto(&pb.Batch{Samples: []*pb.Sample{{Name: name}, {Name: name + "2"}}})
		require.NoError(t, err)
		es = append(es, entry{batch: b})
	}
	got := merge(es)
	require.Equal(t, 6, batchLen(got))
	dec, err := got.Decode()
	require.NoError(t, err)
	var names []string
	for _, s := range dec.GetSamples() {
		names = append(names, s.GetName())
	}
	require.Equal(t, []string{"a", "a2", "b", "b2", "c", "c2"}, names)
}

// bindListener fails to open while its error is set, then opens.
type bindListener struct {
	mu  sync.Mutex
	err error
	s   *fakeStream
}

func (l *bindListener) setErr(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
}

func (l *bindListener) Listen(ctx context.Context) (Stream, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return nil, l.err
	}
	return fakeListener{l.s}.Listen(ctx)
}

// TestListenerStatus: Listening reports a listener whose first stream
// cannot open, its status says failing with the error, and it recovers by
// itself (backoff) once it can open.
func TestListenerStatus(t *testing.T) {
	t.Parallel()
	bind := errors.New("listen tcp 127.0.0.1:1: bind: address already in use")
	bad := &bindListener{err: bind, s: &fakeStream{in: make(chan *pb.Batch), acks: make(chan ack, 10)}}
	good := fakeListener{&fakeStream{in: make(chan *pb.Batch), acks: make(chan ack, 10)}}
	g, _ := start(t, Spec{
		Sinks: []SinkSpec{{Name: "s", Publishers: []NamedPublisher{{ID: "p", Publisher: &fakePublisher{}}}}},
		Listeners: []ListenerSpec{
			{ID: "listener.good", Source: good, Sinks: []string{"s"}},
			{ID: "listener.bad", Source: bad, Sinks: []string{"s"}},
		},
	})
	err := g.Listening(t.Context())
	require.ErrorIs(t, err, bind)
	require.Equal(t, "listener.bad: "+bind.Error(), err.Error())
	require.Equal(t, err.Error(), g.Listening(t.Context()).Error(), "asked twice")
	st := g.Listeners()
	require.Len(t, st, 2)
	require.Equal(t, ListenerListening, st[0].State)
	require.Empty(t, st[0].LastError)
	require.Equal(t, ListenerFailing, st[1].State)
	require.Equal(t, bind.Error(), st[1].LastError)

	bad.setErr(nil)
	deadline := time.Now().Add(5 * time.Second)
	for g.Listeners()[1].State != ListenerListening {
		require.True(t, time.Now().Before(deadline), "listener did not recover")
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, bind.Error(), g.Listeners()[1].LastError, "the last error stays visible")
}
