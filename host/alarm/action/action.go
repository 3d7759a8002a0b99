package action

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/altimeter/altimeter/host/config"
)

// TransitionHeader carries the transition id on every webhook request.
const TransitionHeader = "X-Altimeter-Transition-Id"

// MaxURLLen bounds an action URL.
const MaxURLLen = 2048

// Notification is one alarm transition's notification. The webhook body is
// Aodh's (alarm_name, alarm_id, severity, previous, current, reason,
// reason_data) plus "transition_id".
type Notification struct {
	TransitionID string
	AlarmID      string
	AlarmName    string
	Severity     string
	Previous     string
	Current      string
	Reason       string
	ReasonData   map[string]any
}

// Sentinel errors.
var (
	// ErrQueueFull means the receiver's lane already holds as many waiting
	// notifications as allowed; nothing was sent, retry later.
	ErrQueueFull = errors.New("action queue full for this receiver")
	// ErrRejected means the receiver answered 4xx (or 3xx): retrying the
	// same request will not help.
	ErrRejected = errors.New("receiver rejected the notification")
)

// URLError is a bad action URL. The API reports it as a 400 on the action
// list that holds it.
type URLError struct {
	URL string
	Msg string
}

func (e *URLError) Error() string { return e.Msg }

// ValidateURL accepts the action URLs Altimeter can deliver to: http,
// https, log, trust+http and trust+https, with a host for the http forms.
func ValidateURL(s string) error {
	_, err := parse(s)
	return err
}

// target is a parsed action URL.
type target struct {
	scheme string // http, https or log (after trust+ is removed)
	metric string // the scheme label: http, https, log, trust+http, trust+https
	url    string // what is requested (credentials stripped for trust+)
	lane   string // scheme://host
}

func parse(s string) (target, error) {
	if len(s) > MaxURLLen {
		return target{}, &URLError{URL: s[:64] + "...", Msg: fmt.Sprintf("action URL longer than %d bytes", MaxURLLen)}
	}
	u, err := url.Parse(s)
	if err != nil {
		return target{}, &URLError{URL: s, Msg: fmt.Sprintf("unsupported action %s: %v", s, err)}
	}
	sch := strings.ToLower(u.Scheme)
	t := target{metric: sch}
	switch sch {
	case "log":
		t.scheme, t.url, t.lane = "log", s, "log"
		return t, nil
	case "http", "https":
		t.scheme = sch
	case "trust+http", "trust+https":
		t.scheme = strings.TrimPrefix(sch, "trust+")
		u.User = nil
	default:
		return target{}, &URLError{URL: s, Msg: fmt.Sprintf("unsupported action %s: scheme must be http, https, log, trust+http or trust+https", s)}
	}
	if u.Host == "" || u.Hostname() == "" {
		return target{}, &URLError{URL: s, Msg: fmt.Sprintf("unsupported action %s: no host", s)}
	}
	u.Scheme = t.scheme
	t.url = u.String()
	t.lane = t.scheme + "://" + strings.ToLower(u.Host)
	return t, nil
}

// Options configure a Notifier. Zero fields take the defaults.
type Options struct {
	// Timeout bounds one attempt, connection to response headers and body
	// (default config.DefaultWebhookTimeout, 10s).
	Timeout time.Duration
	// Retries is the number of attempts after the first (default
	// config.DefaultWebhookRetries, 3; -1
	// for none). Connection errors, timeouts, 5xx and 429 are retried.
	Retries int
	// Backoff is the wait before the first retry, doubled each time up to
	// MaxBackoff (defaults 1s and 30s), with up to 20% jitter.
	Backoff, MaxBackoff time.Duration
	// CAFile names a PEM bundle trusted for https in addition to the
	// system roots.
	CAFile string
	// InsecureSkipVerify turns TLS verification off (it is on by default).
	InsecureSkipVerify bool
	// Concurrency is the number of requests in flight per receiver
	// (default 4); QueueSize the notifications allowed to wait for a slot
	// per receiver (default 256).
	Concurrency, QueueSize int
	Logger                 hclog.Logger
	// Registerer receives the notifier's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Transport overrides the HTTP transport (tests); TLS options then do
	// not apply.
	Transport http.RoundTripper
}

