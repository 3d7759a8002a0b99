package pipeline

import (
	"sync"

	"github.com/altimeter/altimeter/sdk/base"
)

// committer makes the disk queues of one sink durable in groups (group
// commit). The sink writes a batch into each publisher's queue without an
// fsync and goes on with the next batch; the committer fsyncs every queue
// written since its last round, all at once, and only then accepts the
// deliveries those writes carried. One fsync so covers every batch written
// while the previous one ran, and the transformers of the next batch run
// while the disk works, instead of after it (queues with sync_interval = 0,
// the default; a queue with an interval fsyncs on its own timer).
type committer struct {
	mu      sync.Mutex
	waiting []commitWait
	dirty   map[*queue]struct{}
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

// commitWait is one delivery's part waiting for its queue's fsync.
type commitWait struct {
	q *queue
	t *tracker
}

func newCommitter() *committer {
	return &committer{dirty: map[*queue]struct{}{}, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// add notes that q was written and, for a delivery (t != nil), that t's
// part for q is to be accepted once q is durable.
func (c *committer) add(q *queue, t *tracker) {
	c.mu.Lock()
	c.dirty[q] = struct{}{}
	if t != nil {
		c.waiting = append(c.waiting, commitWait{q: q, t: t})
	}
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// run commits until close; the last round runs after close, so nothing
// written is left unresolved.
func (c *committer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.kick:
			c.round()
		case <-c.stop:
			c.round()
			return
		}
	}
}

// close ends run after a last round and waits for it.
func (c *committer) close() {
	close(c.stop)
	<-c.done
}

// round fsyncs every queue written since the last round (in parallel when
// there are several) and resolves the deliveries waiting for them:
// Accepted, or Retry if the fsync failed (the batch stays in the queue,
// so the listener's resend can make it a duplicate, with the same message
// ids).
func (c *committer) round() {
	c.mu.Lock()
	waiting, dirty := c.waiting, c.dirty
	c.waiting, c.dirty = nil, map[*queue]struct{}{}
	c.mu.Unlock()
	if len(dirty) == 0 {
		return
	}
	errs := make(map[*queue]error, len(dirty))
	if len(dirty) == 1 {
		for q := range dirty {
			errs[q] = q.sp.Sync()
		}
	} else {
		var (
			wg sync.WaitGroup
			mu sync.Mutex
		)
		for q := range dirty {
			wg.Go(func() {
				err := q.sp.Sync()
				mu.Lock()
				errs[q] = err
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	for q, err := range errs {
		if err != nil {
			q.warnOnce(&q.ioWarned, "cannot sync the queue; refusing batches", "error", err)
		}
	}
	for _, w := range waiting {
		if err := errs[w.q]; err != nil {
			w.q.m.refusals.WithLabelValues(w.q.id, "io").Inc()
			w.t.resolve(base.Retry, "publisher "+w.q.id+": "+err.Error())
			continue
		}
		w.t.resolve(base.Accepted, "")
	}
}
