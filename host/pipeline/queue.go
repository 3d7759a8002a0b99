package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/altimeter/altimeter/host/pipeline/spool"
	"github.com/altimeter/altimeter/host/rawbatch"
	"github.com/altimeter/altimeter/internal/backoff"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/publisher"
)

// QueueOptions bound a publisher's queue and its retries.
type QueueOptions struct {
	// MaxSamples bounds the samples waiting for one publisher.
	MaxSamples int
	// MaxBatch bounds the samples sent in one Publish call; small queued
	// batches are merged up to it.
	MaxBatch int
	// Timeout bounds one Publish call.
	Timeout time.Duration
	// RetryMin and RetryMax bound the backoff between failed attempts.
	RetryMin, RetryMax time.Duration
}

func (o *QueueOptions) defaults() {
	if o.MaxSamples <= 0 {
		o.MaxSamples = 100_000
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 2_000
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 100 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 30 * time.Second
	}
}

type entry struct {
	batch *rawbatch.Batch
	t     *tracker  // nil for polled samples
	at    time.Time // when it was queued
}

// queue holds one publisher's pending batches; one worker drains it.
type queue struct {
	id   string
	pub  Publisher
	opts QueueOptions
	log  hclog.Logger
	m    pubSeries

	mu      sync.Mutex
	entries []entry
	// sending is what the worker of a memory queue took and has not
	// settled, for status.
	sending []entry
	size    int
	closed  bool
	wake    chan struct{}
	// closing is closed by close, waking a worker that sleeps between
	// retries so a stopping graph does not wait out a backoff.
	closing   chan struct{}
	closeOnce sync.Once

	// sp is the disk queue (nil: the queue is in memory).
	sp   *spool.Spool
	disk *DiskQueue
	// commit, when set, fsyncs what offerDisk writes (the sink's group
	// commit); otherwise each append is durable by itself.
	commit               *committer
	set                  *queueSet
	fullWarned, ioWarned bool
	// recent holds, by sequence number, batches appended to the disk
	// queue (up to MaxSamples samples), so that a worker that keeps up
	// publishes them without reading and decoding them back.
	recent        map[uint64]*rawbatch.Batch
	recentSamples int
}

// pubSeries are one publisher's metric series, resolved once so the batch
// path does no label lookups.
type pubSeries struct {
	in, out, dropped, rejected, failures, replayed prometheus.Counter
	queued                                         prometheus.Gauge
	duration                                       prometheus.Observer
	refusals                                       *prometheus.CounterVec
}

// newQueue builds a publisher's queue: on disk under disk.Dir, or in
// memory if disk is nil.
func newQueue(id string, pub Publisher, opts QueueOptions, disk *DiskQueue, m *Metrics, log hclog.Logger) (*queue, error) {
	opts.defaults()
	series := pubSeries{
		in: m.pubIn.WithLabelValues(id), out: m.pubOut.WithLabelValues(id), dropped: m.pubDropped.WithLabelValues(id),
		rejected: m.pubRejected.WithLabelValues(id), failures: m.pubFailures.WithLabelValues(id),
		queued: m.pubQueued.WithLabelValues(id), duration: m.pubDuration.WithLabelValues(id),
		replayed: m.pubReplayed.WithLabelValues(id), refusals: m.pubRefusals,
	}
	q := &queue{id: id, pub: pub, opts: opts, m: series, log: log.With("publisher", id), wake: make(chan struct{}, 1), closing: make(chan struct{})}
	if disk != nil {
		if err := q.openDisk(disk); err != nil {
			return nil, err
		}
		q.set = m.queues
		m.queues.add(q)
	}
	return q, nil
}

// offer queues b without blocking. Polled batches (t == nil) push out the
// oldest polled batches when the queue is full; a delivery that does not fit
// is answered Retry at once.
func (q *queue) offer(b *rawbatch.Batch, t *tracker) {
	n := batchLen(b)
	if n == 0 {
		t.resolve(base.Accepted, "")
		return
	}
	if q.sp != nil {
		q.offerDisk(b, t, n)
		return
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		q.refuse(b, t, "agent is stopping")
		return
	}
	if q.size+n > q.opts.MaxSamples {
		if t != nil {
			q.mu.Unlock()
			q.refuse(b, t, fmt.Sprintf("publisher %s queue is full", q.id))
			return
		}
		q.evictPolled(q.size + n - q.opts.MaxSamples)
		if q.size+n > q.opts.MaxSamples {
			q.mu.Unlock()
			q.m.dropped.Add(float64(n))
			return
		}
	}
	q.entries = append(q.entries, entry{batch: b, t: t, at: time.Now()})
	q.size += n
	q.m.in.Add(float64(n))
	q.m.queued.Set(float64(q.size))
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) refuse(b *rawbatch.Batch, t *tracker, reason string) {
	if t == nil {
		q.m.dropped.Add(float64(batchLen(b)))
		return
	}
	t.resolve(base.Retry, reason)
}

// evictPolled drops the oldest polled entries (never the one being sent,
// which is no longer in entries) until need samples are freed. Caller holds mu.
func (q *queue) evictPolled(need int) {
	kept := q.entries[:0]
	for _, e := range q.entries {
		if need > 0 && e.t == nil {
			need -= batchLen(e.batch)
			q.size -= batchLen(e.batch)
			q.m.dropped.Add(float64(batchLen(e.batch)))
			continue
		}
		kept = append(kept, e)
	}
	q.entries = kept
}

