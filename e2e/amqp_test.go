package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
)

// withChannel runs f on a channel of a new connection to url, closed after.
func withChannel(url string, f func(ch *amqp.Channel) error) error {
	conn, err := amqp.Dial(url)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("channel: %w", err)
	}
	return f(ch)
}

// inspectQueue is queue's state on the broker at url (an error if it is
// not declared).
func inspectQueue(url, queue string) (amqp.Queue, error) {
	var q amqp.Queue
	err := withChannel(url, func(ch *amqp.Channel) (err error) {
		q, err = ch.QueueDeclarePassive(queue, false, false, false, false, nil)
		return err
	})
	return q, err
}

// queueDeclared reports whether queue exists on the broker at url.
func queueDeclared(url, queue string) bool {
	_, err := inspectQueue(url, queue)
	return err == nil
}

// queueReady is the number of messages ready (not delivered) on queue.
func queueReady(t *testing.T, url, queue string) int {
	t.Helper()
	q, err := inspectQueue(url, queue)
	require.NoError(t, err)
	return q.Messages
}

// publishAll publishes bodies as nova's info notifications.
func publishAll(t *testing.T, url string, bodies [][]byte) {
	t.Helper()
	publishTo(t, url, "nova", "notifications.info", bodies...)
}

// publishTo publishes bodies, persistent, to exchange with routing key
// key, and waits for the broker to confirm every one.
func publishTo(t *testing.T, url, exchange, key string, bodies ...[]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, withChannel(url, func(ch *amqp.Channel) error {
		if err := ch.Confirm(false); err != nil {
			return err
		}
		confirms := ch.NotifyPublish(make(chan amqp.Confirmation, len(bodies)))
		for _, b := range bodies {
			if err := ch.PublishWithContext(ctx, exchange, key, false, false, amqp.Publishing{
				ContentType: "application/json", ContentEncoding: "utf-8", DeliveryMode: amqp.Persistent, Body: b,
			}); err != nil {
				return err
			}
		}
		for range bodies {
			select {
			case c := <-confirms:
				if !c.Ack {
					return fmt.Errorf("broker nacked publish %d", c.DeliveryTag)
				}
			case <-ctx.Done():
				return fmt.Errorf("publisher confirms: %w", ctx.Err())
			}
		}
		return nil
	}))
}
