package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

// discoveryMethod lists one resource per meter block.
const discoveryMethod = "definitions"

var (
	_ pollster.Pollster   = (*poller)(nil)
	_ pollster.Discoverer = (*poller)(nil)
)

// poller is the http pollster: compiled definitions and one HTTP client.
type poller struct {
	log         hclog.Logger
	defs        []*definition
	byName      map[string]*definition
	client      *http.Client
	concurrency int
	maxPages    int
	maxBody     int64
	now         func() time.Time

	mu    sync.Mutex
	state map[string]string // definition name -> last outcome, for logging changes only

	stats struct {
		requests, requestErrors, httpErrors, malformed atomic.Uint64
		invalidEntries, skipped, samples, defErrors    atomic.Uint64
	}
}

func newPoller(c config, log hclog.Logger, getenv func(string) string) (*poller, error) {
	defs, _, err := compile(c, getenv)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = max(2*c.Concurrency, 2)
	if c.CAFile != "" || c.InsecureSkipVerify {
		tc := &tls.Config{InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // opt-in, documented as testing only
		if c.CAFile != "" {
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			pem, err := os.ReadFile(c.CAFile)
			if err != nil || !pool.AppendCertsFromPEM(pem) {
				return nil, schema.AttrError("ca_file", c.CAFile+" holds no PEM certificate")
			}
			tc.RootCAs = pool
		}
		tr.TLSClientConfig = tc
	}
	p := &poller{
		log:         log,
		defs:        defs,
		byName:      make(map[string]*definition, len(defs)),
		client:      &http.Client{Transport: tr, CheckRedirect: sameOrigin},
		concurrency: c.Concurrency,
		maxPages:    c.MaxPages,
		maxBody:     int64(c.MaxBodyBytes),
		now:         time.Now,
		state:       map[string]string{},
	}
	for _, d := range defs {
		p.byName[d.name] = d
	}
	return p, nil
}

// sameOrigin refuses redirects to another scheme or host: headers such as
// Authorization must not follow a redirect elsewhere.
func sameOrigin(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if o := via[0].URL; req.URL.Scheme != o.Scheme || req.URL.Host != o.Host {
		return fmt.Errorf("redirect to another origin (%s) refused", redact(req.URL))
	}
	return nil
}

// Discover implements pollster.Discoverer: "definitions" lists one resource
// per meter block (ID = the block's name), so the host's ownership hook can
// share definitions between agents. param, if set, is a glob on names.
func (p *poller) Discover(_ context.Context, method, param string) ([]sample.Resource, error) {
	if method != discoveryMethod {
		return nil, fmt.Errorf("unknown discovery method %q (this pollster offers %q)", method, discoveryMethod)
	}
	if _, err := path.Match(param, ""); err != nil {
		return nil, fmt.Errorf("discovery parameter %q: %w", param, err)
	}
	out := make([]sample.Resource, 0, len(p.defs))
	for _, d := range p.defs {
		if ok, _ := path.Match(param, d.name); param != "" && !ok {
			continue
		}
		out = append(out, sample.Resource{
			ID: d.name, Endpoint: d.shown,
			Metadata: map[string]string{"url": d.shown, "meters": strings.Join(d.meterNames(), ",")},
		})
	}
	return out, nil
}

// Poll implements pollster.Pollster: it requests exactly the definitions
// named by req.Resources (IDs = meter block names), concurrently, and keeps
// the samples of the meters req.Meters selects. Each failing definition is a
// ResourceError of its own.
func (p *poller) Poll(ctx context.Context, req pollster.Request) ([]sample.Sample, error) {
	if len(req.Resources) == 0 {
		return nil, errNoResources
	}
	want := meterMatcher(req.Meters)
	var errs []error
	var todo []*definition
	seen := make(map[string]bool, len(req.Resources))
	for _, r := range req.Resources {
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		d, ok := p.byName[r.ID]
		if !ok {
			errs = append(errs, &pollster.ResourceError{ResourceID: r.ID, Err: fmt.Errorf("no meter block named %q in this pollster", r.ID)})
			continue
		}
		if d.multi == nil && !anyWanted(d, want) {
			continue
		}
		todo = append(todo, d)
	}
	type result struct {
		samples []sample.Sample
		err     error
	}
	results := make([]result, len(todo))
	now := p.now().UTC()
	sem := make(chan struct{}, p.concurrency)
	var wg sync.WaitGroup
	for i, d := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i].err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			results[i].samples, results[i].err = p.pollDefinition(ctx, d, want, now)
		}()
	}
	wg.Wait()
	var out []sample.Sample
	for i, d := range todo {
		r := results[i]
		out = append(out, r.samples...)
		p.stats.samples.Add(uint64(len(r.samples)))
		p.record(d, r.err)
		if r.err != nil {
			errs = append(errs, &pollster.ResourceError{ResourceID: d.name, Meter: d.meters[0].name, Err: r.err})
		}
	}
	return out, errors.Join(errs...)
}

func anyWanted(d *definition, want func(string) bool) bool {
	for _, m := range d.meters {
		if want(m.name) {
			return true
		}
	}
	return false
}

// meterMatcher selects meter names by the request's names or globs; no
// names selects all.
func meterMatcher(patterns []string) func(string) bool {
	if len(patterns) == 0 {
		return func(string) bool { return true }
	}
	return func(name string) bool {
		for _, pt := range patterns {
			if pt == name || pt == "*" {
				return true
			}
			if ok, _ := path.Match(pt, name); ok {
				return true
			}
		}
		return false
	}
}

// invalidEntriesError is a definition whose response was read but some
// entries could not become samples.
type invalidEntriesError struct {
	n, total int
	first    error
}

