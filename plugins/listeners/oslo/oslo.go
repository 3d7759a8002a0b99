package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/internal/notification"
	"github.com/altimeter/altimeter/sdk/listener"
	"github.com/altimeter/altimeter/sdk/sample"
)

// warnEvery rate-limits warnings about bad deliveries: the first of each
// reason, then every warnEvery-th.
const warnEvery = 1000

// maxTrackedRetries bounds the table of per-message retry counts.
const maxTrackedRetries = 100000

// mapper turns a decoded notification into samples (meter definitions) and
// an event (event definitions). It must be safe for concurrent use.
type mapper interface {
	// Samples returns the samples the meter definitions make of n; none
	// when no definition matches.
	Samples(n *notification.Notification) ([]sample.Sample, error)
	// Event returns the event the event definitions make of n, and whether
	// one was made.
	Event(n *notification.Notification) (sample.Event, bool, error)
}

// reasons are every dead-letter reason, for the counters.
var reasons = []string{reasonTooLarge, reasonBadJSON, reasonBadEnvelope, reasonMissingField, reasonBadField,
	reasonBadSample, reasonBadSignature, reasonMapping, reasonRejected, reasonUnencodable, reasonRetryLimit}

// stats counts what the listener did. Safe for concurrent use.
type stats struct {
	notifications atomic.Uint64 // acked after the host accepted their samples and events
	samples       atomic.Uint64 // samples the host accepted
	events        atomic.Uint64 // events the host accepted
	unmatched     atomic.Uint64 // matched no meter and no event definition; acked
	// noPayload counts notifications without a payload (absent or null),
	// mapped as Ceilometer maps them: events with the default traits, and
	// no dead letter for the meter definitions that found nothing.
	noPayload    atomic.Uint64
	retried      atomic.Uint64 // requeued because the host asked to retry
	reconnects   atomic.Uint64 // connections re-established after a loss
	connectFails atomic.Uint64 // attempts to connect (and set up) that failed
	deadFailed   atomic.Uint64 // dead-letter publishes that failed (delivery requeued)
	// meterErrors counts meter definitions that failed on a notification
	// (their sample skipped, the notification still acked).
	meterErrors atomic.Uint64
	dead        map[string]*atomic.Uint64
	// consuming counts broker sessions that are consuming, for tests.
	consuming atomic.Int64
}

type oslo struct {
	s       *settings
	log     hclog.Logger
	m       mapper
	stats   stats
	retries retryTable
	workers int
	now     func() time.Time
}

var _ listener.Listener = (*oslo)(nil)

func newOslo(c config, log hclog.Logger) (*oslo, error) {
	s, err := validate(c)
	if err != nil {
		return nil, err
	}
	m, err := loadMapper(s)
	if err != nil {
		return nil, err
	}
	return newWithMapper(s, m, log), nil
}

func newWithMapper(s *settings, m mapper, log hclog.Logger) *oslo {
	o := &oslo{s: s, log: log, m: m, now: time.Now, workers: min(runtime.GOMAXPROCS(0), 8)}
	o.stats.dead = make(map[string]*atomic.Uint64, len(reasons))
	for _, r := range reasons {
		o.stats.dead[r] = new(atomic.Uint64)
	}
	o.retries.counts = map[string]int{}
	return o
}

// Listen consumes every transport URL until ctx is done, each with its own
// connection that is re-established with backoff when lost. It returns
// only once every goroutine it started has ended.
func (o *oslo) Listen(ctx context.Context, emit listener.Emit) error {
	var wg sync.WaitGroup
	for _, u := range o.s.urls {
		wg.Go(func() { o.run(ctx, u, emit) })
	}
	wg.Wait()
	o.log.Info("stopped", "notifications", o.stats.notifications.Load(), "samples", o.stats.samples.Load(),
		"events", o.stats.events.Load(), "unmatched", o.stats.unmatched.Load(), "dead_lettered", o.deadTotal())
	return nil
}

