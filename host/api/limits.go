package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/altimeter/altimeter/host/store"
)

// Limits bound the work one request can make the agent do (the api block's
// max_limit, max_metadata_bytes, max_query_leaves, max_groups,
// max_buckets and query_timeout). A zero field takes its default; WithDefaults fills them.
type Limits struct {
	// MaxLimit is the largest page a listing returns: a larger limit=
	// (or complex query "limit") is a 400 naming limit. A listing without
	// a limit returns store.DefaultLimit rows (at most MaxLimit).
	MaxLimit int
	// MaxMetadataBytes bounds the resource_metadata of one posted sample,
	// in bytes of its JSON encoding once flattened ({"a.b": "v", ...});
	// more is a 413 naming samples[i].resource_metadata.
	MaxMetadataBytes int
	// MaxQueryLeaves bounds the conditions of one query, simple or
	// complex (an "in" counts one per value); more is a 400.
	MaxQueryLeaves int
	// MaxGroups bounds the groups a statistics request may produce
	// (the cardinality of its groupby); more is a 400.
	MaxGroups int
	// MaxBuckets bounds the statistics one answer holds: the periods of
	// its range (period=1 over ten years is refused before any is made)
	// and its buckets across groups; more is a 400 naming period.
	MaxBuckets int
	// QueryTimeout is the deadline of a data or event read (POST
	// /v2/meters/{name} has none); the store stops its scans when it
	// passes (503), or when the client goes away.
	QueryTimeout time.Duration
}

// Defaults of Limits.
const (
	DefaultMaxLimit         = 10_000
	DefaultMaxMetadataBytes = 64 << 10
	DefaultMaxQueryLeaves   = 100
	DefaultMaxGroups        = 10_000
	DefaultMaxBuckets       = 100_000
	DefaultQueryTimeout     = 60 * time.Second
)

// WithDefaults returns l with its zero fields set to the defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxLimit <= 0 {
		l.MaxLimit = DefaultMaxLimit
	}
	if l.MaxMetadataBytes <= 0 {
		l.MaxMetadataBytes = DefaultMaxMetadataBytes
	}
	if l.MaxQueryLeaves <= 0 {
		l.MaxQueryLeaves = DefaultMaxQueryLeaves
	}
	if l.MaxGroups <= 0 {
		l.MaxGroups = DefaultMaxGroups
	}
	if l.MaxBuckets <= 0 {
		l.MaxBuckets = DefaultMaxBuckets
	}
	if l.QueryTimeout <= 0 {
		l.QueryTimeout = DefaultQueryTimeout
	}
	return l
}

// Reasons a request is refused by a limit, the reason label of
// altimeter_api_refused_total.
const (
	refusedLimit     = "limit"
	refusedMetadata  = "metadata_size"
	refusedLeaves    = "query_leaves"
	refusedGroups    = "groups"
	refusedBuckets   = "buckets"
	refusedTimestamp = "timestamp"
	refusedRetention = "retention"
)

// apiMetrics are the counters of requests the limits refused or cut short.
type apiMetrics struct {
	refused  *prometheus.CounterVec
	canceled *prometheus.CounterVec
}

func newAPIMetrics(reg prometheus.Registerer) *apiMetrics {
	m := &apiMetrics{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_api_refused_total",
			Help: "Requests refused by a limit or a validation of the API, by reason (limit, metadata_size, query_leaves, groups, buckets, timestamp, retention).",
		}, []string{"reason"}),
		canceled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_api_requests_canceled_total",
			Help: "Data requests whose store work was stopped: the client went away (client_gone) or query_timeout passed (deadline).",
		}, []string{"reason"}),
	}
	if reg != nil {
		m.refused = register(reg, m.refused)
		m.canceled = register(reg, m.canceled)
	}
	for _, r := range []string{refusedLimit, refusedMetadata, refusedLeaves, refusedGroups, refusedBuckets, refusedTimestamp, refusedRetention} {
		m.refused.WithLabelValues(r)
	}
	m.canceled.WithLabelValues("client_gone")
	m.canceled.WithLabelValues("deadline")
	return m
}

