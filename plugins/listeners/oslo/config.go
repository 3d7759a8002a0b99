package main

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/altimeter/altimeter/sdk/schema"
)

type config struct {
	TransportURLs       []string      `hcl:"transport_urls,optional" desc:"AMQP URLs of the brokers to consume from (amqp:// or amqps://), each consumed; as oslo.messaging's transport_url"`
	Exchanges           []string      `hcl:"exchanges,optional" desc:"control exchanges to consume (Ceilometer's notification_control_exchanges)"`
	Topics              []string      `hcl:"topics,optional" desc:"notification topics (oslo_messaging_notifications.topics)"`
	Priorities          []string      `hcl:"priorities,optional" desc:"priorities to consume: info, warn, error, critical, audit, debug, sample"`
	Pool                string        `hcl:"pool,optional" desc:"queue name shared by every binding (Ceilometer's notification_pool); empty: one queue per <topic>.<priority>"`
	Durable             bool          `hcl:"durable,optional" desc:"declare exchanges and queues durable (oslo's amqp_durable_queues); must match how the services declared them"`
	MeterDefinitions    []string      `hcl:"meter_definitions,optional" desc:"Ceilometer meters.yaml files; empty (and no meter blocks): the built-in definitions"`
	Meters              []meterBlock  `hcl:"meter,block" desc:"meter definitions written in HCL, with meters.yaml's fields and meaning; added to meter_definitions"`
	LegacyMeters        bool          `hcl:"legacy_meters,optional" desc:"add the legacy existence meters older Ceilometer releases made from notifications (instance, network, subnet, port, router, ip.floating with their .create and .update forms, stack.*); off: Ceilometer's current defaults only"`
	EventDefinitions    string        `hcl:"event_definitions,optional" desc:"Ceilometer event_definitions.yaml file; empty: the built-in definitions"`
	StoreEvents         bool          `hcl:"store_events,optional" desc:"emit events mapped by the event definitions"`
	StoreRaw            []string      `hcl:"store_raw,optional" desc:"priorities whose events keep the raw notification (Ceilometer's [event] store_raw)"`
	DropUnmatchedEvents bool          `hcl:"drop_unmatched_events,optional" desc:"make no event of a notification no event definition matches, instead of one with the default traits only (Ceilometer's drop_unmatched_notifications)"`
	TelemetrySecret     string        `hcl:"telemetry_secret,optional" desc:"secret signing samples of sample-priority notifications; a wrong signature is dead-lettered"`
	TelemetrySecretEnv  string        `hcl:"telemetry_secret_env,optional" desc:"environment variable holding telemetry_secret"`
	TelemetrySecretFile string        `hcl:"telemetry_secret_file,optional" desc:"file holding telemetry_secret (trailing newline ignored)"`
	BatchSize           int           `hcl:"batch_size,optional" desc:"samples and events per emitted batch at most"`
	BatchTimeout        string        `hcl:"batch_timeout,optional" desc:"longest a partial batch waits before it is emitted (duration)"`
	Prefetch            int           `hcl:"prefetch,optional" desc:"unacknowledged deliveries per queue consumer at most (AMQP basic.qos prefetch count)"`
	MaxInFlight         int           `hcl:"max_in_flight,optional" desc:"batches per connection awaiting the host's answer at once"`
	MaxMessageBytes     int           `hcl:"max_message_bytes,optional" desc:"bodies larger than this are dead-lettered undecoded"`
	MaxRetries          int           `hcl:"max_retries,optional" desc:"times a delivery is requeued when the host asks to retry before it is dead-lettered"`
	RetryDelay          string        `hcl:"retry_delay,optional" desc:"wait before requeueing a delivery the host asked to retry, doubled per retry up to 30s"`
	DeadLetterExchange  string        `hcl:"dead_letter_exchange,optional" desc:"exchange (topic, durable) that undecodable, unmappable and rejected deliveries are published to"`
	DeadLetterQueue     string        `hcl:"dead_letter_queue,optional" desc:"durable queue bound to dead_letter_exchange with '#'; empty: declare none"`
	ReconnectDelay      string        `hcl:"reconnect_delay,optional" desc:"first wait before reconnecting to a lost broker, doubled per failure"`
	ReconnectMaxDelay   string        `hcl:"reconnect_max_delay,optional" desc:"longest wait between reconnection attempts"`
	Archive             *archiveBlock `hcl:"archive,block" desc:"keep every consumed notification raw in the agent's archive (GET /v2/notifications), stored before the broker is acked; off when absent"`
}

// defaultExchanges are Ceilometer's notification_control_exchanges.
var defaultExchanges = []string{"nova", "glance", "neutron", "cinder", "heat", "keystone", "sahara",
	"trove", "zaqar", "swift", "ceilometer", "magnum", "dns", "ironic", "aodh"}

// allPriorities are oslo.messaging's notification priorities.
var allPriorities = []string{"audit", "debug", "info", "warn", "error", "critical", "sample"}

