package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/internal/endpoint"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"

	"github.com/altimeter/altimeter/internal/backoff"
)

// formatAltimeter is the only format today: Ceilometer's OldSample JSON to
// an Altimeter API. (Ceilometer's own http publisher format can be added
// as another value.)
const formatAltimeter = "altimeter"

// Limits.
const (
	maxBatchLimit  = 10_000
	maxRetryLimit  = 10
	firstBackoff   = 200 * time.Millisecond
	maxBackoff     = 5 * time.Second
	skippedLogEach = 1000
)

type config struct {
	URL        string `hcl:"url" desc:"base URL of the receiving agent's API, e.g. \"http://store-1:8777\""`
	Format     string `hcl:"format,optional" desc:"\"altimeter\": POST /v2/meters/{name} with OldSample JSON"`
	TokenFile  string `hcl:"token_file,optional" desc:"file holding the X-Auth-Token to send (re-read on every batch)"`
	TokenEnv   string `hcl:"token_env,optional" desc:"environment variable holding the token (instead of token_file)"`
	Timeout    string `hcl:"timeout,optional" desc:"bound on one POST"`
	MaxRetries int    `hcl:"max_retries,optional" desc:"retries of a POST that failed with a 5xx, a timeout or a connection error, within one batch; then the host retries the batch later"`
	BatchSize  int    `hcl:"batch_size,optional" desc:"samples per POST (one meter per POST)"`
	CAFile     string `hcl:"ca_file,optional" desc:"PEM file of the CAs that signed the receiver's https certificate (default: the system roots)"`
	CertFile   string `hcl:"cert_file,optional" desc:"PEM client certificate, for a receiver that requires mutual TLS (with key_file)"`
	KeyFile    string `hcl:"key_file,optional" desc:"PEM key of cert_file"`
}

func defaultConfig() config {
	return config{Format: formatAltimeter, Timeout: "10s", MaxRetries: 3, BatchSize: 1000}
}

type httpPub struct {
	cfg     config
	base    *url.URL
	timeout time.Duration
	client  *http.Client
	log     hclog.Logger
	skipped atomic.Uint64 // events, which this format does not carry
}

var _ publisher.Publisher = (*httpPub)(nil)

func newHTTP(c config, log hclog.Logger) (*httpPub, error) {
	var errs []error
	u, err := endpoint.ParseBase(c.URL)
	if err != nil {
		errs = append(errs, schema.AttrError("url", err.Error()))
	}
	if c.Format != formatAltimeter {
		errs = append(errs, schema.AttrError("format", "must be \"altimeter\""))
	}
	if (c.TokenFile == "") == (c.TokenEnv == "") {
		errs = append(errs, schema.AttrError("token_file", "set exactly one of token_file and token_env"))
	}
	d, err := endpoint.ParseTimeout(c.Timeout)
	if err != nil {
		errs = append(errs, schema.AttrError("timeout", err.Error()))
	}
	if c.MaxRetries < 0 || c.MaxRetries > maxRetryLimit {
		errs = append(errs, schema.AttrError("max_retries", fmt.Sprintf("must be 0 to %d", maxRetryLimit)))
	}
	if c.BatchSize < 1 || c.BatchSize > maxBatchLimit {
		errs = append(errs, schema.AttrError("batch_size", fmt.Sprintf("must be 1 to %d", maxBatchLimit)))
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, schema.AttrError("cert_file", "set both cert_file and key_file, or neither"))
	}
	client, err := endpoint.Client(0, c.CAFile, c.CertFile, c.KeyFile) // each POST has its own timeout
	if err != nil {
		errs = append(errs, schema.AttrError("ca_file", err.Error()))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &httpPub{cfg: c, base: u, timeout: d, client: client, log: log}, nil
}

func (p *httpPub) token() (string, error) {
	if p.cfg.TokenEnv != "" {
		t := strings.TrimSpace(os.Getenv(p.cfg.TokenEnv))
		if t == "" {
			return "", fmt.Errorf("token: $%s is empty", p.cfg.TokenEnv)
		}
		return t, nil
	}
	return endpoint.ReadToken(p.cfg.TokenFile)
}

