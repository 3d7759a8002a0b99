package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/testpki"
	"github.com/altimeter/altimeter/internal/tlsconf"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// receiver is a stand-in for the receiving agent's POST /v2/meters/{name}:
// it stores by message id (as the real store does) and can be told to
// fail.
type receiver struct {
	mu      sync.Mutex
	token   string
	fail    []int // statuses to answer, in order, before accepting
	posts   int
	byID    map[string]map[string]any
	paths   []string
	badKeys []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.posts++
	r.paths = append(r.paths, req.URL.Path)
	if req.Header.Get("X-Auth-Token") != r.token {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if len(r.fail) > 0 {
		code := r.fail[0]
		r.fail = r.fail[1:]
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"error_message":{"faultstring":"nope"}}`)
		return
	}
	var items []map[string]any
	if err := json.NewDecoder(req.Body).Decode(&items); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	for _, it := range items {
		for k := range it {
			if !contains(postKeys, k) {
				r.badKeys = append(r.badKeys, k)
			}
		}
		if it["counter_name"] != strings.TrimPrefix(req.URL.Path, "/v2/meters/") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.byID[it["message_id"].(string)] = it
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, "[]")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func samples(n int) []sample.Sample {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	out := make([]sample.Sample, n)
	for i := range out {
		out[i] = sample.Sample{Name: []string{"cpu.util", "memory.usage"}[i%2], Type: sample.Gauge, Unit: "%", Volume: float64(i),
			ResourceID: fmt.Sprintf("r%d", i), ProjectID: "p", Source: "test", Timestamp: ts.Add(time.Duration(i) * time.Second),
			MessageID: fmt.Sprintf("m%d", i), MonotonicTime: time.Second, Metadata: map[string]string{"host": "h"}}
	}
	return out
}

func start(t *testing.T, fail ...int) (*receiver, string) {
	t.Helper()
	r := &receiver{token: "alt_secret", fail: fail, byID: map[string]map[string]any{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	tokFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokFile, []byte(r.token+"\n"), 0o600))
	return r, fmt.Sprintf("url = %q\ntoken_file = %q\nbatch_size = 3\nmax_retries = 2\ntimeout = \"2s\"\n", srv.URL, tokFile)
}

func TestPublish(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		fail     []int
		outcome  base.Outcome
		stored   int
		rejected int
	}{
		{name: "accepted, grouped by meter and batch_size", outcome: base.Accepted, stored: 10},
		{name: "5xx then success is retried in the call", fail: []int{503, 502}, outcome: base.Accepted, stored: 10},
		{name: "5xx past max_retries: the host retries later", fail: []int{500, 500, 500}, outcome: base.Retry},
		{name: "401 keeps the samples queued", fail: []int{401, 401, 401}, outcome: base.Retry},
		{name: "400 rejects that post's samples only", fail: []int{400}, outcome: base.Accepted, stored: 7, rejected: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, cfg := start(t, tc.fail...)
			c := sdktest.Publisher(t, spec(), cfg)
			res, err := c.Publish(context.Background(), &sample.Batch{Samples: samples(10)})
			require.NoError(t, err)
			require.Equal(t, tc.outcome, res.Outcome, res.Reason)
			rejected := 0
			for _, it := range res.Items {
				if it.Outcome == base.Rejected {
					rejected++
					require.Contains(t, it.Reason, "HTTP 400")
				}
			}
			require.Equal(t, tc.rejected, rejected)
			r.mu.Lock()
			defer r.mu.Unlock()
			if tc.outcome == base.Accepted {
				require.Len(t, r.byID, tc.stored)
			}
			require.Empty(t, r.badKeys, "only the keys POST /v2/meters accepts")
			for _, p := range r.paths {
				require.Contains(t, []string{"/v2/meters/cpu.util", "/v2/meters/memory.usage"}, p)
			}
		})
	}
}

// TestRetryIsIdempotent: a batch the host publishes again after a failure
// half way is stored once per message id.
func TestRetryIsIdempotent(t *testing.T) {
	t.Parallel()
	r, cfg := start(t)
	c := sdktest.Publisher(t, spec(), cfg)
	b := &sample.Batch{Samples: samples(10)}
	for range 2 {
		res, err := c.Publish(context.Background(), b)
		require.NoError(t, err)
		require.Equal(t, base.Accepted, res.Outcome)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Len(t, r.byID, 10)
	require.Equal(t, "m3", r.byID["m3"]["message_id"])
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	p := sdktest.Start(t, spec().Info(), spec().Register())
	diags := p.Configure(t, "url = \"ftp://x\"\ntimeout = \"soon\"\nmax_retries = 99\nbatch_size = 0\n")
	text := sdktest.Text(diags)
	for _, want := range []string{"url", "timeout", "max_retries", "batch_size", "token_file"} {
		require.Contains(t, text, want)
	}
}

func TestExample(t *testing.T) {
	sp := spec()
	sdktest.CheckExample(t, "example.hcl", sp.Info(), sp.Register())
}

// TestHTTPS: the publisher posts to an https receiver whose certificate a
// CA of the test signed when ca_file names it, and presents cert_file to
// a receiver that requires mutual TLS.
func TestHTTPS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testpki.CA(t, dir, "api", "server", "client")
	file := func(n string) string { return filepath.Join(dir, n) }
	for _, mutual := range []bool{false, true} {
		t.Run(fmt.Sprintf("mutual=%v", mutual), func(t *testing.T) {
			t.Parallel()
			clientCA := ""
			if mutual {
				clientCA = ca
			}
			tc, err := tlsconf.Server(file("server.pem"), file("server-key.pem"), clientCA)
			require.NoError(t, err)
			r := &receiver{token: "alt_secret", byID: map[string]map[string]any{}}
			srv := httptest.NewUnstartedServer(r)
			srv.TLS = tc
			srv.StartTLS()
			t.Cleanup(srv.Close)
			tokFile := filepath.Join(t.TempDir(), "token")
			require.NoError(t, os.WriteFile(tokFile, []byte(r.token), 0o600))
			cfg := fmt.Sprintf("url = %q\ntoken_file = %q\nmax_retries = 0\nca_file = %q\n", srv.URL, tokFile, ca)
			if mutual {
				cfg += fmt.Sprintf("cert_file = %q\nkey_file = %q\n", file("client.pem"), file("client-key.pem"))
			}
			c := sdktest.Publisher(t, spec(), cfg)
			res, err := c.Publish(context.Background(), &sample.Batch{Samples: samples(4)})
			require.NoError(t, err)
			require.Equal(t, base.Accepted, res.Outcome, res.Reason)
			r.mu.Lock()
			require.Len(t, r.byID, 4)
			r.mu.Unlock()

			// Without the CA (or the client certificate): not accepted.
			bare := fmt.Sprintf("url = %q\ntoken_file = %q\nmax_retries = 0\n", srv.URL, tokFile)
			if mutual {
				bare += fmt.Sprintf("ca_file = %q\n", ca)
			}
			c = sdktest.Publisher(t, spec(), bare)
			res, err = c.Publish(context.Background(), &sample.Batch{Samples: samples(4)})
			require.NoError(t, err)
			require.Equal(t, base.Retry, res.Outcome)
		})
	}
	p := sdktest.Start(t, spec().Info(), spec().Register())
	text := sdktest.Text(p.Configure(t, fmt.Sprintf("url = \"https://x\"\ntoken_env = \"T\"\nca_file = %q\ncert_file = \"a.pem\"\n", file("missing.pem"))))
	require.Contains(t, text, "cert_file")
}
