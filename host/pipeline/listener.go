package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/host/rawbatch"
	"github.com/altimeter/altimeter/sdk/base"
)

// ListenerSpec is one listener instance and the sinks it feeds.
type ListenerSpec struct {
	ID     string
	Source ListenerSource
	Sinks  []string
}

// runListener keeps a stream open while ctx lasts, reopening it with backoff,
// and acknowledges each delivery once every sink's publishers handled it.
func runListener(ctx context.Context, spec ListenerSpec, sinks map[string]*sink, m *Metrics, log hclog.Logger) {
	log = log.With("listener", spec.ID)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		started := time.Now()
		err := serveStream(ctx, spec, sinks, m, log)
		if ctx.Err() != nil {
			return
		}
		m.sourceErrors.WithLabelValues(spec.ID, spec.ID, "stream").Inc()
		if time.Since(started) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		log.Warn("listener stream ended; reopening", "error", err, "backoff", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func serveStream(ctx context.Context, spec ListenerSpec, sinks map[string]*sink, m *Metrics, log hclog.Logger) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := spec.Source.Listen(sctx)
	if err != nil {
		return err
	}
	received := m.sourceSamples.WithLabelValues(spec.ID)
	for {
		id, b, err := st.Recv()
		if errors.Is(err, rawbatch.ErrMalformed) {
			// The listener sent a batch the host cannot forward: refuse
			// that delivery (its broker dead-letters or drops it) and read on.
			m.sourceErrors.WithLabelValues(spec.ID, spec.ID, "malformed").Inc()
			m.deliveries.WithLabelValues(spec.ID, base.Rejected.String()).Inc()
			log.Warn("malformed delivery refused", "error", err)
			if aerr := st.Ack(id, base.Rejected, err.Error()); aerr != nil {
				return aerr
			}
			continue
		}
		if err != nil {
			return err
		}
		received.Add(float64(b.Samples()))
		t := newTracker(func(o base.Outcome, reason string) {
			m.deliveries.WithLabelValues(spec.ID, o.String()).Inc()
			// A failed ack means the stream is gone; the listener's broker
			// redelivers what was not acknowledged.
			_ = st.Ack(id, o, reason)
		})
		t.add(len(spec.Sinks))
		for _, name := range spec.Sinks {
			if !sinks[name].send(ctx, job{batch: b, t: t}) {
				t.resolve(base.Retry, "agent is stopping")
			}
		}
		t.seal()
	}
}
