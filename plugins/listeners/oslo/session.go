package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/altimeter/altimeter/sdk/listener"
	"github.com/altimeter/altimeter/sdk/sample"

	"github.com/altimeter/altimeter/internal/backoff"
)

// Header names on dead-lettered messages.
const (
	headerReason     = "x-altimeter-reason"
	headerError      = "x-altimeter-error"
	headerExchange   = "x-altimeter-exchange"
	headerRoutingKey = "x-altimeter-routing-key"
	headerQueue      = "x-altimeter-queue"

	maxErrorHeader = 1024
	maxRetryDelay  = 30 * time.Second
	confirmTimeout = 10 * time.Second
	dialTimeout    = 10 * time.Second
)

// run consumes one broker until ctx is done, reconnecting with exponential
// backoff. It logs once per change of state (connected, unreachable), not
// once per attempt.
func (o *oslo) run(ctx context.Context, u amqp.URI, emit listener.Emit) {
	log := o.log.With("broker", redact(u))
	bo := backoff.Exp{Min: o.s.reconnectDelay, Max: o.s.reconnectMaxDelay}
	everConnected, down := false, false
	attempts := 0
	for ctx.Err() == nil {
		attempts++
		connected := false
		err := o.session(ctx, u, emit, log, func() {
			connected = true
			if everConnected {
				o.stats.reconnects.Add(1)
			}
			log.Info("consuming", "attempts", attempts)
			everConnected, down, attempts = true, false, 0
			bo.Reset()
		})
		if ctx.Err() != nil {
			return
		}
		switch {
		case connected:
			log.Warn("connection lost; reconnecting", "error", err)
			down = true
		case !down:
			o.stats.connectFails.Add(1)
			log.Warn("cannot consume from broker; retrying with backoff", "error", err, "retry_in", bo.Peek())
			down = true
		default:
			o.stats.connectFails.Add(1)
			log.Debug("reconnect failed", "error", err, "retry_in", bo.Peek())
		}
		if !backoff.Sleep(ctx, bo.Next()) {
			return
		}
	}
}

// session is one connection to a broker: a consuming channel and a
// channel in confirm mode for dead letters.
type session struct {
	o    *oslo
	ctx  context.Context // ends with the connection
	emit listener.Emit
	log  hclog.Logger
	dl   *amqp.Channel
	// settle settles the consuming channel's deliveries, folding the acks
	// of accepted batches.
	settle *settler

	timersMu sync.Mutex
	timers   map[*time.Timer]struct{}
	closed   bool
}

// delivery is one message taken from a queue.
type delivery struct {
	sess       *session
	acker      amqp.Acknowledger
	tag        uint64
	body       []byte
	exchange   string
	routingKey string
	queue      string
	props      amqp.Delivery // content type, headers and ids, for dead-lettering
}

func (d *delivery) ack() error {
	if d.sess == nil || d.sess.settle == nil {
		return d.acker.Ack(d.tag, false)
	}
	return d.sess.settle.settle(d.tag, func() error { return d.acker.Ack(d.tag, false) })
}

func (d *delivery) nack(requeue bool) error {
	if d.sess == nil || d.sess.settle == nil {
		return d.acker.Nack(d.tag, false, requeue)
	}
	return d.sess.settle.settle(d.tag, func() error { return d.acker.Nack(d.tag, false, requeue) })
}

