package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/base"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
)

// ListenerSpec is one listener instance and the sinks it feeds.
type ListenerSpec struct {
	ID     string
	Source ListenerSource
	Sinks  []string
	// Archive stores the raw notifications a delivery carries before its
	// batch goes to the sinks; nil drops them (counted in
	// altimeter_archive_notifications_total{outcome="dropped"}).
	Archive Archiver
}

// runListener keeps a stream open while ctx lasts, reopening it with backoff,
// and acknowledges each delivery once every sink's publishers handled it.
func runListener(ctx context.Context, spec ListenerSpec, sinks map[string]*sink, m *Metrics, log hclog.Logger) {
	log = log.With("listener", spec.ID)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		started := time.Now()
		err := serveStream(ctx, spec, sinks, m)
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

func serveStream(ctx context.Context, spec ListenerSpec, sinks map[string]*sink, m *Metrics) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := spec.Source.Listen(sctx)
	if err != nil {
		return err
	}
	received := m.sourceSamples.WithLabelValues(spec.ID)
	for {
		id, b, err := st.Recv()
		if err != nil {
			return err
		}
		received.Add(float64(len(b.GetSamples())))
		if ns := b.GetNotifications(); len(ns) > 0 {
			if err := archive(ctx, spec, ns, m); err != nil {
				m.deliveries.WithLabelValues(spec.ID, base.Retry.String()).Inc()
				_ = st.Ack(id, base.Retry, err.Error())
				continue
			}
			// Sinks never see the raw notifications.
			b = &pb.Batch{Samples: b.GetSamples(), Events: b.GetEvents()}
			if len(b.Samples)+len(b.Events) == 0 {
				m.deliveries.WithLabelValues(spec.ID, base.Accepted.String()).Inc()
				_ = st.Ack(id, base.Accepted, "")
				continue
			}
		}
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

// archive hands a delivery's notifications to the listener's archive; an
// error means the delivery must be retried (nothing of it acknowledged).
func archive(ctx context.Context, spec ListenerSpec, ns []*pb.Notification, m *Metrics) error {
	if spec.Archive == nil {
		m.archived.WithLabelValues(spec.ID, "dropped").Add(float64(len(ns)))
		return nil
	}
	if err := spec.Archive.Archive(ctx, ns); err != nil {
		m.archived.WithLabelValues(spec.ID, "failed").Add(float64(len(ns)))
		return fmt.Errorf("archive %d notifications: %w", len(ns), err)
	}
	m.archived.WithLabelValues(spec.ID, "stored").Add(float64(len(ns)))
	return nil
}
