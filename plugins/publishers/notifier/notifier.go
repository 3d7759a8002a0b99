package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

// Limits.
const (
	maxBatchLimit = 10_000
	// eventType is what Ceilometer's SampleNotifierPublisher sends as the
	// notification's event_type (its metering topic).
	eventType = "metering"
	priority  = "SAMPLE"
)

type config struct {
	TransportURL  string `hcl:"transport_url,optional" desc:"AMQP URL of the broker (amqp:// or amqps://, the vhost as path)"`
	Exchange      string `hcl:"exchange,optional" desc:"control exchange to publish to (Ceilometer's: \"ceilometer\")"`
	Topic         string `hcl:"topic,optional" desc:"notification topic; the routing key is <topic>.sample"`
	PerMeterTopic bool   `hcl:"per_meter_topic,optional" desc:"also publish each meter's samples on <topic>.<meter>.sample, as Ceilometer's per_meter_topic=1"`
	Durable       bool   `hcl:"durable,optional" desc:"declare the exchange and queue durable and send persistent messages (oslo's amqp_durable_queues)"`
	PublisherID   string `hcl:"publisher_id,optional" desc:"publisher_id of the notifications (default telemetry.publisher.<hostname>)"`
	SecretFile    string `hcl:"telemetry_secret_file,optional" desc:"file holding Ceilometer's telemetry_secret, to sign each sample (read at start)"`
	SecretEnv     string `hcl:"telemetry_secret_env,optional" desc:"environment variable holding the telemetry secret (instead of the file)"`
	BatchSize     int    `hcl:"batch_size,optional" desc:"samples per notification"`
	Timeout       string `hcl:"timeout,optional" desc:"bound on connecting and on waiting for the broker's confirm"`
}

func defaultConfig() config {
	return config{TransportURL: "amqp://guest:guest@127.0.0.1:5672/", Exchange: "ceilometer", Topic: "metering",
		BatchSize: 1000, Timeout: "10s"}
}

type notifier struct {
	cfg     config
	secret  string
	timeout time.Duration
	log     hclog.Logger

	conn *amqp.Connection
	ch   *amqp.Channel
	// declared holds the routing keys whose queue was declared on this
	// connection.
	declared map[string]bool

	notifications, confirmFailures, connectErrors, skippedEvents atomic.Uint64
}

var _ publisher.Publisher = (*notifier)(nil)

func newNotifier(c config, log hclog.Logger) (*notifier, error) {
	var errs []error
	u, err := url.Parse(c.TransportURL)
	if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") || u.Host == "" {
		errs = append(errs, schema.AttrError("transport_url", "must be an amqp:// or amqps:// URL, e.g. \"amqp://guest:guest@127.0.0.1:5672/\""))
	}
	if c.Exchange == "" || len(c.Exchange) > 255 {
		errs = append(errs, schema.AttrError("exchange", "must be a name of 1 to 255 bytes"))
	}
	if c.Topic == "" || len(c.Topic) > 200 {
		errs = append(errs, schema.AttrError("topic", "must be a name of 1 to 200 bytes"))
	}
	if c.BatchSize < 1 || c.BatchSize > maxBatchLimit {
		errs = append(errs, schema.AttrError("batch_size", fmt.Sprintf("must be from 1 to %d", maxBatchLimit)))
	}
	d, err := time.ParseDuration(c.Timeout)
	if err != nil || d <= 0 || d > 10*time.Minute {
		errs = append(errs, schema.AttrError("timeout", "must be a duration from 1ms to 10m, e.g. \"10s\""))
	}
	secret, err := schema.Secret("telemetry_secret", "", c.SecretEnv, c.SecretFile)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if c.PublisherID == "" {
		host, _ := os.Hostname()
		c.PublisherID = "telemetry.publisher." + host
	}
	return &notifier{cfg: c, secret: secret, timeout: d, log: log}, nil
}

// redacted is the broker URL without credentials, for logs and errors.
func (n *notifier) redacted() string {
	u, err := url.Parse(n.cfg.TransportURL)
	if err != nil {
		return "amqp"
	}
	u.User = nil
	return u.String()
}

