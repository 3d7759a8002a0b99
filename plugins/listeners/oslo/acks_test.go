package main

import (
	"fmt"
	"math/rand/v2"
	"testing"

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
	require.NoError(t, s.ackAll(b, []uint64{3, 1, 2}))
	require.Equal(t, []string{"ack 3 true"}, b.frames, "one frame for a contiguous batch")
	require.NoError(t, s.settle(5, func() error { return b.Nack(5, false, true) }))
	require.NoError(t, s.ackAll(b, []uint64{6, 4}))
	require.Equal(t, []string{"ack 3 true", "nack 5 false", "ack 6 true"}, b.frames, "a multiple ack may span one settled alone")
	require.NoError(t, s.ackAll(b, []uint64{8, 9}))
	require.Equal(t, []string{"ack 8 false", "ack 9 false"}, b.frames[3:], "7 is pending: not covered")
	require.True(t, b.outstanding[7])
	require.NoError(t, s.settle(7, func() error { return b.Ack(7, false) }))
	require.NoError(t, s.ackAll(b, []uint64{10}))
	require.Equal(t, "ack 10 true", b.frames[len(b.frames)-1])
	require.Empty(t, b.outstanding)
	require.Equal(t, "nack", b.settled[5])
	require.Empty(t, s.done)
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