// Notifier delivers notifications. It is safe for concurrent use.
type Notifier struct {
	o        Options // the fixed fields: Concurrency, QueueSize, Logger
	set      atomic.Pointer[settings]
	log      hclog.Logger
	outcomes *prometheus.CounterVec
	attempts *prometheus.CounterVec

	mu    sync.Mutex
	lanes map[string]*lane
}

// settings are what Reconfigure changes: the attempt and retry bounds and
// the client (its TLS trust). A delivery keeps the settings it started
// with.
type settings struct {
	timeout, backoff, maxBackoff time.Duration
	retries                      int
	client                       *http.Client
}

// lane is one receiver's concurrency limit and queue bound.
type lane struct {
	slots   chan struct{}
	waiting int // guarded by Notifier.mu
}

// New builds a Notifier.
func New(o Options) (*Notifier, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	st, err := newSettings(o)
	if err != nil {
		return nil, err
	}
	n := &Notifier{
		o:   o,
		log: o.Logger.Named("action"),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_alarm_actions_total",
			Help: "Alarm action notifications by scheme and final outcome (ok, failed, rejected, queue_full, canceled).",
		}, []string{"scheme", "outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_alarm_action_attempts_total",
			Help: "Alarm action delivery attempts by scheme and result (ok, timeout, error, status_3xx, status_4xx, status_5xx).",
		}, []string{"scheme", "result"}),
		lanes: map[string]*lane{},
	}
	n.set.Store(st)
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{n.outcomes, n.attempts} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register action metrics: %w", err)
			}
		}
	}
	return n, nil
}

// Reconfigure applies o's Timeout, Retries, Backoff, MaxBackoff, CAFile,
// InsecureSkipVerify and Transport to the deliveries that start from now
// on (those under way finish with their settings); the other fields keep
// the values New was given. On an error (an unreadable CA file) nothing
// changes.
func (n *Notifier) Reconfigure(o Options) error {
	o.Concurrency = n.o.Concurrency
	st, err := newSettings(o)
	if err != nil {
		return err
	}
	n.set.Store(st)
	return nil
}

// CheckOptions reports what New or Reconfigure would refuse in o (an
// unreadable CA file), without building a Notifier.
func CheckOptions(o Options) error {
	_, err := newSettings(o)
	return err
}

// newSettings fills in o's defaults and builds its client.
func newSettings(o Options) (*settings, error) {
	if o.Timeout <= 0 {
		o.Timeout = config.DefaultWebhookTimeout
	}
	if o.Retries == 0 {
		o.Retries = config.DefaultWebhookRetries
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	rt := o.Transport
	if rt == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // opt-in
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("read action CA file: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("action CA file %s: no PEM certificate found", o.CAFile)
			}
			tr.TLSClientConfig.RootCAs = pool
		}
		tr.MaxIdleConnsPerHost = o.Concurrency
		rt = tr
	}
	return &settings{
		timeout: o.Timeout, backoff: o.Backoff, maxBackoff: o.MaxBackoff, retries: o.Retries,
		client: &http.Client{
			Transport:     rt,
			Timeout:       o.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// Notify delivers nt to actionURL and returns once it is delivered or has
// failed for good: nil, ErrRejected (4xx), ErrQueueFull, ctx's error, or
// the last attempt's error. It waits for a slot of the receiver's lane, so
// callers run one Notify per notification in its own goroutine; a hanging
// receiver holds only its own lane.
func (n *Notifier) Notify(ctx context.Context, actionURL string, nt Notification) error {
	t, err := parse(actionURL)
	if err != nil {
		n.outcomes.WithLabelValues("invalid", "rejected").Inc()
		return err
	}
	if t.scheme == "log" {
		n.log.Info("notifying alarm", "alarm_name", nt.AlarmName, "alarm_id", nt.AlarmID, "severity", nt.Severity,
			"previous", nt.Previous, "current", nt.Current, "action", actionURL, "reason", nt.Reason, "transition_id", nt.TransitionID)
		n.outcomes.WithLabelValues(t.metric, "ok").Inc()
		return nil
	}
	err = n.deliver(ctx, t, nt)
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, ErrQueueFull):
		outcome = "queue_full"
	case errors.Is(err, ErrRejected):
		outcome = "rejected"
	case ctx.Err() != nil:
		outcome = "canceled"
	default:
		outcome = "failed"
	}
	n.outcomes.WithLabelValues(t.metric, outcome).Inc()
	if err != nil {
		n.log.Warn("alarm action failed", "alarm_id", nt.AlarmID, "transition_id", nt.TransitionID, "receiver", t.lane, "outcome", outcome, "error", err)
	}
	return err
}

