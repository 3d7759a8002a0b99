package action

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestValidateURL(t *testing.T) {
	t.Parallel()
	good := []string{"http://127.0.0.1:8080/hook", "https://hooks.example.com/a?b=c", "log://", "log://anything", "trust+http://user:pw@127.0.0.1/x", "trust+https://h/x", "HTTP://127.0.0.1/"}
	for _, s := range good {
		require.NoError(t, ValidateURL(s), s)
	}
	bad := []string{"ftp://127.0.0.1/", "mailto:ops@example.com", "http://", "http:///path", "127.0.0.1:8080", "", "zaqar://queue", "http://a b/", "https://" + strings.Repeat("a", MaxURLLen)}
	for _, s := range bad {
		err := ValidateURL(s)
		var ue *URLError
		require.ErrorAs(t, err, &ue, s)
	}
	tg, err := parse("trust+https://admin:secret@hooks.example.com:8443/p?q=1")
	require.NoError(t, err)
	require.Equal(t, target{scheme: "https", metric: "trust+https", url: "https://hooks.example.com:8443/p?q=1", lane: "https://hooks.example.com:8443"}, tg)
}

type received struct {
	mu      sync.Mutex
	bodies  []map[string]any
	headers []http.Header
}

func (r *received) add(req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	r.mu.Lock()
	r.bodies = append(r.bodies, m)
	r.headers = append(r.headers, req.Header.Clone())
	r.mu.Unlock()
}

var nt = Notification{
	TransitionID: "t-1", AlarmID: "a-1", AlarmName: "cpu high", Severity: "critical",
	Previous: "ok", Current: "alarm", Reason: "Transition to alarm due to 3 samples outside threshold, most recent: 91.0",
	ReasonData: map[string]any{"type": "threshold", "disposition": "outside", "count": 3, "most_recent": 91.0},
}

func newNotifier(t *testing.T, o Options) (*Notifier, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	n, err := New(o)
	require.NoError(t, err)
	return n, reg
}

func TestRetriedUntilDelivered(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var got received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.add(r)
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	n, _ := newNotifier(t, Options{Backoff: 10 * time.Millisecond})
	require.NoError(t, n.Notify(context.Background(), srv.URL+"/hook", nt))
	require.Equal(t, int32(2), calls.Load())
	want := map[string]any{
		"alarm_id": "a-1", "alarm_name": "cpu high", "severity": "critical", "previous": "ok", "current": "alarm",
		"reason": nt.Reason, "reason_data": map[string]any{"type": "threshold", "disposition": "outside", "count": 3.0, "most_recent": 91.0},
		"transition_id": "t-1",
	}
	for i := range 2 {
		require.Equal(t, want, got.bodies[i])
		require.Equal(t, "t-1", got.headers[i].Get(TransitionHeader))
		require.Equal(t, "application/json", got.headers[i].Get("Content-Type"))
	}
	require.Equal(t, 1.0, testutil.ToFloat64(n.outcomes.WithLabelValues("http", "ok")))
	require.Equal(t, 1.0, testutil.ToFloat64(n.attempts.WithLabelValues("http", "status_5xx")))
	require.Equal(t, 1.0, testutil.ToFloat64(n.attempts.WithLabelValues("http", "ok")))
}

func TestRejectedIsNotRetried(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	n, _ := newNotifier(t, Options{Backoff: time.Millisecond})
	err := n.Notify(context.Background(), srv.URL, nt)
	require.ErrorIs(t, err, ErrRejected)
	require.Equal(t, int32(1), calls.Load())
	require.Equal(t, 1.0, testutil.ToFloat64(n.outcomes.WithLabelValues("http", "rejected")))
}

func TestFailedAfterRetries(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	n, _ := newNotifier(t, Options{Retries: 2, Backoff: time.Millisecond})
	err := n.Notify(context.Background(), srv.URL, nt)
	require.Error(t, err)
	require.Equal(t, int32(3), calls.Load())
	require.Equal(t, 1.0, testutil.ToFloat64(n.outcomes.WithLabelValues("http", "failed")))
	require.Equal(t, 3.0, testutil.ToFloat64(n.attempts.WithLabelValues("http", "status_5xx")))
}