// register registers c, or returns the collector already registered in
// its place (a second server on one registry counts into the same
// series).
func register(reg prometheus.Registerer, c *prometheus.CounterVec) *prometheus.CounterVec {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	switch {
	case err == nil:
		return c
	case errors.As(err, &are):
		if prev, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
			return prev
		}
	}
	panic(fmt.Sprintf("register api metrics: %v", err)) // a programming error, as MustRegister
}

// limitError is a request refused by a limit: it carries the reason label
// and wraps the error abort maps to a status.
type limitError struct {
	reason string
	err    error
}

func (e *limitError) Error() string { return e.err.Error() }
func (e *limitError) Unwrap() error { return e.err }

// refuse marks err as a refusal for reason (counted once by abort).
func refuse(reason string, err error) error { return &limitError{reason: reason, err: err} }

// count records err in the metrics when it is a refusal or a stopped
// request.
func (m *apiMetrics) count(err error) {
	if m == nil {
		return
	}
	var le *limitError
	switch {
	case errors.As(err, &le):
		m.refused.WithLabelValues(le.reason).Inc()
	case errors.Is(err, context.DeadlineExceeded):
		m.canceled.WithLabelValues("deadline").Inc()
	case errors.Is(err, context.Canceled):
		m.canceled.WithLabelValues("client_gone").Inc()
	}
}

// parseLimit reads a limit: a positive integer no larger than max.
func parseLimit(v string, max int) (int, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, refuse(refusedLimit, fmt.Errorf("%w: limit must be a positive integer, got %q", ErrBadRequest, v))
	}
	if err := checkLimit(n, max); err != nil {
		return 0, err
	}
	return int(n), nil
}

// checkLimit refuses a limit above max.
func checkLimit(n int64, max int) error {
	if n > int64(max) {
		return refuse(refusedLimit, fmt.Errorf("%w: limit %d is more than the maximum %d (api max_limit); page with marker", ErrBadRequest, n, max))
	}
	return nil
}

// deadline bounds a read by QueryTimeout: the context the store
// scans with ends then, or when the client goes away.
func (s *Server) deadline() gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), s.limits.QueryTimeout)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// stopped maps a store error caused by the request's context to what the
// client is told: the deadline is a 503 naming query_timeout; a client
// that went away reads nothing, and the error keeps its cause.
func (s *Server) stopped(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: the request ran longer than %s (api query_timeout); narrow it: %w", ErrUnavailable, s.limits.QueryTimeout, err)
	}
	return err
}

// countLeaves is the number of conditions of a query: one per leaf, one
// per value of an "in".
func countLeaves(root *expr) int {
	if root == nil {
		return 0
	}
	n := 0
	_ = root.walk(func(e *expr) error {
		n += max(1, len(e.values))
		return nil
	})
	return n
}

// checkLeaves refuses a query with more conditions than MaxQueryLeaves.
func (s *Server) checkLeaves(root *expr) error {
	return s.checkConditions("filter", countLeaves(root))
}

// checkConditions refuses n conditions of param past MaxQueryLeaves.
func (s *Server) checkConditions(param string, n int) error {
	if n > s.limits.MaxQueryLeaves {
		return refuse(refusedLeaves, fmt.Errorf("%w: %s: %d conditions, more than the maximum %d (api max_query_leaves)", ErrBadRequest, param, n, s.limits.MaxQueryLeaves))
	}
	return nil
}

// statsError maps the store's refusal of too many groups or buckets to a
// counted 400 naming the parameter and the limit.
func statsError(err error) error {
	switch {
	case errors.Is(err, store.ErrTooManyGroups):
		return refuse(refusedGroups, fmt.Errorf("%w: groupby: %w", ErrBadRequest, err))
	case errors.Is(err, store.ErrTooManyBuckets):
		return refuse(refusedBuckets, fmt.Errorf("%w: period: %w (api max_buckets)", ErrBadRequest, err))
	}
	return err
}

// metadataSize is the size of flattened metadata as JSON: {"k": "v", ...}
// without escapes (a lower bound of the encoded size, computed without
// encoding).
func metadataSize(md map[string]string) int {
	n := 2
	for k, v := range md {
		n += len(k) + len(v) + 6 // two pairs of quotes, a colon, a comma
	}
	return n
}

// countErrors counts the refusals and stopped requests among the errors a
// handler aborted with.
func (s *Server) countErrors() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		for _, e := range c.Errors {
			s.metrics.count(e.Err)
		}
	}
}