func (e *invalidEntriesError) Error() string {
	return fmt.Sprintf("%d of %d entries skipped as invalid; first: %v", e.n, e.total, e.first)
}

// pollDefinition requests one definition (following next links) and builds
// its samples. A failed request or malformed page drops the whole
// definition for this round; invalid entries drop only themselves.
func (p *poller) pollDefinition(ctx context.Context, d *definition, want func(string) bool, now time.Time) ([]sample.Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var r extractResult
	total := 0
	u := d.url
	visited := map[string]bool{}
	for n := 1; ; n++ {
		visited[u.String()] = true
		body, err := p.fetch(ctx, d, u)
		if err != nil {
			return nil, err
		}
		pg, err := d.parse(body)
		if err != nil {
			p.stats.malformed.Add(1)
			return nil, fmt.Errorf("%s %s: %w", d.method, redact(u), err)
		}
		total += len(pg.entries)
		d.extract(pg.entries, now, want, &r)
		if pg.next == "" {
			break
		}
		next, err := u.Parse(pg.next)
		switch {
		case err != nil:
			p.stats.malformed.Add(1)
			return nil, fmt.Errorf("%w: next link is not a URL", errMalformed)
		case next.Scheme != d.url.Scheme || next.Host != d.url.Host:
			p.stats.malformed.Add(1)
			return nil, fmt.Errorf("%w: next link leaves %s://%s (refused: the request headers would go with it)", errMalformed, d.url.Scheme, d.url.Host)
		case visited[next.String()]:
			p.stats.malformed.Add(1)
			return nil, fmt.Errorf("%w: next link loops back to a page already read", errMalformed)
		case n >= p.maxPages:
			return nil, fmt.Errorf("%w (%d)", errTooManyPages, p.maxPages)
		}
		u = next
	}
	p.stats.skipped.Add(uint64(r.skipped))
	if r.invalid > 0 {
		p.stats.invalidEntries.Add(uint64(r.invalid))
		return r.samples, &invalidEntriesError{n: r.invalid, total: total, first: r.first}
	}
	return r.samples, nil
}

// statusError is a response with a non-2xx status.
type statusError struct {
	method, url string
	code        int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d %s", e.method, e.url, e.code, http.StatusText(e.code))
}

// fetch does one request and reads the body (at most max_body_bytes).
// Errors show the URL without credentials or query.
func (p *poller) fetch(ctx context.Context, d *definition, u *url.URL) ([]byte, error) {
	shown := redact(u)
	var body io.Reader
	if d.body != "" {
		body = strings.NewReader(d.body)
	}
	req, err := http.NewRequestWithContext(ctx, d.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", d.method, shown, err)
	}
	req.Header = d.header.Clone()
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "altimeter-pollster-http")
	}
	if d.text == nil && req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	p.stats.requests.Add(1)
	resp, err := p.client.Do(req)
	if err != nil {
		p.stats.requestErrors.Add(1)
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL, query included
		}
		return nil, fmt.Errorf("%s %s: %w", d.method, shown, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		p.stats.httpErrors.Add(1)
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
		return nil, &statusError{method: d.method, url: shown, code: resp.StatusCode}
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 && resp.ContentLength <= p.maxBody {
		buf.Grow(int(resp.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, p.maxBody+1))
	if err != nil {
		p.stats.requestErrors.Add(1)
		return nil, fmt.Errorf("%s %s: read body: %w", d.method, shown, err)
	}
	if n > p.maxBody {
		p.stats.malformed.Add(1)
		return nil, fmt.Errorf("%s %s: %w: body larger than max_body_bytes (%d)", d.method, shown, errMalformed, p.maxBody)
	}
	return buf.Bytes(), nil
}

// stateOf names the outcome of a definition's round, so a change (and only
// a change) is logged.
func stateOf(err error) string {
	var se *statusError
	var ie *invalidEntriesError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &se):
		return fmt.Sprintf("http_%d", se.code)
	case errors.As(err, &ie):
		return "invalid_entries"
	case errors.Is(err, errMalformed):
		return "malformed"
	case errors.Is(err, errTooManyPages):
		return "too_many_pages"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout"
	}
	return "unreachable"
}

// record counts a definition's outcome and logs it when it differs from the
// previous round's (once per state change, not once per poll).
func (p *poller) record(d *definition, err error) {
	if err != nil {
		p.stats.defErrors.Add(1)
	}
	st := stateOf(err)
	p.mu.Lock()
	prev, known := p.state[d.name]
	p.state[d.name] = st
	p.mu.Unlock()
	if prev == st {
		return
	}
	log := p.log.With("definition", d.name, "url", d.shown)
	switch {
	case err == nil && known:
		log.Info("definition recovered", "was", prev)
	case err != nil:
		log.Warn("definition failing", "state", st, "error", err)
	}
}

// Counters implements base.CounterReporter.
func (p *poller) Counters() map[string]uint64 {
	return map[string]uint64{
		"requests":            p.stats.requests.Load(),
		"request_errors":      p.stats.requestErrors.Load(),
		"http_errors":         p.stats.httpErrors.Load(),
		"malformed_responses": p.stats.malformed.Load(),
		"invalid_entries":     p.stats.invalidEntries.Load(),
		"skipped_values":      p.stats.skipped.Load(),
		"samples":             p.stats.samples.Load(),
		"definition_errors":   p.stats.defErrors.Load(),
	}
}

// Close implements base.Closer: it drops idle connections.
func (p *poller) Close(context.Context) error {
	if p != nil && p.client != nil {
		p.client.CloseIdleConnections()
	}
	return nil
}