func TestHangingReceiverTimesOutAndDelaysNoOneElse(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var hung atomic.Int32
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		hung.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	var fastCalls atomic.Int32
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fastCalls.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer fast.Close()

	// The hanging receiver's attempts time out after 2.5 s; the fast
	// receiver's 20 notifications must all be served inside its first.
	n, reg := newNotifier(t, Options{Timeout: 2500 * time.Millisecond, Retries: 1, Backoff: 10 * time.Millisecond, Concurrency: 1, QueueSize: 1})
	done := make(chan error, 2)
	go func() { done <- n.Notify(context.Background(), hang.URL, nt) }()
	require.Eventually(t, func() bool { return hung.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	go func() { done <- n.Notify(context.Background(), hang.URL, nt) }() // waits in the lane's queue
	time.Sleep(20 * time.Millisecond)
	// The lane is full (one in flight, one waiting): refused at once.
	require.ErrorIs(t, n.Notify(context.Background(), hang.URL, nt), ErrQueueFull)

	// Another receiver is served while the hanging one holds its lane.
	for range 20 {
		require.NoError(t, n.Notify(context.Background(), fast.URL, nt))
	}
	require.Equal(t, int32(1), hung.Load(), "served while the hanging lane's first attempt is still waiting")
	require.Empty(t, done)
	require.Equal(t, int32(20), fastCalls.Load())

	for range 2 {
		err := <-done
		require.Error(t, err)
	}
	require.Equal(t, 2.0, testutil.ToFloat64(n.outcomes.WithLabelValues("http", "failed")))
	require.Equal(t, 4.0, testutil.ToFloat64(n.attempts.WithLabelValues("http", "timeout")))
	require.Equal(t, 1.0, testutil.ToFloat64(n.outcomes.WithLabelValues("http", "queue_full")))
	require.Equal(t, 20.0, testutil.ToFloat64(n.outcomes.WithLabelValues("http", "ok")))
	n.mu.Lock()
	require.Empty(t, n.lanes, "idle lanes are dropped")
	n.mu.Unlock()
	// The counters are what /metrics shows.
	mfs, err := reg.Gather()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	require.True(t, names["altimeter_alarm_actions_total"])
	require.True(t, names["altimeter_alarm_action_attempts_total"])
}

func TestCancelStopsRetrying(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer srv.Close()
	n, _ := newNotifier(t, Options{Retries: 100, Backoff: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := n.Notify(ctx, srv.URL, nt)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 1.0, testutil.ToFloat64(n.outcomes.WithLabelValues("http", "canceled")))
}

func TestTLSVerifiedWithTestCA(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))

	// Verification is on by default: the test CA is unknown.
	n, _ := newNotifier(t, Options{Retries: -1})
	err := n.Notify(context.Background(), srv.URL, nt)
	require.Error(t, err)
	require.Contains(t, err.Error(), "certificate")
	require.Equal(t, int32(0), calls.Load())

	n, _ = newNotifier(t, Options{Retries: -1, CAFile: ca})
	require.NoError(t, n.Notify(context.Background(), srv.URL, nt))
	require.NoError(t, n.Notify(context.Background(), "trust+"+strings.Replace(srv.URL, "https://", "https://u:p@", 1), nt))
	require.Equal(t, 1.0, testutil.ToFloat64(n.outcomes.WithLabelValues("trust+https", "ok")))

	n, _ = newNotifier(t, Options{Retries: -1, InsecureSkipVerify: true})
	require.NoError(t, n.Notify(context.Background(), srv.URL, nt))
	require.Equal(t, int32(3), calls.Load())

	_, err = New(Options{CAFile: filepath.Join(t.TempDir(), "missing.pem")})
	require.Error(t, err)
	bad := filepath.Join(t.TempDir(), "bad.pem")
	require.NoError(t, os.WriteFile(bad, []byte("not pem"), 0o600))
	_, err = New(Options{CAFile: bad})
	require.Error(t, err)
}

func TestTrustStripsCredentials(t *testing.T) {
	t.Parallel()
	var got received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.add(r)
		require.Equal(t, "/hook", r.URL.Path)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	n, _ := newNotifier(t, Options{})
	require.NoError(t, n.Notify(context.Background(), strings.Replace(srv.URL, "http://", "trust+http://admin:secret@", 1)+"/hook", nt))
	require.Empty(t, got.headers[0].Get("Authorization"))
}

func TestLogAndInvalid(t *testing.T) {
	t.Parallel()
	n, _ := newNotifier(t, Options{})
	require.NoError(t, n.Notify(context.Background(), "log://", nt))
	require.Equal(t, 1.0, testutil.ToFloat64(n.outcomes.WithLabelValues("log", "ok")))
	err := n.Notify(context.Background(), "gopher://x", nt)
	var ue *URLError
	require.True(t, errors.As(err, &ue))
	require.Equal(t, 1.0, testutil.ToFloat64(n.outcomes.WithLabelValues("invalid", "rejected")))
	// A second registration on one registry is an error, not a panic.
	reg := prometheus.NewRegistry()
	_, err = New(Options{Registerer: reg})
	require.NoError(t, err)
	_, err = New(Options{Registerer: reg})
	require.Error(t, err)
}

// TestReconfigure: new retries and a CA file apply to the next
// notifications; a CA file that cannot be read changes nothing.
func TestReconfigure(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	n, _ := newNotifier(t, Options{Retries: -1})
	require.ErrorContains(t, n.Notify(context.Background(), srv.URL, nt), "certificate")
	require.Zero(t, calls.Load())

	require.NoError(t, n.Reconfigure(Options{Retries: 2, Backoff: time.Millisecond, CAFile: ca}))
	require.ErrorContains(t, n.Notify(context.Background(), srv.URL, nt), "status 503")
	require.Equal(t, int32(3), calls.Load(), "trusted now, and retried twice")

	missing := Options{Retries: -1, CAFile: filepath.Join(t.TempDir(), "missing.pem")}
	require.Error(t, CheckOptions(missing))
	require.Error(t, n.Reconfigure(missing))
	require.Error(t, n.Notify(context.Background(), srv.URL, nt))
	require.Equal(t, int32(6), calls.Load(), "the previous settings: trusted, two retries")
}
