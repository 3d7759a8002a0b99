package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/altimeter/altimeter/host/pipeline/spool"
	"github.com/altimeter/altimeter/host/rawbatch"
	"github.com/altimeter/altimeter/sdk/base"
)

// FullPolicy is what a disk queue does when it holds MaxBytes.
type FullPolicy string

const (
	// DropOldest drops the oldest queued batches to make room, counting
	// their samples as dropped (Telegraf's metric buffer, Ceilometer's
	// notifier publisher with policy = queue). The default.
	DropOldest FullPolicy = "drop_oldest"
	// Block refuses new batches: a listener's delivery is answered Retry,
	// so its broker keeps it; polled samples, which have nowhere else to
	// wait, are dropped and counted.
	Block FullPolicy = "block"
)

// DiskQueue puts a publisher's queue on disk (package spool): a batch is
// accepted once it is durable there, and the publisher is fed from it at its
// own pace, across restarts.
type DiskQueue struct {
	// Dir holds the queue's segment files (<data_dir>/queues/<sink>/<publisher>).
	Dir string
	// MaxBytes bounds the queue (default 1 GiB).
	MaxBytes int64
	Full     FullPolicy
	// SyncInterval is 0 to fsync every batch before accepting it, or how
	// long a written batch may wait for its fsync (lost only if the
	// machine, not the agent, crashes in that window).
	SyncInterval time.Duration
}

// DefaultQueueMaxBytes bounds a disk queue whose config sets no max_bytes.
const DefaultQueueMaxBytes = 1 << 30

func (q *queue) openDisk(d *DiskQueue) error {
	maxBytes := d.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultQueueMaxBytes
	}
	sp, err := spool.Open(d.Dir, spool.Options{MaxBytes: maxBytes, DropOldest: d.Full != Block,
		SyncInterval: d.SyncInterval, Logger: q.log})
	if err != nil {
		return fmt.Errorf("publisher %s: open queue: %w", q.id, err)
	}
	q.sp = sp
	dq := *d
	dq.MaxBytes = maxBytes
	if dq.Full == "" {
		dq.Full = DropOldest
	}
	q.disk = &dq
	q.recent = map[uint64]*rawbatch.Batch{}
	st := sp.Stats()
	if st.Items > 0 {
		q.m.replayed.Add(float64(st.Items))
		q.log.Info("replaying queued batches", "queue_dir", d.Dir, "batches", st.Records, "samples", st.Items, "bytes", st.Bytes)
	}
	q.m.queued.Set(float64(st.Items))
	return nil
}

