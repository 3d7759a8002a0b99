package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// brokerAcker settles tags as RabbitMQ does on one channel: a tag must be
// outstanding (else the channel fails with "unknown delivery tag"), and a
// multiple ack settles every outstanding tag up to it. It also records
// the frames sent.
type brokerAcker struct {
	outstanding map[uint64]bool
	settled     map[uint64]string // tag -> how
	frames      []string
}

func newBrokerAcker(n int) *brokerAcker {
	b := &brokerAcker{outstanding: map[uint64]bool{}, settled: map[uint64]string{}}
	for t := 1; t <= n; t++ {
		b.outstanding[uint64(t)] = true
	}
	return b
}

func (b *brokerAcker) settle(tag uint64, multiple bool, how string) error {
	if !b.outstanding[tag] {
		return fmt.Errorf("unknown delivery tag %d", tag)
	}
	for t := range b.outstanding {
		if t == tag || multiple && t < tag {
			delete(b.outstanding, t)
			b.settled[t] = how
		}
	}
	return nil
}

func (b *brokerAcker) Ack(tag uint64, multiple bool) error {
	b.frames = append(b.frames, fmt.Sprintf("ack %d %v", tag, multiple))
	return b.settle(tag, multiple, "ack")
}

func (b *brokerAcker) Nack(tag uint64, multiple, _ bool) error {
	b.frames = append(b.frames, fmt.Sprintf("nack %d %v", tag, multiple))
	return b.settle(tag, multiple, "nack")
}

func (b *brokerAcker) Reject(tag uint64, _ bool) error { return b.Nack(tag, false, false) }

func TestSettler(t *testing.T) {
	t.Parallel()
	b := newBrokerAcker(10)
	s := newSettler()
	s.delay = time.Hour // held acks wait for a multiple ack
	require.NoError(t, s.ackAll(b, []uint64{3, 1, 2}))
	require.Equal(t, []string{"ack 3 true"}, b.frames, "one frame for a contiguous batch")
	require.NoError(t, s.settle(5, func() error { return b.Nack(5, false, true) }))
	require.NoError(t, s.ackAll(b, []uint64{6, 4}))
	require.Equal(t, []string{"ack 3 true", "nack 5 false", "ack 6 true"}, b.frames, "a multiple ack may span one settled alone")
	require.NoError(t, s.ackAll(b, []uint64{8, 9}))
	require.Len(t, b.frames, 3, "7 is pending: 8 and 9 are held for a multiple ack")
	require.True(t, b.outstanding[7])
	require.True(t, b.outstanding[8])
	require.NoError(t, s.settle(7, func() error { return b.Ack(7, false) }))
	require.Equal(t, []string{"ack 7 false", "ack 9 true"}, b.frames[3:], "settling 7 releases 8 and 9 in one frame")
	require.NoError(t, s.ackAll(b, []uint64{10}))
	require.Equal(t, "ack 10 true", b.frames[len(b.frames)-1])
	require.Empty(t, b.outstanding)
	require.Equal(t, "nack", b.settled[5])
	require.Empty(t, s.done)
}

// TestSettlerHeldAcksSent: acks held above a delivery that stays pending
// (held for a delayed requeue, say) are sent one by one after ackDelay,
// and at once when the settler is closed.
func TestSettlerHeldAcksSent(t *testing.T) {
	t.Parallel()
	b := newLockedAcker(newBrokerAcker(6))
	s := newSettler()
	require.NoError(t, s.ackAll(b, []uint64{2, 3}))
	require.Eventually(t, func() bool { return len(b.frameList()) == 2 }, 5*time.Second, time.Millisecond)
	require.Equal(t, []string{"ack 2 false", "ack 3 false"}, b.frameList())
	require.NoError(t, s.settle(1, func() error { return b.Ack(1, false) }))
	require.Equal(t, "ack 1 false", b.frameList()[2], "2 and 3 were sent already: no multiple ack")
	require.Len(t, b.frameList(), 3)

	s.delay = time.Hour
	require.NoError(t, s.ackAll(b, []uint64{5}))
	require.Len(t, b.frameList(), 3)
	s.close()
	require.Equal(t, "ack 5 false", b.frameList()[3])
	require.NoError(t, s.ackAll(b, []uint64{6}))
	require.Equal(t, "ack 6 false", b.frameList()[4], "closed: nothing is held")
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Equal(t, map[uint64]bool{4: true}, b.b.outstanding)
}

// lockedAcker is a brokerAcker for a settler whose timer acks from its
// own goroutine.
type lockedAcker struct {
	mu sync.Mutex
	b  *brokerAcker
}

func newLockedAcker(b *brokerAcker) *lockedAcker { return &lockedAcker{b: b} }

func (l *lockedAcker) Ack(tag uint64, multiple bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Ack(tag, multiple)
}

func (l *lockedAcker) Nack(tag uint64, multiple, requeue bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Nack(tag, multiple, requeue)
}

func (l *lockedAcker) Reject(tag uint64, requeue bool) error { return l.Nack(tag, false, requeue) }

func (l *lockedAcker) frameList() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.b.frames)
}

// TestSettlerRandom settles deliveries in random orders and groupings, as
// workers, batches and retries do, against the broker's rules: no frame
// names a tag that is not outstanding, and every delivery is settled the
// way it was meant to be.
func TestSettlerRandom(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		n := 1 + rng.IntN(60)
		b := newBrokerAcker(n)
		s := newSettler()
		// Half the rounds hold acks above a pending delivery until a
		// multiple ack covers them, half send them at once.
		s.delay = []time.Duration{0, time.Hour}[round%2]
		want := map[uint64]string{}
		order := rng.Perm(n)
		for len(order) > 0 {
			k := 1 + rng.IntN(min(len(order), 8))
			group := order[:k]
			order = order[k:]
			if rng.IntN(4) == 0 { // settled alone: dead-lettered or requeued
				for _, i := range group {
					tag := uint64(i + 1)
					how := []string{"ack", "nack"}[rng.IntN(2)]
					want[tag] = how
					err := s.settle(tag, func() error {
						if how == "ack" {
							return b.Ack(tag, false)
						}
						return b.Nack(tag, false, true)
					})
					require.NoError(t, err, "round %d", round)
				}
				continue
			}
			tags := make([]uint64, 0, k)
			for _, i := range group {
				tags = append(tags, uint64(i+1))
				want[uint64(i+1)] = "ack"
			}
			require.NoError(t, s.ackAll(b, tags), "round %d", round)
		}
		require.Empty(t, b.outstanding, "round %d", round)
		require.Equal(t, want, b.settled, "round %d", round)
		require.Empty(t, s.done, "round %d", round)
		require.Equal(t, uint64(n+1), s.next, "round %d", round)
	}
}
