package main

import (
	"slices"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ackDelay is how long the acks of an accepted batch may wait for a
// delivery below them that is still pending, so that one multiple ack
// covers them all once it is settled, before they are sent one by one.
// The host answers the batches it stored together at once, and their
// goroutines ack in any order: without the wait, every batch that acked
// before an earlier one cost a frame per delivery.
const ackDelay = 20 * time.Millisecond

// settler settles the deliveries of one consuming channel, whose delivery
// tags the broker numbers 1, 2, 3... The acks of an accepted batch are sent
// as one basic.ack with multiple set, up to the highest of its tags below
// which every delivery is settled, instead of one frame per delivery. The
// tags of the batch above a delivery still pending (being processed, in
// another batch, or held for a delayed requeue) are held back for up to
// ackDelay: if the pending ones are settled meanwhile, a multiple ack
// covers them too; otherwise they are acked one by one, so nothing waits
// for long. Every settlement of the channel's deliveries goes through the
// settler, so a multiple ack never covers a delivery that is still
// pending. Safe for concurrent use.
type settler struct {
	mu    sync.Mutex
	next  uint64          // the lowest tag not known to be settled
	done  map[uint64]bool // settled tags above next; true: acked here, not yet sent to the broker
	held  int             // tags in done that are true
	delay time.Duration
	// acker is the channel's, from the last ackAll, for the held acks.
	acker  amqp.Acknowledger
	timer  *time.Timer // flushes the held acks; nil when none is armed
	closed bool
}

func newSettler() *settler { return &settler{next: 1, done: map[uint64]bool{}, delay: ackDelay} }

// ackAll acks the deliveries tagged tags (of one channel, whose
// Acknowledger is acker), each not yet settled. It returns the first error
// the broker connection gave.
func (s *settler) ackAll(acker amqp.Acknowledger, tags []uint64) error {
	if len(tags) == 0 {
		return nil
	}
	slices.Sort(tags)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acker = acker
	i := 0
	var upTo uint64 // the highest tag the multiple ack covers
	for {
		if i < len(tags) && tags[i] == s.next {
			upTo = tags[i]
			s.next++
			i++
			continue
		}
		if held, ok := s.done[s.next]; ok {
			if held {
				upTo = s.next
				s.held--
			}
			delete(s.done, s.next)
			s.next++
			continue
		}
		break
	}
	var first error
	if upTo != 0 {
		first = acker.Ack(upTo, true)
	}
	for _, t := range tags[i:] {
		if t < s.next {
			continue // settled already; never expected
		}
		if s.closed || s.delay <= 0 {
			if err := acker.Ack(t, false); err != nil && first == nil {
				first = err
			}
			s.done[t] = false
			continue
		}
		s.done[t] = true
		s.held++
	}
	if s.held > 0 && s.timer == nil {
		s.timer = time.AfterFunc(s.delay, s.flushHeld)
	}
	return first
}

// settle settles the delivery tagged tag alone with f (an ack or a nack of
// that tag only) and records it; acks held above it that it unblocks are
// sent as one multiple ack.
func (s *settler) settle(tag uint64, f func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := f()
	if tag < s.next {
		return err
	}
	if tag != s.next {
		s.done[tag] = false
		return err
	}
	s.next++
	var upTo uint64
	for {
		held, ok := s.done[s.next]
		if !ok {
			break
		}
		if held {
			upTo = s.next
			s.held--
		}
		delete(s.done, s.next)
		s.next++
	}
	if upTo != 0 {
		if aerr := s.acker.Ack(upTo, true); aerr != nil && err == nil {
			err = aerr
		}
	}
	return err
}

// flushHeld sends the held acks one by one.
func (s *settler) flushHeld() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timer = nil
	s.sendHeld()
}

// close sends the held acks (the session is ending) and holds no more.
func (s *settler) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.sendHeld()
}

// sendHeld acks each held tag alone. Caller holds mu. An error means the
// channel is gone, and with it the deliveries: the broker requeues them,
// and the store deduplicates them by message_id when they come back.
func (s *settler) sendHeld() {
	if s.held == 0 {
		return
	}
	held := make([]uint64, 0, s.held)
	for t, h := range s.done {
		if h {
			held = append(held, t)
		}
	}
	slices.Sort(held)
	for _, t := range held {
		_ = s.acker.Ack(t, false)
		s.done[t] = false
	}
	s.held = 0
}