// offerDisk appends b to the disk queue and answers t at once: Accepted
// once it is durable, Retry if the queue is full (block) or the write
// failed.
func (q *queue) offerDisk(b *rawbatch.Batch, t *tracker, n int) {
	write := q.sp.Append
	if q.commit != nil {
		write = q.sp.Write // the sink's committer fsyncs
	}
	seq, dropped, err := write(b.Bytes(), n, time.Now())
	if dropped > 0 {
		q.m.dropped.Add(float64(dropped))
		q.warnOnce(&q.fullWarned, "queue full; dropped the oldest batches", "dropped_samples", dropped)
	}
	if err != nil {
		reason := "io"
		switch {
		case errors.Is(err, spool.ErrFull), errors.Is(err, spool.ErrTooLarge):
			reason = "full"
			q.warnOnce(&q.fullWarned, "queue full; refusing batches until the publisher catches up", "error", err)
		case errors.Is(err, spool.ErrClosed):
			reason = "closed"
		default:
			q.warnOnce(&q.ioWarned, "cannot write to the queue; refusing batches", "error", err)
		}
		q.m.refusals.WithLabelValues(q.id, reason).Inc()
		q.refuse(b, t, fmt.Sprintf("publisher %s: %v", q.id, err))
		return
	}
	q.mu.Lock()
	q.fullWarned, q.ioWarned = false, false
	if q.recentSamples+n <= q.opts.MaxSamples {
		q.recent[seq] = b
		q.recentSamples += n
	}
	q.mu.Unlock()
	q.m.in.Add(float64(n))
	q.m.queued.Set(float64(q.sp.Stats().Items))
	if q.commit != nil {
		q.commit.add(q, t)
	} else {
		t.resolve(base.Accepted, "")
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// warnOnce logs msg the first time flag is raised since it was last cleared.
func (q *queue) warnOnce(flag *bool, msg string, args ...any) {
	q.mu.Lock()
	first := !*flag
	*flag = true
	q.mu.Unlock()
	if first {
		q.log.Warn(msg, args...)
	}
}

// runDisk feeds the publisher from the disk queue until ctx is done, or the
// queue is closed and either empty or its publisher failing; what it did not
// deliver stays queued for the next start.
func (q *queue) runDisk(ctx context.Context) {
	defer func() {
		q.set.remove(q)
		if err := q.sp.Close(); err != nil {
			q.log.Warn("close queue", "error", err)
		}
	}()
	for {
		if ctx.Err() != nil {
			return
		}
		rs, err := q.sp.Read(q.opts.MaxBatch, q.cached)
		if err != nil {
			q.log.Error("read queue", "error", err)
			q.m.refusals.WithLabelValues(q.id, "read").Inc()
			if !q.sleep(ctx, time.Second) {
				return
			}
			q.sp.Rewind()
			continue
		}
		if len(rs) == 0 {
			if q.draining() {
				return
			}
			select {
			case <-q.wake:
			case <-q.closing:
				return
			case <-ctx.Done():
				return
			}
			continue
		}
		if !q.publishRecords(ctx, rs) {
			return
		}
	}
}

// publishRecords sends rs until they are accepted or rejected, then
// acknowledges them in the queue; false means the queue is stopping and rs
// stay queued.
func (q *queue) publishRecords(ctx context.Context, rs []spool.Record) bool {
	q.forget(rs[0].Seq)
	bs := make([]*rawbatch.Batch, 0, len(rs))
	for _, r := range rs {
		one := q.takeRecent(r.Seq)
		if one == nil {
			var err error
			if one, err = rawbatch.Parse(r.Data); err != nil {
				q.log.Error("undecodable queued batch; skipping it", "seq", r.Seq, "error", err)
				q.m.rejected.Add(float64(r.Items))
				continue
			}
		}
		bs = append(bs, one)
	}
	var b *rawbatch.Batch
	if len(bs) > 0 {
		// The encoding of repeated fields concatenates: merged records
		// are one batch, nothing decoded.
		b = rawbatch.Concat(bs)
	}
	last := rs[len(rs)-1].Seq
	backoff := q.opts.RetryMin
	failing := false
	for batchLen(b) > 0 {
		r, err := q.attempt(ctx, b)
		if err == nil && r.Outcome != base.Retry {
			if failing {
				q.log.Info("publisher recovered")
			}
			q.settle(nil, b, r.Outcome, r.Reason, len(r.Items))
			break
		}
		reason := r.Reason
		if err != nil {
			reason = err.Error()
		}
		q.m.failures.Inc()
		if !failing {
			q.log.Warn("publish failed; retrying from the queue", "error", reason, "samples", batchLen(b))
			failing = true
		}
		if q.draining() || !q.sleep(ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, q.opts.RetryMax)
	}
	if err := q.sp.Ack(last); err != nil {
		q.log.Warn("acknowledge queued batches", "error", err)
	}
	q.m.queued.Set(float64(q.sp.Stats().Items))
	return true
}

// cached reports whether the batch of record seq is in memory.
func (q *queue) cached(seq uint64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.recent[seq]
	return ok
}

// takeRecent removes and returns the in-memory batch of record seq, or nil.
func (q *queue) takeRecent(seq uint64) *rawbatch.Batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	b, ok := q.recent[seq]
	if !ok {
		return nil
	}
	delete(q.recent, seq)
	q.recentSamples -= batchLen(b)
	return b
}

// forget drops the in-memory batches of records before seq, which the
// queue dropped (drop_oldest) without their being read.
func (q *queue) forget(seq uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for s, b := range q.recent {
		if s < seq {
			delete(q.recent, s)
			q.recentSamples -= batchLen(b)
		}
	}
}

// sleep waits d; false if the queue is closing or ctx ended first.
func (q *queue) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-q.closing:
		return false
	case <-ctx.Done():
		return false
	}
}
