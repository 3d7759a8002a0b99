package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/listener"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// TestIntegrationFoldedAcks consumes many small batches from a real
// broker, with dead letters (settled one by one) interleaved, and checks
// that the folded acks settled every delivery exactly once: the channel
// never failed (RabbitMQ closes it on an unknown delivery tag), and once
// the listener is gone nothing is requeued (an unacked delivery would be).
func TestIntegrationFoldedAcks(t *testing.T) {
	rmq := peer.NeedRabbitMQ(t)
	url := peer.VHost(t, rmq)
	o := novaListener(t, url, func(c *config) {
		c.BatchSize = 13 // a few notifications (6 samples and events each) per batch
	})

	const good, bad = 400, 40
	pub := newPublisher(t, url)
	for i := range good {
		pub.publish(t, "nova", "notifications.info", existsNotice(t, fmt.Sprintf("i-%04d", i)))
		if i%(good/bad) == 0 {
			pub.publish(t, "nova", "notifications.info", []byte(`{"event_type": "x.y"`))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = o.Listen(ctx, func(context.Context, sample.Batch) error { return nil })
	}()
	waitFor(t, "every notification settled", time.Minute, func() bool {
		return o.stats.notifications.Load() == good && o.stats.dead[reasonBadJSON].Load() == bad
	})
	cancel()
	<-done
	require.Zero(t, o.stats.reconnects.Load(), "the consuming channel never failed")
	require.Zero(t, queueLen(t, url, "notifications.info"), "nothing left unacked to be requeued")
}

// TestIntegrationUnencodableBatch: a batch the SDK cannot send to the host
// (Emit's error wraps listener.ErrUnencodable: too large once mapped) is
// sent again one notification at a time; the notifications that can be
// sent are accepted and acked, the one that cannot is dead-lettered with
// reason unencodable (counted as dead_lettered_unencodable, not as
// rejected by the host).
func TestIntegrationUnencodableBatch(t *testing.T) {
	rmq := peer.NeedRabbitMQ(t)
	url := peer.VHost(t, rmq)
	o := novaListener(t, url, func(c *config) {
		c.BatchSize, c.BatchTimeout = 100, "500ms" // several notifications per batch
	})

	const good = 12
	pub := newPublisher(t, url)
	for i := range good {
		pub.publish(t, "nova", "notifications.info", existsNotice(t, fmt.Sprintf("i-%02d", i)))
		if i == good/2 {
			pub.publish(t, "nova", "notifications.info", existsNotice(t, "i-huge"))
		}
	}
	var (
		mu       sync.Mutex
		batches  int
		accepted = map[string]bool{}
	)
	emit := func(_ context.Context, b sample.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		batches++
		for _, s := range b.Samples {
			if s.ResourceID == "i-huge" {
				return fmt.Errorf("encode delivery: 300000000 bytes, more than the 268435456 a message may have: %w: %w",
					listener.ErrUnencodable, listener.ErrRejected)
			}
		}
		for _, s := range b.Samples {
			accepted[s.ResourceID] = true
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = o.Listen(ctx, emit)
	}()
	waitFor(t, "every notification settled", time.Minute, func() bool {
		return o.stats.notifications.Load() == good && o.stats.dead[reasonUnencodable].Load() == 1
	})
	dead := readQueue(t, url, "altimeter.dead", 1, 10*time.Second)
	require.Equal(t, reasonUnencodable, dead[0].Headers[headerReason])
	require.Equal(t, string(existsNotice(t, "i-huge")), string(dead[0].Body))
	require.Contains(t, dead[0].Headers[headerError], "more than the")
	cancel()
	<-done
	mu.Lock()
	require.Len(t, accepted, good, "every other notification reached the host")
	require.Greater(t, batches, good/2, "the batch holding i-huge was sent again one by one")
	mu.Unlock()
	c2 := o.Counters()
	require.Equal(t, uint64(1), c2["dead_lettered_unencodable"])
	require.Zero(t, c2["dead_lettered_rejected"])
	require.Zero(t, queueLen(t, url, "notifications.info"), "nothing left unacked to be requeued")
}

// novaListener returns a listener of url's nova info notifications with
// the built-in definitions and config edited by edit, its topology
// declared, not started.
func novaListener(t *testing.T, url string, edit func(c *config)) *oslo {
	t.Helper()
	c := defaultConfig()
	c.TransportURLs, c.Exchanges, c.Priorities = []string{url}, []string{"nova"}, []string{"info"}
	edit(&c)
	s, err := validate(c)
	require.NoError(t, err)
	m, err := loadMapper(s)
	require.NoError(t, err)
	o := newWithMapper(s, m, sdktest.Logger(t))
	declareOnly(t, o, url)
	return o
}
