package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/host/rawbatch"
	"github.com/altimeter/altimeter/internal/backoff"
	"github.com/altimeter/altimeter/sdk/base"
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

// ListenerState is what a listener's stream is doing.
type ListenerState string

// Listener states.
const (
	// ListenerStarting: its first stream is being opened.
	ListenerStarting ListenerState = "starting"
	// ListenerListening: its stream is open (the plugin is bound).
	ListenerListening ListenerState = "listening"
	// ListenerFailing: its stream could not be opened or ended with an
	// error; it is reopened with backoff.
	ListenerFailing ListenerState = "failing"
)

// ListenerStatus is a listener's state and its last stream error.
type ListenerStatus struct {
	ID        string
	State     ListenerState
	LastError string
	Since     time.Time // last state change
}

// listenerStatus tracks one listener; first gets the outcome of its first
// stream open.
type listenerStatus struct {
	mu    sync.Mutex
	st    ListenerStatus
	first chan error // buffered; written once
	once  sync.Once
}

func newListenerStatus(id string) *listenerStatus {
	return &listenerStatus{st: ListenerStatus{ID: id, State: ListenerStarting, Since: time.Now()}, first: make(chan error, 1)}
}

func (l *listenerStatus) set(state ListenerState, err error) {
	l.mu.Lock()
	if l.st.State != state {
		l.st.State, l.st.Since = state, time.Now()
	}
	if err != nil {
		l.st.LastError = err.Error()
	}
	l.mu.Unlock()
}

func (l *listenerStatus) opened(err error) {
	l.once.Do(func() { l.first <- err })
}

func (l *listenerStatus) get() ListenerStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

// runListener keeps a stream open while ctx lasts, reopening it with backoff,
// and acknowledges each delivery once every sink's publishers handled it.
func runListener(ctx context.Context, spec ListenerSpec, sinks map[string]*sink, m *Metrics, log hclog.Logger, status *listenerStatus) {
	log = log.With("listener", spec.ID)
	bo := backoff.Exp{Min: 100 * time.Millisecond, Max: 10 * time.Second}
	for ctx.Err() == nil {
		started := time.Now()
		err := serveStream(ctx, spec, sinks, m, log, status)
		if ctx.Err() != nil {
			status.opened(ctx.Err())
			return
		}
		status.opened(err)
		status.set(ListenerFailing, err)
		m.sourceErrors.WithLabelValues(spec.ID, spec.ID, "stream").Inc()
		if time.Since(started) > time.Minute {
			bo.Reset()
		}
		wait := bo.Next()
		log.Warn("listener stream ended; reopening", "error", err, "backoff", wait)
		if !backoff.Sleep(ctx, wait) {
			return
		}
	}
}

func serveStream(ctx context.Context, spec ListenerSpec, sinks map[string]*sink, m *Metrics, log hclog.Logger, status *listenerStatus) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := spec.Source.Listen(sctx)
	if err != nil {
		return err
	}
	status.set(ListenerListening, nil)
	status.opened(nil)
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
		if ns := b.Notifications(); len(ns) > 0 {
			if err := archive(ctx, spec, ns, m); err != nil {
				// A notification that does not decode would fail again:
				// refuse the delivery; any other failure is retried.
				o := base.Retry
				if errors.Is(err, rawbatch.ErrMalformed) {
					o = base.Rejected
				}
				m.deliveries.WithLabelValues(spec.ID, o.String()).Inc()
				_ = st.Ack(id, o, err.Error())
				continue
			}
			// Sinks never see the raw notifications: rawbatch split them
			// off the batch's bytes on arrival.
			if b.Len() == 0 {
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
func archive(ctx context.Context, spec ListenerSpec, raw [][]byte, m *Metrics) error {
	if spec.Archive == nil {
		m.archived.WithLabelValues(spec.ID, "dropped").Add(float64(len(raw)))
		return nil
	}
	ns, err := rawbatch.DecodeNotifications(raw)
	if err != nil {
		m.archived.WithLabelValues(spec.ID, "failed").Add(float64(len(raw)))
		return err
	}
	if err := spec.Archive.Archive(ctx, ns); err != nil {
		m.archived.WithLabelValues(spec.ID, "failed").Add(float64(len(ns)))
		return fmt.Errorf("archive %d notifications: %w", len(ns), err)
	}
	m.archived.WithLabelValues(spec.ID, "stored").Add(float64(len(ns)))
	return nil
}