// Counters implements base.CounterReporter.
func (o *oslo) Counters() map[string]uint64 {
	out := map[string]uint64{
		"notifications":        o.stats.notifications.Load(),
		"samples_accepted":     o.stats.samples.Load(),
		"events_accepted":      o.stats.events.Load(),
		"unmatched":            o.stats.unmatched.Load(),
		"without_payload":      o.stats.noPayload.Load(),
		"retried":              o.stats.retried.Load(),
		"reconnects":           o.stats.reconnects.Load(),
		"connect_failures":     o.stats.connectFails.Load(),
		"dead_letter_failures": o.stats.deadFailed.Load(),
		"meter_errors":         o.stats.meterErrors.Load(),
	}
	for r, c := range o.stats.dead {
		out["dead_lettered_"+r] = c.Load()
	}
	return out
}

func (o *oslo) deadTotal() uint64 {
	var n uint64
	for _, c := range o.stats.dead {
		n += c.Load()
	}
	return n
}

// unit is one delivery, decoded and mapped, on its way to the host.
type unit struct {
	d       *delivery
	key     string // retry-table key: the notification's message_id
	samples []sample.Sample
	events  []sample.Event
	// dead, when set, dead-letters the delivery once the host has accepted
	// its samples and events, instead of acking it.
	dead *deadNote
	// note is the notification for the host's archive (archive block).
	note *sample.Notification
}

// items is what u counts against batch_size.
func (u *unit) items() int {
	n := len(u.samples) + len(u.events)
	if u.note != nil {
		n++
	}
	return n
}

// deadNote is why a delivery is to be dead-lettered.
type deadNote struct{ reason, detail string }

// process decodes and maps one delivery. It returns the unit to emit, or
// nil when the delivery was settled here (dead-lettered, or acked as
// unmatched).
func (o *oslo) process(ctx context.Context, d *delivery, log hclog.Logger) *unit {
	if len(d.body) > o.s.MaxMessageBytes {
		o.deadLetter(ctx, d, reasonTooLarge, fmt.Sprintf("body of %d bytes, more than max_message_bytes = %d", len(d.body), o.s.MaxMessageBytes), log)
		return nil
	}
	n, err := decodeNotice(d.body, priorityOf(d.routingKey), o.now())
	if err != nil {
		o.deadLetterErr(ctx, d, err, log)
		return nil
	}
	u := &unit{d: d, key: n.MessageID}
	if o.s.Archive != nil {
		u.note = o.archiveNote(n)
	}
	if n.Priority == "sample" {
		if _, isList := n.Payload.([]any); isList {
			if u.samples, err = ceilometerSamples(n.Payload, o.s.secret); err != nil {
				o.deadLetterErr(ctx, d, err, log)
				return nil
			}
			for i := range u.samples {
				s := &u.samples[i]
				if s.Timestamp.IsZero() {
					s.Timestamp = n.Timestamp
				}
				if s.MessageID == "" {
					s.MessageID = notification.DerivedID(n.MessageID, strconv.Itoa(i))
				}
			}
			return o.nonEmpty(ctx, u, log)
		}
	}
	// The engines decide which priorities they take: meters info and
	// sample, events info and error (as Ceilometer's endpoints). Both read
	// the same document, built once.
	n.PrepareDocument()
	var mapErrs []error
	noPayload := n.Payload == nil
	if noPayload {
		o.stats.noPayload.Add(1)
	}
	var meterErr error
	if u.samples, err = o.m.Samples(&n.Notification); err != nil && !errors.Is(err, notification.ErrNoMatch) {
		if noPayload {
			// Ceilometer drops the samples whose fields are not there; a
			// replay could not mend a notification without payload.
			log.Debug("meter definitions found nothing in a notification without payload", "event_type", n.EventType, "error", err)
		} else {
			// As Ceilometer, a failing meter definition loses its own
			// sample only: the others' samples and the event go on, and
			// the notification is acked (not dead-lettered).
			meterErr = err
			o.meterErrors(err, n.EventType, log)
		}
	}
	ev, ok, err := o.m.Event(&n.Notification)
	if err != nil {
		mapErrs = append(mapErrs, err)
	} else if ok {
		u.events = []sample.Event{ev}
	}
	if len(mapErrs) > 0 {
		detail := errors.Join(mapErrs...).Error()
		if u.note != nil {
			// Archived with the reason, then dead-lettered.
			u.note.Reason = reasonMapping + ": " + detail
		} else if len(u.samples)+len(u.events) == 0 {
			o.deadLetter(ctx, d, reasonMapping, detail, log)
			return nil
		}
		// What the other definitions made is emitted; once the host has
		// it, the notification is dead-lettered instead of acked, so the
		// failed definitions can be fixed and it replayed (the store
		// deduplicates what was already emitted by message_id).
		u.dead = &deadNote{reason: reasonMapping, detail: detail}
	} else if meterErr != nil {
		if u.note != nil {
			u.note.Reason = reasonMeterError + ": " + meterErr.Error()
		} else if len(u.samples)+len(u.events) == 0 {
			// It matched, so it is not counted as unmatched.
			if err := d.ack(); err != nil {
				log.Debug("ack delivery", "error", err)
			}
			return nil
		}
	}
	return o.nonEmpty(ctx, u, log)
}

