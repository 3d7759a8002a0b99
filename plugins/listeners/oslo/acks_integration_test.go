package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
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
	c := defaultConfig()
	c.TransportURLs, c.Exchanges, c.Priorities = []string{url}, []string{"nova"}, []string{"info"}
	c.BatchSize = 13 // a few notifications (6 samples and events each) per batch
	s, err := validate(c)
	require.NoError(t, err)
	m, err := loadMapper(s)
	require.NoError(t, err)
	o := newWithMapper(s, m, sdktest.Logger(t))
	declareOnly(t, o, url)

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