func (n *Notifier) acquire(ctx context.Context, key string) (release func(), err error) {
	n.mu.Lock()
	l := n.lanes[key]
	if l == nil {
		l = &lane{slots: make(chan struct{}, n.o.Concurrency)}
		n.lanes[key] = l
	}
	if l.waiting >= n.o.QueueSize+n.o.Concurrency {
		n.mu.Unlock()
		return nil, fmt.Errorf("notify %s: %w", key, ErrQueueFull)
	}
	l.waiting++
	n.mu.Unlock()
	done := func() {
		n.mu.Lock()
		l.waiting--
		if l.waiting == 0 { // idle: forget the lane, so receivers of deleted alarms cost nothing
			delete(n.lanes, key)
		}
		n.mu.Unlock()
	}
	select {
	case l.slots <- struct{}{}:
		return func() { <-l.slots; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}

func (n *Notifier) deliver(ctx context.Context, t target, nt Notification) error {
	release, err := n.acquire(ctx, t.lane)
	if err != nil {
		return err
	}
	defer release()
	body, err := json.Marshal(map[string]any{
		"alarm_name":    nt.AlarmName,
		"alarm_id":      nt.AlarmID,
		"severity":      nt.Severity,
		"previous":      nt.Previous,
		"current":       nt.Current,
		"reason":        nt.Reason,
		"reason_data":   nt.ReasonData,
		"transition_id": nt.TransitionID,
	})
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	st := n.set.Load()
	wait := st.backoff
	for attempt := 0; ; attempt++ {
		retry, err := n.attempt(ctx, st, t, nt, body)
		if err == nil || !retry || attempt >= st.retries {
			return err
		}
		d := wait + time.Duration(rand.Int64N(int64(wait)/5+1))
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("notify %s after %d attempts: %w", t.lane, attempt+1, ctx.Err())
		case <-timer.C:
		}
		wait = min(2*wait, st.maxBackoff)
	}
}

// attempt sends one request; retry says whether another may succeed.
func (n *Notifier) attempt(ctx context.Context, st *settings, t target, nt Notification, body []byte) (retry bool, err error) {
	actx, cancel := context.WithTimeout(ctx, st.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("notify %s: %w", t.lane, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(TransitionHeader, nt.TransitionID)
	req.Header.Set("X-Openstack-Request-Id", "req-"+nt.TransitionID)
	resp, err := st.client.Do(req)
	if err != nil {
		result := "error"
		if errors.Is(actx.Err(), context.DeadlineExceeded) || isTimeout(err) {
			result = "timeout"
		}
		n.attempts.WithLabelValues(t.metric, result).Inc()
		return ctx.Err() == nil, fmt.Errorf("notify %s: %w", t.lane, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		n.attempts.WithLabelValues(t.metric, "ok").Inc()
		return false, nil
	case code >= 500 || code == http.StatusTooManyRequests:
		n.attempts.WithLabelValues(t.metric, "status_"+strconv.Itoa(code/100)+"xx").Inc()
		return true, fmt.Errorf("notify %s: status %d", t.lane, code)
	default:
		n.attempts.WithLabelValues(t.metric, "status_"+strconv.Itoa(code/100)+"xx").Inc()
		return false, fmt.Errorf("notify %s: status %d: %w", t.lane, code, ErrRejected)
	}
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}