// meterErrors counts each failed meter definition in err (one per
// *notification.MappingError, at least one) and warns, rate-limited, with
// the meter and the error.
func (o *oslo) meterErrors(err error, eventType string, log hclog.Logger) {
	var failed []*notification.MappingError
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case *notification.MappingError:
			failed = append(failed, x)
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	if len(failed) == 0 {
		if n := o.stats.meterErrors.Add(1); n == 1 || n%warnEvery == 0 {
			log.Warn("meter definition failed; its sample is skipped", "event_type", eventType, "count", n, "error", err)
		}
		return
	}
	for _, me := range failed {
		if n := o.stats.meterErrors.Add(1); n == 1 || n%warnEvery == 0 {
			log.Warn("meter definition failed; its sample is skipped", "meter", me.Definition, "event_type", eventType,
				"count", n, "error", me)
		}
	}
}

// nonEmpty acks a unit without samples or events (Ceilometer drops such a
// notification) and passes the others on.
func (o *oslo) nonEmpty(ctx context.Context, u *unit, log hclog.Logger) *unit {
	if len(u.samples)+len(u.events) > 0 {
		return u
	}
	if u.note != nil {
		// The archive keeps it: it is emitted alone, acked once stored.
		if u.dead == nil && u.note.Reason == "" {
			u.note.Reason = reasonUnmatched
			o.stats.unmatched.Add(1)
		}
		return u
	}
	if n := o.stats.unmatched.Add(1); n == 1 || n%warnEvery == 0 {
		log.Debug("notification matched no definition", "count", n, "routing_key", u.d.routingKey)
	}
	if err := u.d.ack(); err != nil {
		log.Debug("ack delivery", "error", err)
	}
	return nil
}

// priorityOf returns the priority a routing key "<topic>.<priority>" names.
func priorityOf(key string) string {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '.' {
			p := key[i+1:]
			if slices.Contains(allPriorities, p) {
				return p
			}
			break
		}
	}
	return "info"
}

// retryTable counts, per message_id, how often the host asked to retry a
// notification, across redeliveries and reconnections. Bounded: when full
// it is cleared, which at worst grants some messages extra retries.
type retryTable struct {
	mu     sync.Mutex
	counts map[string]int
}

func (t *retryTable) incr(key string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.counts) >= maxTrackedRetries {
		clear(t.counts)
	}
	t.counts[key]++
	return t.counts[key]
}

func (t *retryTable) forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.counts, key)
}