// take removes up to MaxBatch samples' worth of whole entries from the head.
func (q *queue) take() []entry {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.entries) == 0 {
		return nil
	}
	n, total := 0, 0
	for n < len(q.entries) {
		l := batchLen(q.entries[n].batch)
		if n > 0 && total+l > q.opts.MaxBatch {
			break
		}
		total += l
		n++
	}
	out := make([]entry, n)
	copy(out, q.entries[:n])
	q.entries = append(q.entries[:0], q.entries[n:]...)
	q.size -= total
	q.m.queued.Set(float64(q.size))
	return out
}

// batchLen is the number of items (samples and events) in b.
func batchLen(b *rawbatch.Batch) int { return b.Len() }

// merge joins queued batches for one Publish: their bytes are concatenated,
// nothing is decoded.
func merge(es []entry) *rawbatch.Batch {
	if len(es) == 1 {
		return es[0].batch
	}
	bs := make([]*rawbatch.Batch, len(es))
	for i, e := range es {
		bs[i] = e.batch
	}
	return rawbatch.Concat(bs)
}

// run drains the queue until ctx is done and the queue is closed and empty,
// or until stop's deadline passes.
func (q *queue) run(ctx context.Context) {
	if q.sp != nil {
		q.runDisk(ctx)
		return
	}
	for {
		es := q.take()
		if es == nil {
			q.mu.Lock()
			closed := q.closed
			q.mu.Unlock()
			if closed {
				return
			}
			select {
			case <-q.wake:
			case <-ctx.Done():
				q.abandon(nil)
				return
			}
			continue
		}
		if !q.publish(ctx, es) {
			q.abandon(es)
			return
		}
	}
}

// publish sends es until it is accepted or rejected; false means ctx ended first.
func (q *queue) publish(ctx context.Context, es []entry) bool {
	q.setSending(es)
	defer q.setSending(nil)
	b := merge(es)
	bo := backoff.Exp{Min: q.opts.RetryMin, Max: q.opts.RetryMax}
	failing := false
	for {
		r, err := q.attempt(ctx, b)
		if err == nil && r.Outcome != base.Retry {
			if failing {
				q.log.Info("publisher recovered")
			}
			q.settle(es, b, r.Outcome, r.Reason, len(r.Items))
			return true
		}
		reason := r.Reason
		if err != nil {
			reason = err.Error()
		}
		q.m.failures.Inc()
		if !failing {
			q.log.Warn("publish failed; retrying", "error", reason, "samples", batchLen(b))
			failing = true
		}
		// A delivery should not wait on a retry loop: hand it back to its
		// listener's broker and keep the polled samples.
		es = q.returnDeliveries(es, reason)
		q.setSending(es)
		if len(es) == 0 {
			return true
		}
		if q.draining() {
			// Stopping: do not spend the drain window retrying a publisher
			// that is down; what it holds is counted as dropped.
			return false
		}
		b = merge(es)
		t := time.NewTimer(bo.Next())
		select {
		case <-t.C:
		case <-q.closing:
			t.Stop()
			return false
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
}

func (q *queue) setSending(es []entry) {
	q.mu.Lock()
	q.sending = es
	q.mu.Unlock()
}

// attempt makes one Publish call, bounded by the queue's timeout.
func (q *queue) attempt(ctx context.Context, b *rawbatch.Batch) (publisher.Result, error) {
	cctx, cancel := context.WithTimeout(ctx, q.opts.Timeout)
	defer cancel()
	start := time.Now()
	r, err := q.pub.Publish(cctx, b)
	q.m.duration.Observe(time.Since(start).Seconds())
	return r, err
}

func (q *queue) returnDeliveries(es []entry, reason string) []entry {
	q.mu.Lock()
	waiting := q.entries[:0]
	var back []entry
	for _, e := range q.entries {
		if e.t != nil {
			back = append(back, e)
			q.size -= batchLen(e.batch)
			continue
		}
		waiting = append(waiting, e)
	}
	q.entries = waiting
	q.m.queued.Set(float64(q.size))
	q.mu.Unlock()
	for _, e := range back {
		e.t.resolve(base.Retry, reason)
	}
	kept := es[:0]
	for _, e := range es {
		if e.t != nil {
			e.t.resolve(base.Retry, reason)
			continue
		}
		kept = append(kept, e)
	}
	return kept
}

func (q *queue) settle(es []entry, b *rawbatch.Batch, o base.Outcome, reason string, rejectedItems int) {
	n := batchLen(b)
	switch o {
	case base.Rejected:
		q.m.rejected.Add(float64(n))
		q.log.Warn("publisher rejected a batch", "error", reason, "samples", n)
	default:
		q.m.out.Add(float64(n - rejectedItems))
		if rejectedItems > 0 {
			q.m.rejected.Add(float64(rejectedItems))
		}
	}
	for _, e := range es {
		e.t.resolve(o, reason)
	}
}

// abandon answers what is left when the agent stops before it was sent:
// deliveries get Retry (their broker keeps them), polled samples are counted
// as dropped.
func (q *queue) abandon(inFlight []entry) {
	q.mu.Lock()
	rest := append(inFlight, q.entries...)
	q.entries, q.size, q.closed = nil, 0, true
	q.m.queued.Set(0)
	q.mu.Unlock()
	for _, e := range rest {
		q.refuse(e.batch, e.t, "agent is stopping")
	}
}

func (q *queue) draining() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// close stops accepting; run returns once the queue is empty.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.closeOnce.Do(func() { close(q.closing) })
	select {
	case q.wake <- struct{}{}:
	default:
	}
}
