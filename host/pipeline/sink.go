package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/host/rawbatch"
	"github.com/altimeter/altimeter/sdk/base"
)

// NamedTransformer is a transformer instance with its ID.
type NamedTransformer struct {
	ID string
	Transformer
}

// NamedPublisher is a publisher instance with its ID.
type NamedPublisher struct {
	ID string
	Publisher
	// Disk puts the publisher's queue on disk; nil keeps it in memory.
	Disk *DiskQueue
}

// SinkSpec is one sink: an ordered transformer chain and its publishers.
type SinkSpec struct {
	Name         string
	Transformers []NamedTransformer
	Publishers   []NamedPublisher
}

type job struct {
	batch *rawbatch.Batch
	t     *tracker
}

// sink runs its transformer chain on one goroutine (transformers are never
// called concurrently) and fans out to its publishers' queues.
type sink struct {
	spec   SinkSpec
	in     chan job
	queues []*queue
	commit *committer // group commit of the disk queues fsynced per batch
	log    hclog.Logger
	m      *Metrics
	// TransformTimeout bounds one Transform call.
	transformTimeout time.Duration
}

func newSink(spec SinkSpec, qo QueueOptions, m *Metrics, log hclog.Logger) (*sink, error) {
	s := &sink{spec: spec, in: make(chan job, 64), log: log.With("sink", spec.Name), m: m, transformTimeout: 10 * time.Second}
	for _, p := range spec.Publishers {
		q, err := newQueue(p.ID, p.Publisher, qo, p.Disk, m, log)
		if err != nil {
			s.discard()
			return nil, fmt.Errorf("sink %q: %w", spec.Name, err)
		}
		if q.sp != nil && q.disk.SyncInterval <= 0 {
			if s.commit == nil {
				s.commit = newCommitter()
			}
			q.commit = s.commit
		}
		s.queues = append(s.queues, q)
	}
	return s, nil
}

// discard closes the disk queues of a sink that will not run.
func (s *sink) discard() {
	for _, q := range s.queues {
		if q.sp != nil {
			q.set.remove(q)
			_ = q.sp.Close()
		}
	}
}

// send hands a batch to the sink, waiting while its input is full; it
// reports false if ctx ended first. A tracked job must carry one part for
// this sink, added by the caller.
func (s *sink) send(ctx context.Context, j job) bool {
	select {
	case s.in <- j:
		return true
	case <-ctx.Done():
		return false
	}
}

// run processes jobs until in is closed, then flushes the transformers and
// closes the queues. Queue workers run under qctx, which ends the drain.
func (s *sink) run(ctx, qctx context.Context) {
	if s.commit != nil {
		go s.commit.run()
	}
	var wg sync.WaitGroup
	for _, q := range s.queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.run(qctx)
		}()
	}
	for j := range s.in {
		s.process(ctx, j)
	}
	s.flush(qctx)
	if s.commit != nil {
		s.commit.close() // every delivery written is resolved
	}
	for _, q := range s.queues {
		q.close()
	}
	wg.Wait()
}

func (s *sink) process(ctx context.Context, j job) {
	b := j.batch
	for _, tr := range s.spec.Transformers {
		if b.Samples() == 0 {
			break
		}
		tctx, cancel := context.WithTimeout(ctx, s.transformTimeout)
		start := time.Now()
		out, err := tr.Transform(tctx, b)
		cancel()
		s.m.transformDur.WithLabelValues(tr.ID).Observe(time.Since(start).Seconds())
		if err != nil {
			s.m.transformErrors.WithLabelValues(tr.ID).Inc()
			s.log.Warn("transform failed", "transformer", tr.ID, "samples", b.Samples(), "error", err)
			if j.t != nil {
				j.t.resolve(base.Retry, "transform "+tr.ID+": "+err.Error())
			} else {
				for _, q := range s.queues {
					q.m.dropped.Add(float64(batchLen(b)))
				}
			}
			return
		}
		b = out
	}
	s.fanout(b, j.t)
	// The sink's own part, added by the source, ends once the publishers'
	// parts are registered.
	j.t.resolve(base.Accepted, "")
}

func (s *sink) fanout(b *rawbatch.Batch, t *tracker) {
	t.add(len(s.queues))
	for _, q := range s.queues {
		// Publishers never modify a batch, so they may share it.
		q.offer(b, t)
	}
}

func (s *sink) flush(ctx context.Context) {
	for i, tr := range s.spec.Transformers {
		fctx, cancel := context.WithTimeout(ctx, s.transformTimeout)
		out, err := tr.Flush(fctx)
		cancel()
		if err != nil {
			s.log.Warn("flush failed", "transformer", tr.ID, "error", err)
			continue
		}
		if len(out) == 0 {
			continue
		}
		b, err := rawbatch.FromSamples(out)
		if err != nil {
			s.log.Warn("flush failed", "transformer", tr.ID, "error", err)
			continue
		}
		for _, next := range s.spec.Transformers[i+1:] {
			tctx, cancel := context.WithTimeout(ctx, s.transformTimeout)
			nb, err := next.Transform(tctx, b)
			cancel()
			if err != nil {
				s.log.Warn("transform failed", "transformer", next.ID, "error", err)
				b = nil
				break
			}
			b = nb
		}
		s.fanout(b, nil)
	}
}
