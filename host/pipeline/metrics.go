package pipeline

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's counters. One set serves every graph the agent
// builds (reloads keep counting); labels name sources, sinks and plugin
// instance IDs.
type Metrics struct {
	sourceSamples   *prometheus.CounterVec
	sourceErrors    *prometheus.CounterVec
	pollDuration    *prometheus.HistogramVec
	deliveries      *prometheus.CounterVec
	transformErrors *prometheus.CounterVec
	transformDur    *prometheus.HistogramVec
	pubIn           *prometheus.CounterVec
	pubOut          *prometheus.CounterVec
	pubDropped      *prometheus.CounterVec
	pubRejected     *prometheus.CounterVec
	pubFailures     *prometheus.CounterVec
	pubQueued       *prometheus.GaugeVec
	pubDuration     *prometheus.HistogramVec
	pubReplayed     *prometheus.CounterVec
	pubRefusals     *prometheus.CounterVec
	queues          *queueSet
	archived        *prometheus.CounterVec
}

// NewMetrics registers the engine's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	buckets := prometheus.ExponentialBuckets(0.0001, 4, 10) // 100µs .. 26s
	m := &Metrics{
		sourceSamples: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_source_samples_total", Help: "Samples produced by each polling source or listener.",
		}, []string{"source"}),
		sourceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_source_errors_total", Help: "Failed polls, discoveries, per-resource poll errors and broken listener streams.",
		}, []string{"source", "plugin", "kind"}),
		pollDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "altimeter_poll_duration_seconds", Help: "Duration of one Poll call to a pollster.", Buckets: buckets,
		}, []string{"plugin"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_listener_deliveries_total", Help: "Listener deliveries by the outcome acknowledged to the listener.",
		}, []string{"listener", "outcome"}),
		transformErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_transformer_failures_total", Help: "Transform calls that failed; their batch did not reach the sink's publishers.",
		}, []string{"plugin"}),
		transformDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "altimeter_transform_duration_seconds", Help: "Duration of one Transform call.", Buckets: buckets,
		}, []string{"plugin"}),
		pubIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_publisher_in_samples_total", Help: "Samples queued for each publisher.",
		}, []string{"publisher"}),
		pubOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_publisher_out_samples_total", Help: "Samples each publisher accepted.",
		}, []string{"publisher"}),
		pubDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_publisher_dropped_samples_total", Help: "Polled samples dropped because a publisher's queue was full or the agent stopped.",
		}, []string{"publisher"}),
		pubRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_publisher_rejected_samples_total", Help: "Samples a publisher rejected for good.",
		}, []string{"publisher"}),
		pubFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_publisher_failures_total", Help: "Publish calls that failed and will be retried.",
		}, []string{"publisher"}),
		pubQueued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "altimeter_publisher_queue_samples", Help: "Samples waiting in each publisher's queue.",
		}, []string{"publisher"}),
		pubDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "altimeter_publish_duration_seconds", Help: "Duration of one Publish call.", Buckets: buckets,
		}, []string{"publisher"}),
		archived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_archive_notifications_total", Help: "Raw notifications listeners handed to the archive, by outcome: stored (or already there), failed (delivery retried), dropped (no archive).",
		}, []string{"listener", "outcome"}),
	}
	m.pubReplayed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "altimeter_publisher_replayed_samples_total", Help: "Samples found in a publisher's disk queue when it was opened (left undelivered by the previous run), to be delivered again.",
	}, []string{"publisher"})
	m.pubRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "altimeter_publisher_queue_refusals_total", Help: "Batches a publisher's disk queue could not take, by reason (full: max_bytes reached with full = \"block\"; io: the write failed, e.g. the disk is full; read: a queued batch could not be read back).",
	}, []string{"publisher", "reason"})
	m.queues = &queueSet{m: map[*queue]struct{}{}}
	reg.MustRegister(m.pubReplayed, m.pubRefusals, m.queues)
	reg.MustRegister(m.archived, m.sourceSamples, m.sourceErrors, m.pollDuration, m.deliveries, m.transformErrors, m.transformDur,
		m.pubIn, m.pubOut, m.pubDropped, m.pubRejected, m.pubFailures, m.pubQueued, m.pubDuration)
	return m
}

var (
	queueBytesDesc = prometheus.NewDesc("altimeter_publisher_queue_bytes",
		"Bytes of undelivered batches in each publisher's disk queue.", []string{"publisher"}, nil)
	queueAgeDesc = prometheus.NewDesc("altimeter_publisher_queue_oldest_age_seconds",
		"Age of the oldest undelivered batch in each publisher's disk queue (0 when empty).", []string{"publisher"}, nil)
)

// queueSet is the open disk queues, read at scrape time.
type queueSet struct {
	mu sync.Mutex
	m  map[*queue]struct{}
}

func (s *queueSet) add(q *queue) {
	s.mu.Lock()
	s.m[q] = struct{}{}
	s.mu.Unlock()
}

func (s *queueSet) remove(q *queue) {
	s.mu.Lock()
	delete(s.m, q)
	s.mu.Unlock()
}

func (s *queueSet) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueBytesDesc
	ch <- queueAgeDesc
}

func (s *queueSet) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	qs := make([]*queue, 0, len(s.m))
	for q := range s.m {
		qs = append(qs, q)
	}
	s.mu.Unlock()
	now := time.Now()
	for _, q := range qs {
		st := q.status(now)
		ch <- prometheus.MustNewConstMetric(queueBytesDesc, prometheus.GaugeValue, float64(st.Bytes), q.id)
		ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, st.OldestAge.Seconds(), q.id)
	}
}