// session connects, declares the topology, and consumes until the
// connection or a channel closes or ctx is done. onConnected is called once
// consuming has started.
func (o *oslo) session(ctx context.Context, u amqp.URI, emit listener.Emit, log hclog.Logger, onConnected func()) error {
	conn, err := amqp.DialConfig(u.String(), amqp.Config{
		Heartbeat:  10 * time.Second,
		Locale:     "en_US",
		Dial:       amqp.DefaultDial(dialTimeout),
		Properties: amqp.Table{"connection_name": "altimeter-listener-oslo", "product": "altimeter"},
	})
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	dl, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	if err := dl.Confirm(false); err != nil {
		return fmt.Errorf("enable publisher confirms: %w", err)
	}
	queues, err := o.declare(ch, dl)
	if err != nil {
		return err
	}
	// Per consumer (one per queue): the broker delivers at most Prefetch
	// unacknowledged messages to each.
	if err := ch.Qos(o.s.Prefetch, 0, false); err != nil {
		return fmt.Errorf("set prefetch: %w", err)
	}
	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))
	chClosed := ch.NotifyClose(make(chan *amqp.Error, 1))
	dlClosed := dl.NotifyClose(make(chan *amqp.Error, 1))

	s := &session{o: o, ctx: ctx, emit: emit, log: log, dl: dl, settle: newSettler(), timers: map[*time.Timer]struct{}{}}
	defer s.stopTimers()

	in := make(chan *delivery, o.s.Prefetch)
	var fwd sync.WaitGroup
	for _, q := range queues {
		msgs, err := ch.Consume(q, "", false, false, false, false, nil)
		if err != nil {
			cancel()
			fwd.Wait()
			return fmt.Errorf("consume %s: %w", q, err)
		}
		fwd.Go(func() {
			for m := range msgs {
				d := &delivery{sess: s, acker: m.Acknowledger, tag: m.DeliveryTag, body: m.Body,
					exchange: m.Exchange, routingKey: m.RoutingKey, queue: q, props: m}
				d.props.Body = nil
				select {
				case in <- d:
				case <-ctx.Done():
					// The connection is going; the broker requeues what is unacked.
				}
			}
		})
	}
	o.stats.consuming.Add(1)
	defer o.stats.consuming.Add(-1)
	onConnected()

	units := make(chan *unit, o.s.Prefetch)
	var workers sync.WaitGroup
	for range o.workers {
		workers.Go(func() {
			for d := range in {
				if u := o.process(ctx, d, log); u != nil {
					select {
					case units <- u:
					case <-ctx.Done():
					}
				}
			}
		})
	}
	batchDone := make(chan struct{})
	go func() {
		defer close(batchDone)
		s.batchLoop(units)
	}()

	var cause error
	select {
	case <-ctx.Done():
	case e := <-connClosed:
		cause = closeErr("connection", e)
	case e := <-chClosed:
		cause = closeErr("channel", e)
	case e := <-dlClosed:
		cause = closeErr("dead-letter channel", e)
	}
	// Acks held back for a multiple ack go out now; from here on acks are
	// sent at once (they fail if the connection is gone: the broker then
	// requeues, and the store deduplicates what comes back).
	s.settle.close()
	cancel() // closes the connection, which closes every consumer's channel
	fwd.Wait()
	close(in)
	workers.Wait()
	close(units)
	<-batchDone
	return cause
}

func closeErr(what string, e *amqp.Error) error {
	if e == nil {
		return fmt.Errorf("%s closed", what)
	}
	return fmt.Errorf("%s closed: %w", what, e)
}

// declare declares what oslo.messaging declares for a notification
// listener (topic exchanges; a queue "<topic>.<priority>", or the pool's
// queue, bound with key "<topic>.<priority>" to every exchange) and the
// dead-letter exchange and queue. It returns the queues to consume.
func (o *oslo) declare(ch, dl *amqp.Channel) ([]string, error) {
	durable := o.s.Durable
	for _, ex := range o.s.Exchanges {
		if err := ch.ExchangeDeclare(ex, amqp.ExchangeTopic, durable, false, false, false, nil); err != nil {
			return nil, fmt.Errorf("declare exchange %s: %w", ex, err)
		}
	}
	var queues []string
	declared := map[string]bool{}
	for _, topic := range o.s.Topics {
		for _, prio := range o.s.Priorities {
			key := topic + "." + prio
			q := key
			if o.s.Pool != "" {
				q = o.s.Pool
			}
			if !declared[q] {
				if _, err := ch.QueueDeclare(q, durable, false, false, false, nil); err != nil {
					return nil, fmt.Errorf("declare queue %s: %w", q, err)
				}
				declared[q] = true
				queues = append(queues, q)
			}
			for _, ex := range o.s.Exchanges {
				if err := ch.QueueBind(q, key, ex, false, nil); err != nil {
					return nil, fmt.Errorf("bind queue %s to %s with %s: %w", q, ex, key, err)
				}
			}
		}
	}
	if err := dl.ExchangeDeclare(o.s.DeadLetterExchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return nil, fmt.Errorf("declare dead-letter exchange %s: %w", o.s.DeadLetterExchange, err)
	}
	if q := o.s.DeadLetterQueue; q != "" {
		if _, err := dl.QueueDeclare(q, true, false, false, false, nil); err != nil {
			return nil, fmt.Errorf("declare dead-letter queue %s: %w", q, err)
		}
		if err := dl.QueueBind(q, "#", o.s.DeadLetterExchange, false, nil); err != nil {
			return nil, fmt.Errorf("bind dead-letter queue %s: %w", q, err)
		}
	}
	return queues, nil
}

