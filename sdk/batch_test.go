package sdk_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/listener"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
	"github.com/altimeter/altimeter/sdk/transformer"
)

// fullBatch has every field of a sample set, metadata, an event and a
// notification: what the plugin server's codec must carry unchanged.
func fullBatch() sample.Batch {
	s := make([]sample.Sample, 3)
	for i := range s {
		s[i] = sample.Sample{Name: "cpu", Type: sample.Cumulative, Unit: "ns", Volume: float64(i) + 0.5,
			ResourceID: "r1", ProjectID: "p", UserID: "u", Timestamp: time.Unix(100+int64(i), 5).UTC(),
			Source: "openstack", MessageID: "m" + string(rune('a'+i)), MonotonicTime: time.Duration(i + 1),
			Metadata: map[string]string{"flavor.name": "m1", "host": "h" + string(rune('0'+i))}, Signature: "sig"}
	}
	return sample.Batch{
		Samples: s,
		Events: []sample.Event{{MessageID: "e", EventType: "compute.instance.exists", Generated: time.Unix(7, 0).UTC(),
			Traits: []sample.Trait{{Name: "n", Type: sample.TraitFloat, Float: 1.5}}, Raw: []byte(`{"a":1}`)}},
	}
}

type doubler struct{}

func (doubler) Transform(_ context.Context, in []sample.Sample) ([]sample.Sample, error) {
	for i := range in {
		in[i].Volume *= 2
		if in[i].Name == "bad" {
			return nil, errors.New("bad sample")
		}
	}
	return in, nil
}

func (doubler) Flush(context.Context) ([]sample.Sample, error) {
	return []sample.Sample{{Name: "held", Volume: 1, Metadata: map[string]string{"k": "v"}}}, nil
}

// A transformer gets every field, its output goes back whole, events pass
// through untouched, and its errors and invalid output are reported.
func TestTransformerOverGRPC(t *testing.T) {
	t.Parallel()
	spec := transformer.Spec[struct{}]{Name: "double",
		New: func(struct{}, hclog.Logger) (transformer.Transformer, error) { return doubler{}, nil }}
	c := sdktest.Transformer(t, spec, "")
	in := fullBatch()
	want := fullBatch()
	for i := range want.Samples {
		want.Samples[i].Volume *= 2
	}
	for range 2 { // the second time from the decoder's interned strings
		got, err := c.Transform(t.Context(), &in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	got, err := c.Transform(t.Context(), &sample.Batch{})
	require.NoError(t, err)
	require.Empty(t, got.Samples)

	_, err = c.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{{Name: "bad"}}})
	require.ErrorContains(t, err, "bad sample")

	// Invalid UTF-8 cannot be sent, as protobuf's encoder refuses it.
	_, err = c.Transform(t.Context(), &sample.Batch{Samples: []sample.Sample{{Name: "\xff"}}})
	require.Error(t, err)

	held, err := c.Flush(t.Context())
	require.NoError(t, err)
	require.Equal(t, []sample.Sample{{Name: "held", Volume: 1, Metadata: map[string]string{"k": "v"}}}, held)
}

type keeper struct {
	mu  sync.Mutex
	got []sample.Batch
}

func (k *keeper) Publish(_ context.Context, b *sample.Batch) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.got = append(k.got, *b)
	return nil
}

// A publisher gets samples, events and notifications as sent.
func TestPublisherGetsBatch(t *testing.T) {
	t.Parallel()
	k := &keeper{}
	spec := publisher.Spec[struct{}]{Name: "keep",
		New: func(struct{}, hclog.Logger) (publisher.Publisher, error) { return k, nil }}
	c := sdktest.Publisher(t, spec, "")
	b := fullBatch()
	b.Notifications = []sample.Notification{{MessageID: "n", EventType: "x.y", Raw: []byte("{}"), Timestamp: time.Unix(1, 0).UTC()}}
	r, err := c.Publish(t.Context(), &b)
	require.NoError(t, err)
	require.Equal(t, base.Accepted, r.Outcome)
	k.mu.Lock()
	defer k.mu.Unlock()
	require.Equal(t, b, k.got[0])
}

type oneBatch struct{ b sample.Batch }

func (l *oneBatch) Listen(ctx context.Context, emit listener.Emit) error {
	if err := emit(ctx, l.b); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// A listener's delivery reaches the host whole.
func TestListenerDeliversBatch(t *testing.T) {
	t.Parallel()
	b := fullBatch()
	b.Notifications = []sample.Notification{{MessageID: "n", EventType: "x.y", Raw: []byte("{}")}}
	spec := listener.Spec[struct{}]{Name: "one",
		New: func(struct{}, hclog.Logger) (listener.Listener, error) { return &oneBatch{b: b}, nil }}
	c := sdktest.Listener(t, spec, "")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s, err := c.Listen(ctx)
	require.NoError(t, err)
	id, got, err := s.Recv()
	require.NoError(t, err)
	require.Equal(t, b, got)
	require.NoError(t, s.Ack(id, base.Accepted, ""))
}

// A listener whose batch cannot be encoded (invalid UTF-8, which protobuf's
// encoder refuses too) gets a permanent refusal, as for a batch the host
// refuses, and its stream goes on: the next batch reaches the host. (gRPC
// ends a stream whose message cannot be marshalled; a listener told to
// retry would resend the batch on every new stream, for ever.)
func TestListenerUnencodableBatch(t *testing.T) {
	t.Parallel()
	good := fullBatch()
	for _, tc := range []struct {
		name string
		bad  sample.Batch
	}{
		{"sample name", sample.Batch{Samples: []sample.Sample{{Name: "\xff"}}}},
		{"metadata value", sample.Batch{Samples: []sample.Sample{{Name: "cpu", Metadata: map[string]string{"k": "a\xc3"}}}}},
		{"event", sample.Batch{Events: []sample.Event{{MessageID: "e", EventType: "x\xff"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			errs := make(chan error, 3)
			spec := listener.Spec[struct{}]{Name: "bad",
				New: func(struct{}, hclog.Logger) (listener.Listener, error) {
					return listenerFunc(func(ctx context.Context, emit listener.Emit) error {
						// The same bad batch twice, as a listener that resends
						// it would, then a good one.
						for _, b := range []sample.Batch{tc.bad, tc.bad, good} {
							errs <- emit(ctx, b)
						}
						<-ctx.Done()
						return nil
					}), nil
				}}
			c := sdktest.Listener(t, spec, "")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s, err := c.Listen(ctx)
			require.NoError(t, err)
			next := func() error {
				select {
				case err := <-errs:
					return err
				case <-time.After(30 * time.Second):
					t.Fatal("emit did not return")
					return nil
				}
			}
			for range 2 {
				err := next()
				require.ErrorIs(t, err, listener.ErrRejected)
				require.ErrorIs(t, err, listener.ErrUnencodable)
				require.NotErrorIs(t, err, listener.ErrRetry)
				require.ErrorContains(t, err, "UTF-8")
			}
			// The stream is still open: the good batch arrives on it and
			// its ack reaches emit.
			id, got, err := s.Recv()
			require.NoError(t, err)
			require.Equal(t, good, got)
			require.NoError(t, s.Ack(id, base.Accepted, ""))
			require.NoError(t, next())
		})
	}
}

type listenerFunc func(ctx context.Context, emit listener.Emit) error

func (f listenerFunc) Listen(ctx context.Context, emit listener.Emit) error { return f(ctx, emit) }
