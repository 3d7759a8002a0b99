package main

import (
	"slices"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// settler settles the deliveries of one consuming channel, whose delivery
// tags the broker numbers 1, 2, 3... The acks of an accepted batch are sent
// as one basic.ack with multiple set, up to the highest of its tags below
// which every delivery is settled, instead of one frame per delivery; the
// tags of the batch above a delivery still pending (being processed, in
// another batch, or held for a delayed requeue) are acked one by one, so
// nothing waits for it. Every settlement of the channel's deliveries goes
// through the settler, so a multiple ack never covers a delivery that is
// still pending. Safe for concurrent use.
type settler struct {
	mu   sync.Mutex
	next uint64              // the lowest tag not known to be settled
	done map[uint64]struct{} // settled tags above next
}

func newSettler() *settler { return &settler{next: 1, done: map[uint64]struct{}{}} }

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
	i := 0
	var upTo uint64 // the highest tag of tags the multiple ack covers
	for {
		if i < len(tags) && tags[i] == s.next {
			upTo = tags[i]
			s.next++
			i++
			continue
		}
		if _, ok := s.done[s.next]; ok {
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
		if err := acker.Ack(t, false); err != nil && first == nil {
			first = err
		}
		s.done[t] = struct{}{}
	}
	return first
}

// settle settles the delivery tagged tag alone with f (an ack or a nack of
// that tag only) and records it.
func (s *settler) settle(tag uint64, f func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := f()
	if tag < s.next {
		return err
	}
	if tag != s.next {
		s.done[tag] = struct{}{}
		return err
	}
	s.next++
	for {
		if _, ok := s.done[s.next]; !ok {
			return err
		}
		delete(s.done, s.next)
		s.next++
	}
}