// batchLoop groups units into batches of at most batch_size samples and
// events, emitted once full or batch_timeout after their first unit; up to
// max_in_flight batches wait for the host at once. When units is closed
// (the connection is gone) a partial batch is dropped: the broker requeues
// its deliveries.
func (s *session) batchLoop(units <-chan *unit) {
	o := s.o
	var (
		batch    []*unit
		items    int
		inflight sync.WaitGroup
	)
	slots := make(chan struct{}, o.s.MaxInFlight)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	defer inflight.Wait()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		select {
		case slots <- struct{}{}:
		case <-s.ctx.Done():
			return
		}
		out := batch
		batch, items = nil, 0
		timer.Stop()
		inflight.Go(func() {
			defer func() { <-slots }()
			s.emitBatch(out)
		})
	}
	for {
		select {
		case u, ok := <-units:
			if !ok {
				return
			}
			if len(batch) == 0 {
				timer.Reset(o.s.batchTimeout)
			}
			batch = append(batch, u)
			items += u.items()
			if items >= o.s.BatchSize {
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

// emitBatch hands one batch to the host and settles its deliveries with the
// host's answer: accepted, ack; rejected, dead-letter; retry, requeue after
// a delay (doubling per retry) until max_retries, then dead-letter. A
// batch the SDK cannot send at all (ErrUnencodable) is sent again one
// delivery at a time, and a delivery that still cannot be sent is
// dead-lettered (reason unencodable).
func (s *session) emitBatch(units []*unit) {
	o := s.o
	var b sample.Batch
	ns, ne := 0, 0
	for _, u := range units {
		ns, ne = ns+len(u.samples), ne+len(u.events)
	}
	if ns > 0 {
		b.Samples = make([]sample.Sample, 0, ns)
	}
	if ne > 0 {
		b.Events = make([]sample.Event, 0, ne)
	}
	for _, u := range units {
		b.Samples = append(b.Samples, u.samples...)
		b.Events = append(b.Events, u.events...)
		if u.note != nil {
			b.Notifications = append(b.Notifications, *u.note)
		}
	}
	err := s.emit(s.ctx, b)
	switch {
	case err == nil:
		tags := make([]uint64, 0, len(units))
		for _, u := range units {
			o.retries.forget(u.key)
			if u.dead != nil {
				o.deadLetter(s.ctx, u.d, u.dead.reason, u.dead.detail, s.log)
				continue
			}
			tags = append(tags, u.d.tag)
		}
		if len(tags) > 0 {
			if err := s.settle.ackAll(units[0].d.acker, tags); err != nil {
				s.log.Debug("ack deliveries", "error", err)
			}
		}
		o.stats.notifications.Add(uint64(len(units)))
		o.stats.samples.Add(uint64(len(b.Samples)))
		o.stats.events.Add(uint64(len(b.Events)))
		s.log.Trace("batch accepted", "notifications", len(units), "samples", len(b.Samples), "events", len(b.Events))
	case errors.Is(err, listener.ErrUnencodable) && len(units) > 1:
		// The batch cannot be sent (too large, as a whole or for one of
		// its notifications): each alone, so only what cannot be sent is
		// dead-lettered.
		s.log.Debug("batch cannot be sent; sending its notifications one by one", "notifications", len(units), "error", err)
		for _, u := range units {
			s.emitBatch([]*unit{u})
		}
	case errors.Is(err, listener.ErrRejected):
		reason := reasonRejected
		if errors.Is(err, listener.ErrUnencodable) {
			reason = reasonUnencodable
		}
		for _, u := range units {
			o.retries.forget(u.key)
			o.deadLetter(s.ctx, u.d, reason, err.Error(), s.log)
		}
	case s.ctx.Err() != nil:
		// Shutting down or the connection is gone: the broker requeues.
	default:
		for _, u := range units {
			n := o.retries.incr(u.key)
			if n > o.s.MaxRetries {
				o.retries.forget(u.key)
				o.deadLetter(s.ctx, u.d, reasonRetryLimit, fmt.Sprintf("host asked to retry %d times: %v", n, err), s.log)
				continue
			}
			o.stats.retried.Add(1)
			s.requeueAfter(u.d, backoff.Delay(o.s.retryDelay, maxRetryDelay, n))
		}
		s.log.Debug("host asked to retry batch", "notifications", len(units), "error", err)
	}
}

// requeueAfter nacks d with requeue after delay, holding it unacked
// meanwhile so a batch the host cannot take is not redelivered at once.
func (s *session) requeueAfter(d *delivery, delay time.Duration) {
	s.timersMu.Lock()
	defer s.timersMu.Unlock()
	if s.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		s.timersMu.Lock()
		delete(s.timers, t)
		s.timersMu.Unlock()
		if err := d.nack(true); err != nil {
			s.log.Debug("requeue delivery", "error", err)
		}
	})
	s.timers[t] = struct{}{}
}

// stopTimers cancels pending requeues; the connection is closing, and the
// broker requeues every unacked delivery itself.
func (s *session) stopTimers() {
	s.timersMu.Lock()
	defer s.timersMu.Unlock()
	s.closed = true
	for t := range s.timers {
		t.Stop()
	}
	clear(s.timers)
}

// deadLetterErr dead-letters d for a decode error.
func (o *oslo) deadLetterErr(ctx context.Context, d *delivery, err error, log hclog.Logger) {
	reason, detail := reasonBadJSON, err.Error()
	var de *decodeError
	if errors.As(err, &de) {
		reason, detail = de.reason, de.err.Error()
	}
	o.deadLetter(ctx, d, reason, detail, log)
}

// deadLetter publishes d to the dead-letter exchange with the reason in its
// headers, waits for the broker's confirm, then acks d. If the publish
// fails, d is requeued instead, so nothing is lost.
func (o *oslo) deadLetter(ctx context.Context, d *delivery, reason, detail string, log hclog.Logger) {
	if err := d.sess.publishDead(ctx, d, reason, detail); err != nil {
		o.stats.deadFailed.Add(1)
		log.Warn("dead-letter delivery; requeueing it", "reason", reason, "error", err)
		if err := d.nack(true); err != nil {
			log.Debug("requeue delivery", "error", err)
		}
		return
	}
	if err := d.ack(); err != nil {
		log.Debug("ack dead-lettered delivery", "error", err)
	}
	if n := o.stats.dead[reason].Add(1); n == 1 || n%warnEvery == 0 {
		log.Warn("dead-lettered delivery", "reason", reason, "count", n, "error", detail,
			"exchange", d.exchange, "routing_key", d.routingKey)
	}
}

func (s *session) publishDead(ctx context.Context, d *delivery, reason, detail string) error {
	if len(detail) > maxErrorHeader {
		detail = detail[:maxErrorHeader]
	}
	h := amqp.Table{}
	for k, v := range d.props.Headers {
		h[k] = v
	}
	h[headerReason] = reason
	h[headerError] = detail
	h[headerExchange] = d.exchange
	h[headerRoutingKey] = d.routingKey
	h[headerQueue] = d.queue
	ctx, cancel := context.WithTimeout(ctx, confirmTimeout)
	defer cancel()
	dc, err := s.dl.PublishWithDeferredConfirmWithContext(ctx, s.o.s.DeadLetterExchange, d.routingKey, false, false, amqp.Publishing{
		Headers:         h,
		ContentType:     d.props.ContentType,
		ContentEncoding: d.props.ContentEncoding,
		DeliveryMode:    amqp.Persistent,
		MessageId:       d.props.MessageId,
		Timestamp:       s.o.now().UTC(),
		Body:            d.body,
	})
	if err != nil {
		return fmt.Errorf("publish to %s: %w", s.o.s.DeadLetterExchange, err)
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("confirm publish to %s: %w", s.o.s.DeadLetterExchange, err)
	}
	if !ok {
		return fmt.Errorf("publish to %s: broker nacked", s.o.s.DeadLetterExchange)
	}
	return nil
}
