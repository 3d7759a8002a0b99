package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang/snappy"
	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/internal/metric"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

// Limits.
const (
	maxSamplesLimit = 100_000
	maxRetryLimit   = 10
	maxErrorBody    = 1 << 10
	firstBackoff    = 100 * time.Millisecond
	maxBackoff      = 5 * time.Second
)

type config struct {
	URL             string   `hcl:"url" desc:"remote write endpoint, e.g. \"http://127.0.0.1:9090/api/v1/write\" (Prometheus with --web.enable-remote-write-receiver) or \"http://127.0.0.1:8428/api/v1/write\" (VictoriaMetrics)"`
	MetadataLabels  []string `hcl:"metadata_labels,optional" desc:"resource metadata keys to add as labels (flavor.name becomes flavor_name), as the PromQL API's metric_labels"`
	Timeout         string   `hcl:"timeout,optional" desc:"bound on one POST"`
	MaxRetries      int      `hcl:"max_retries,optional" desc:"retries of a POST answered 5xx or 429, or that failed to connect, with backoff; then the host retries the batch from its queue"`
	MaxSamples      int      `hcl:"max_samples_per_send,optional" desc:"samples per WriteRequest"`
	SendMetadata    bool     `hcl:"send_metadata,optional" desc:"send each metric family's type (counter for cumulative meters, gauge otherwise) and unit"`
	BearerTokenFile string   `hcl:"bearer_token_file,optional" desc:"file holding a bearer token for the Authorization header (re-read on every request)"`
}

func defaultConfig() config {
	return config{Timeout: "30s", MaxRetries: 3, MaxSamples: 2000, SendMetadata: true}
}

type remoteWrite struct {
	cfg     config
	url     string
	timeout time.Duration
	mapping *metric.Mapping
	client  *http.Client
	log     hclog.Logger

	requests, samples, retried, rejected, skippedEvents atomic.Uint64
}

var _ publisher.Publisher = (*remoteWrite)(nil)

func newRemoteWrite(c config, log hclog.Logger) (*remoteWrite, error) {
	var errs []error
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		errs = append(errs, schema.AttrError("url", "must be an http(s):// URL without credentials, e.g. \"http://127.0.0.1:9090/api/v1/write\""))
	}
	m, err := metric.New(c.MetadataLabels)
	if err != nil {
		errs = append(errs, schema.AttrError("metadata_labels", err.Error()))
	}
	d, err := time.ParseDuration(c.Timeout)
	if err != nil || d <= 0 || d > 10*time.Minute {
		errs = append(errs, schema.AttrError("timeout", "must be a duration from 1ms to 10m, e.g. \"30s\""))
	}
	if c.MaxRetries < 0 || c.MaxRetries > maxRetryLimit {
		errs = append(errs, schema.AttrError("max_retries", fmt.Sprintf("must be from 0 to %d", maxRetryLimit)))
	}
	if c.MaxSamples < 1 || c.MaxSamples > maxSamplesLimit {
		errs = append(errs, schema.AttrError("max_samples_per_send", fmt.Sprintf("must be from 1 to %d", maxSamplesLimit)))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &remoteWrite{cfg: c, url: c.URL, timeout: d, mapping: m, log: log,
		client: &http.Client{Timeout: d}}, nil
}

// Publish writes b's samples in requests of up to max_samples_per_send. A
// request answered 5xx or 429 (or not answered) is retried with backoff,
// then the batch goes back to the host's queue; one answered with another
// 4xx (an out-of-order or malformed sample, which Prometheus refuses for
// the whole request) rejects that request's samples only.
func (r *remoteWrite) Publish(ctx context.Context, b *sample.Batch) error {
	if n := len(b.Events); n > 0 {
		r.skippedEvents.Add(uint64(n))
	}
	rejected := map[int]error{}
	idx := make([]int, 0, min(len(b.Samples), r.cfg.MaxSamples))
	var body, compressed []byte
	for start := 0; start < len(b.Samples); start += r.cfg.MaxSamples {
		idx = idx[:0]
		for i := start; i < min(start+r.cfg.MaxSamples, len(b.Samples)); i++ {
			idx = append(idx, i)
		}
		body = encodeRequest(body[:0], b.Samples, group(r.mapping, b.Samples, idx), r.cfg.SendMetadata)
		compressed = snappy.Encode(compressed[:cap(compressed)], body)
		err := r.send(ctx, compressed)
		var perm *permanentError
		switch {
		case err == nil:
			r.samples.Add(uint64(len(idx)))
		case errors.As(err, &perm):
			r.rejected.Add(uint64(len(idx)))
			for _, i := range idx {
				rejected[i] = err
			}
		default:
			// Requests already written are written again on the retry;
			// Prometheus ignores a sample it holds with the same value.
			return publisher.Retry(err)
		}
	}
	if len(rejected) > 0 {
		if len(rejected) == len(b.Samples) {
			return publisher.Reject(rejected[0])
		}
		return &publisher.ItemsError{Rejected: rejected}
	}
	return nil
}

type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

// send POSTs one compressed request, retrying what may succeed later.
func (r *remoteWrite) send(ctx context.Context, body []byte) error {
	backoff := firstBackoff
	var last error
	for attempt := 0; ; attempt++ {
		r.requests.Add(1)
		code, msg, err := r.post(ctx, body)
		switch {
		case err == nil && code/100 == 2:
			return nil
		case err == nil && code/100 == 4 && code != http.StatusTooManyRequests:
			return &permanentError{msg: fmt.Sprintf("remote write answered %d: %s", code, msg)}
		case err == nil:
			last = fmt.Errorf("remote write answered %d: %s", code, msg)
		default:
			last = err
		}
		if attempt >= r.cfg.MaxRetries || ctx.Err() != nil {
			return last
		}
		r.retried.Add(1)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return last
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

func (r *remoteWrite) post(ctx context.Context, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return 0, "", fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "altimeter-publisher-prometheus")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	if r.cfg.BearerTokenFile != "" {
		tok, err := os.ReadFile(r.cfg.BearerTokenFile)
		if err != nil {
			return 0, "", fmt.Errorf("read bearer_token_file: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("post to %s: %w", r.url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, strings.TrimSpace(string(msg)), nil
}

// Counters implements base.CounterReporter.
func (r *remoteWrite) Counters() map[string]uint64 {
	return map[string]uint64{
		"requests":       r.requests.Load(),
		"samples":        r.samples.Load(),
		"retried":        r.retried.Load(),
		"rejected":       r.rejected.Load(),
		"skipped_events": r.skippedEvents.Load(),
	}
}