func defaultConfig() config {
	return config{
		TransportURLs:      []string{"amqp://guest:guest@127.0.0.1:5672/"},
		Exchanges:          slices.Clone(defaultExchanges),
		Topics:             []string{"notifications"},
		Priorities:         slices.Clone(allPriorities),
		StoreEvents:        true,
		BatchSize:          500,
		BatchTimeout:       "200ms",
		Prefetch:           1000,
		MaxInFlight:        8,
		MaxMessageBytes:    1 << 20,
		MaxRetries:         5,
		RetryDelay:         "1s",
		DeadLetterExchange: "altimeter.dlx",
		DeadLetterQueue:    "altimeter.dead",
		ReconnectDelay:     "100ms",
		ReconnectMaxDelay:  "30s",
	}
}

// settings is a validated config.
type settings struct {
	config
	urls              []amqp.URI
	secret            string
	batchTimeout      time.Duration
	retryDelay        time.Duration
	reconnectDelay    time.Duration
	reconnectMaxDelay time.Duration
	// retention is the archive's, when archive is on.
	retention time.Duration
}

// amqpName is what this plugin accepts as an exchange, topic or queue name.
var amqpName = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,255}$`)

func validate(c config) (*settings, error) {
	s := &settings{config: c}
	var errs []error
	bad := func(attr, format string, args ...any) {
		errs = append(errs, schema.AttrError(attr, fmt.Sprintf(format, args...)))
	}
	if len(c.TransportURLs) == 0 {
		bad("transport_urls", "at least one AMQP URL is needed, such as \"amqp://guest:guest@127.0.0.1:5672/\"")
	}
	for i, u := range c.TransportURLs {
		uri, err := amqp.ParseURI(u)
		if err != nil {
			// The error of ParseURI does not echo the URL, so no password leaks.
			bad("transport_urls", "entry %d: %v", i, err)
			continue
		}
		s.urls = append(s.urls, uri)
	}
	names := func(attr string, list []string, allowEmpty bool) {
		if len(list) == 0 && !allowEmpty {
			bad(attr, "must not be empty")
		}
		for _, n := range list {
			if !amqpName.MatchString(n) {
				bad(attr, "%q: want letters, digits, '.', '_', ':' or '-'", n)
			}
		}
	}
	names("exchanges", c.Exchanges, false)
	names("topics", c.Topics, false)
	if len(c.Priorities) == 0 {
		bad("priorities", "must not be empty")
	}
	for _, p := range c.Priorities {
		if !slices.Contains(allPriorities, p) {
			bad("priorities", "%q: want one of %s", p, strings.Join(allPriorities, ", "))
		}
	}
	for _, p := range c.StoreRaw {
		if !slices.Contains(allPriorities, p) {
			bad("store_raw", "%q: want one of %s", p, strings.Join(allPriorities, ", "))
		}
	}
	if c.Pool != "" {
		names("pool", []string{c.Pool}, false)
	}
	names("dead_letter_exchange", []string{c.DeadLetterExchange}, false)
	if c.DeadLetterQueue != "" {
		names("dead_letter_queue", []string{c.DeadLetterQueue}, false)
	}
	if sec, err := schema.Secret("telemetry_secret", c.TelemetrySecret, c.TelemetrySecretEnv, c.TelemetrySecretFile); err != nil {
		errs = append(errs, err)
	} else {
		s.secret = sec
	}
	intRange := func(attr string, v, lo, hi int) {
		if v < lo || v > hi {
			bad(attr, "must be between %d and %d", lo, hi)
		}
	}
	intRange("batch_size", c.BatchSize, 1, 100000)
	intRange("prefetch", c.Prefetch, 1, 65535)
	intRange("max_in_flight", c.MaxInFlight, 1, 64)
	intRange("max_message_bytes", c.MaxMessageBytes, 64, 128<<20)
	intRange("max_retries", c.MaxRetries, 0, 1000)
	dur := func(attr, v string, dst *time.Duration) {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad(attr, "must be a positive duration such as \"200ms\"")
			return
		}
		*dst = d
	}
	dur("batch_timeout", c.BatchTimeout, &s.batchTimeout)
	dur("retry_delay", c.RetryDelay, &s.retryDelay)
	dur("reconnect_delay", c.ReconnectDelay, &s.reconnectDelay)
	dur("reconnect_max_delay", c.ReconnectMaxDelay, &s.reconnectMaxDelay)
	if s.reconnectMaxDelay > 0 && s.reconnectMaxDelay < s.reconnectDelay {
		bad("reconnect_max_delay", "must not be shorter than reconnect_delay")
	}
	if c.Archive != nil {
		s.retention = defaultRetention
		if c.Archive.Retention != "" {
			d, err := parseRetention(c.Archive.Retention)
			if err != nil || d < time.Minute {
				bad("archive.retention", "must be a duration of at least 1m such as \"14d\"")
			}
			s.retention = d
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// redact names a broker without its credentials, for logs.
func redact(u amqp.URI) string {
	s := fmt.Sprintf("%s://%s:%d/", u.Scheme, u.Host, u.Port)
	if u.Vhost != "/" {
		s += u.Vhost
	}
	return s
}