// connect opens the connection and a confirming channel, and declares the
// exchange, if they are not open.
func (n *notifier) connect(ctx context.Context) error {
	if n.ch != nil && !n.ch.IsClosed() && !n.conn.IsClosed() {
		return nil
	}
	n.drop()
	cfg := amqp.Config{Dial: amqp.DefaultDial(n.timeout), Properties: amqp.Table{"connection_name": "altimeter publisher.notifier"}}
	conn, err := amqp.DialConfig(n.cfg.TransportURL, cfg)
	if err != nil {
		n.connectErrors.Add(1)
		return fmt.Errorf("connect to %s: %w", n.redacted(), err)
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err == nil {
		err = ch.ExchangeDeclare(n.cfg.Exchange, "topic", n.cfg.Durable, false, false, false, nil)
	}
	if err != nil {
		_ = conn.Close()
		n.connectErrors.Add(1)
		return fmt.Errorf("open channel on %s: %w", n.redacted(), err)
	}
	n.conn, n.ch, n.declared = conn, ch, map[string]bool{}
	return ctx.Err()
}

func (n *notifier) drop() {
	if n.conn != nil {
		_ = n.conn.Close()
	}
	n.conn, n.ch = nil, nil
}

// declareQueue declares and binds the queue named after routing key, as
// oslo.messaging's rabbit driver does before sending a notification, so
// notifications wait in the broker when no consumer is up yet.
func (n *notifier) declareQueue(key string) error {
	if n.declared[key] {
		return nil
	}
	if _, err := n.ch.QueueDeclare(key, n.cfg.Durable, false, false, false, nil); err != nil {
		return fmt.Errorf("declare queue %s: %w", key, err)
	}
	if err := n.ch.QueueBind(key, key, n.cfg.Exchange, false, nil); err != nil {
		return fmt.Errorf("bind queue %s: %w", key, err)
	}
	n.declared[key] = true
	return nil
}

// Publish sends b's samples as notifications of up to batch_size samples
// and waits for the broker to confirm each. Anything short of every
// confirm is a retry: the host sends the batch again from its queue, with
// the same message ids.
func (n *notifier) Publish(ctx context.Context, b *sample.Batch) error {
	if len(b.Events) > 0 {
		n.skippedEvents.Add(uint64(len(b.Events)))
	}
	if len(b.Samples) == 0 {
		return nil
	}
	if err := n.connect(ctx); err != nil {
		return publisher.Retry(err)
	}
	msgs := make([]map[string]any, len(b.Samples))
	for i := range b.Samples {
		msgs[i] = sample.MeteringMessage(&b.Samples[i], n.secret)
	}
	type part struct {
		key  string
		msgs []map[string]any
	}
	var parts []part
	topic := n.cfg.Topic
	for i := 0; i < len(msgs); i += n.cfg.BatchSize {
		parts = append(parts, part{topic + ".sample", msgs[i:min(i+n.cfg.BatchSize, len(msgs))]})
	}
	if n.cfg.PerMeterTopic {
		byMeter := map[string][]map[string]any{}
		for i := range b.Samples {
			byMeter[b.Samples[i].Name] = append(byMeter[b.Samples[i].Name], msgs[i])
		}
		names := make([]string, 0, len(byMeter))
		for name := range byMeter {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			ms := byMeter[name]
			for i := 0; i < len(ms); i += n.cfg.BatchSize {
				parts = append(parts, part{topic + "." + name + ".sample", ms[i:min(i+n.cfg.BatchSize, len(ms))]})
			}
		}
	}
	confirms := make([]*amqp.DeferredConfirmation, 0, len(parts))
	for _, p := range parts {
		body, err := envelope(n.cfg.PublisherID, p.msgs, time.Now())
		if err != nil {
			return publisher.Reject(err)
		}
		if err := n.declareQueue(p.key); err != nil {
			n.drop()
			return publisher.Retry(err)
		}
		mode := amqp.Transient
		if n.cfg.Durable {
			mode = amqp.Persistent
		}
		c, err := n.ch.PublishWithDeferredConfirmWithContext(ctx, n.cfg.Exchange, p.key, false, false, amqp.Publishing{
			ContentType: "application/json", ContentEncoding: "utf-8", DeliveryMode: mode, Body: body,
		})
		if err != nil {
			n.drop()
			return publisher.Retry(fmt.Errorf("publish to %s: %w", n.redacted(), err))
		}
		confirms = append(confirms, c)
	}
	wctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	for _, c := range confirms {
		ok, err := c.WaitContext(wctx)
		if err != nil || !ok {
			n.confirmFailures.Add(1)
			n.drop()
			if err == nil {
				err = errors.New("broker nacked the notification")
			}
			return publisher.Retry(fmt.Errorf("confirm from %s: %w", n.redacted(), err))
		}
	}
	n.notifications.Add(uint64(len(parts)))
	return nil
}

// envelope is one notification in oslo.messaging's v2 envelope, as its
// messagingv2 driver sends Notifier.sample(): the message is a JSON string
// inside {"oslo.version": "2.0", "oslo.message": ...}.
func envelope(publisherID string, payload []map[string]any, now time.Time) ([]byte, error) {
	msg, err := json.Marshal(map[string]any{
		"message_id":   sample.NewMessageID(),
		"publisher_id": publisherID,
		"event_type":   eventType,
		"priority":     priority,
		"payload":      payload,
		// str(datetime.utcnow()), as oslo_utils.timeutils writes it.
		"timestamp": now.UTC().Format("2006-01-02 15:04:05.000000"),
	})
	if err != nil {
		return nil, fmt.Errorf("encode notification: %w", err)
	}
	return json.Marshal(map[string]string{"oslo.version": "2.0", "oslo.message": string(msg)})
}

// Counters implements base.CounterReporter.
func (n *notifier) Counters() map[string]uint64 {
	return map[string]uint64{
		"notifications":    n.notifications.Load(),
		"confirm_failures": n.confirmFailures.Load(),
		"connect_errors":   n.connectErrors.Load(),
		"skipped_events":   n.skippedEvents.Load(),
	}
}

// Close implements base.Closer.
func (n *notifier) Close(context.Context) error {
	n.drop()
	return nil
}