// postKeys are the attributes POST /v2/meters/{name} accepts.
var postKeys = []string{
	sample.CeilometerName, sample.CeilometerType, sample.CeilometerUnit, sample.CeilometerVolume,
	sample.CeilometerResourceID, sample.CeilometerProjectID, sample.CeilometerUserID, sample.CeilometerSource,
	sample.CeilometerTimestamp, sample.CeilometerResourceMetadata, sample.CeilometerMessageID,
}

// Publish posts the batch's samples, one POST per meter and batch_size. A
// sample the receiver refuses (4xx other than 401/403/404/408/429) is
// rejected by index; anything transient makes the whole batch retry
// later, which the receiver deduplicates by message id.
func (p *httpPub) Publish(ctx context.Context, b *sample.Batch) error {
	if n := len(b.Events); n > 0 {
		if total := p.skipped.Add(uint64(n)); total/skippedLogEach != (total-uint64(n))/skippedLogEach || total == uint64(n) {
			p.log.Warn("events are not sent by the http publisher (format altimeter carries samples)", "skipped_total", total)
		}
	}
	if len(b.Samples) == 0 {
		return nil
	}
	tok, err := p.token()
	if err != nil {
		return publisher.Retry(err)
	}
	// Group by meter, keeping the batch's order and each sample's index.
	groups := map[string][]int{}
	var order []string
	for i := range b.Samples {
		n := b.Samples[i].Name
		if _, ok := groups[n]; !ok {
			order = append(order, n)
		}
		groups[n] = append(groups[n], i)
	}
	rejected := map[int]error{}
	for _, name := range order {
		idx := groups[name]
		for start := 0; start < len(idx); start += p.cfg.BatchSize {
			part := idx[start:min(start+p.cfg.BatchSize, len(idx))]
			body, err := encode(b.Samples, part)
			if err != nil {
				for _, i := range part {
					rejected[i] = err
				}
				continue
			}
			err = p.post(ctx, name, tok, body)
			var perm *permanentError
			switch {
			case errors.As(err, &perm):
				for _, i := range part {
					rejected[i] = err
				}
			case err != nil:
				return publisher.Retry(err)
			}
		}
	}
	if len(rejected) > 0 {
		return publisher.RejectItems(rejected)
	}
	return nil
}

func encode(all []sample.Sample, part []int) ([]byte, error) {
	items := make([]map[string]any, 0, len(part))
	for _, i := range part {
		m := sample.ToCeilometer(&all[i])
		out := make(map[string]any, len(postKeys))
		for _, k := range postKeys {
			if v, ok := m[k]; ok && v != nil {
				out[k] = v
			}
		}
		items = append(items, out)
	}
	b, err := json.Marshal(items)
	if err != nil {
		return nil, fmt.Errorf("encode samples: %w", err)
	}
	return b, nil
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// post sends one body, retrying transient failures with backoff.
func (p *httpPub) post(ctx context.Context, meter, tok string, body []byte) error {
	target := p.base.JoinPath("v2", "meters", meter).String()
	bo := backoff.Exp{Min: firstBackoff, Max: maxBackoff}
	var last error
	for attempt := 0; attempt <= p.cfg.MaxRetries; attempt++ {
		if attempt > 0 {
			if !backoff.Sleep(ctx, bo.Next()) {
				return fmt.Errorf("post %s: %w (last: %v)", meter, ctx.Err(), last)
			}
		}
		last = p.once(ctx, target, tok, body)
		var perm *permanentError
		if last == nil || errors.As(last, &perm) || ctx.Err() != nil {
			return last
		}
		p.log.Debug("post failed; retrying", "meter", meter, "attempt", attempt+1, "error", last)
	}
	return last
}

func (p *httpPub) once(ctx context.Context, target, tok string, body []byte) error {
	rctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return &permanentError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Auth-Token", tok)
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", endpoint.Redact(target), err)
	}
	defer func() { _ = resp.Body.Close() }()
	msg := endpoint.Answer(resp)
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case endpoint.Transient(c), c == http.StatusNotFound:
		// Transient, or a setup problem an operator fixes (token, URL):
		// keep the samples queued.
		return fmt.Errorf("post %s: HTTP %d: %s", endpoint.Redact(target), c, msg)
	default:
		return &permanentError{fmt.Errorf("post %s: HTTP %d: %s", endpoint.Redact(target), c, msg)}
	}
}
