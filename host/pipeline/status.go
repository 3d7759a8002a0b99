package pipeline

import "time"

// QueueStatus is one publisher's queue as /v2/plugins shows it: what the
// publisher has not delivered yet, the batch it is sending included.
type QueueStatus struct {
	// Publisher is the publisher instance's ID (publisher.<name>.<sink>).
	Publisher string
	// Type is "disk" or "memory".
	Type string
	// Samples and Bytes are the undelivered items and their encoded size.
	Samples, Bytes int64
	// OldestAge is how long the oldest undelivered batch has waited (0
	// when the queue is empty).
	OldestAge time.Duration
	// MaxBytes and Full are a disk queue's bound and full policy; a
	// memory queue has MaxSamples instead.
	MaxBytes   int64
	Full       FullPolicy
	MaxSamples int
}

// Queues returns the depth of every publisher's queue, sink by sink in
// spec order, publishers in sink order.
func (g *Graph) Queues() []QueueStatus {
	now := time.Now()
	var out []QueueStatus
	for _, spec := range g.spec.Sinks {
		s, ok := g.sinks[spec.Name]
		if !ok {
			continue
		}
		for _, q := range s.queues {
			out = append(out, q.status(now))
		}
	}
	return out
}

func (q *queue) status(now time.Time) QueueStatus {
	st := QueueStatus{Publisher: q.id}
	var oldest time.Time
	if q.sp != nil {
		sp := q.sp.Stats()
		st.Type, st.Samples, st.Bytes, oldest = "disk", sp.Items, sp.Bytes, sp.Oldest
		st.MaxBytes, st.Full = q.disk.MaxBytes, q.disk.Full
	} else {
		st.Type, st.MaxSamples = "memory", q.opts.MaxSamples
		q.mu.Lock()
		for _, es := range [][]entry{q.sending, q.entries} {
			for _, e := range es {
				st.Samples += int64(batchLen(e.batch))
				st.Bytes += int64(len(e.batch.Bytes()))
				if oldest.IsZero() || e.at.Before(oldest) {
					oldest = e.at
				}
			}
		}
		q.mu.Unlock()
	}
	if !oldest.IsZero() {
		st.OldestAge = max(now.Sub(oldest), 0)
	}
	return st
}
