package rule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/altimeter/altimeter/host/promapi"
)

// Bounds on a PromQL answer a prometheus rule compares.
const (
	maxPromBody    = 4 << 20
	maxPromSamples = 10000
)

// WithPromQL returns src extended with p, so prometheus rules evaluate.
func WithPromQL(src Source, p PromQLSource) Source {
	return promSource{Source: src, p: p}
}

type promSource struct {
	Source
	p PromQLSource
}

func (s promSource) Instant(ctx context.Context, projectID, query string, t time.Time) ([]float64, error) {
	return s.p.Instant(ctx, projectID, query, t)
}

// EmbeddedPromQL runs prometheus rules' queries on the agent's own PromQL
// engine (host/promapi over the store), in process, as a member of the
// alarm's project: the engine confines every selector to that project.
type EmbeddedPromQL struct {
	h http.Handler
}

// NewEmbeddedPromQL serves queries through api (the agent's query API).
func NewEmbeddedPromQL(api *promapi.API) *EmbeddedPromQL {
	gin.SetMode(gin.ReleaseMode) // as host/api does: no debug route dump on stdout
	r := gin.New()
	api.Register(r.Group("/api/v1"))
	return &EmbeddedPromQL{h: r}
}

// Instant implements PromQLSource.
func (e *EmbeddedPromQL) Instant(ctx context.Context, projectID, query string, t time.Time) ([]float64, error) {
	if projectID == "" {
		return nil, errors.New("promql: no project scope")
	}
	ctx = promapi.WithPrincipal(ctx, promapi.Principal{Project: projectID})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/query?"+InstantForm(query, t).Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("promql: %w", err)
	}
	w := &bufferWriter{header: http.Header{}, code: http.StatusOK}
	e.h.ServeHTTP(w, req)
	return DecodeInstant(w.code, w.body.Bytes())
}

// bufferWriter is a minimal in-memory http.ResponseWriter, bounded.
type bufferWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *bufferWriter) Header() http.Header { return w.header }
func (w *bufferWriter) WriteHeader(c int)   { w.code = c }
func (w *bufferWriter) Write(b []byte) (int, error) {
	if w.body.Len()+len(b) > maxPromBody {
		return 0, fmt.Errorf("promql answer larger than %d bytes", maxPromBody)
	}
	return w.body.Write(b)
}

// PromHTTP runs prometheus rules' queries on a Prometheus-compatible HTTP
// API (an external Prometheus). The query runs as written: an external
// Prometheus knows nothing of Altimeter projects, as with Aodh.
type PromHTTP struct {
	base   string
	client *http.Client
	header http.Header
}

// NewPromHTTP returns a PromQLSource for the Prometheus at baseURL
// (http or https, without /api/v1). client nil means a client with a 30 s
// timeout; header is added to every request (e.g. an Authorization).
func NewPromHTTP(baseURL string, client *http.Client, header http.Header) (*PromHTTP, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("prometheus URL %q: want http(s)://host[:port][/path]", baseURL)
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return &PromHTTP{base: strings.TrimRight(baseURL, "/"), client: client, header: header.Clone()}, nil
}

// Instant implements PromQLSource; projectID is not applied (see PromHTTP).
func (p *PromHTTP) Instant(ctx context.Context, _ string, query string, t time.Time) ([]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/api/v1/query", strings.NewReader(InstantForm(query, t).Encode()))
	if err != nil {
		return nil, fmt.Errorf("promql: %w", err)
	}
	for k, vs := range p.header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("promql: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPromBody+1))
	if err != nil {
		return nil, fmt.Errorf("promql: read answer: %w", err)
	}
	if len(body) > maxPromBody {
		return nil, fmt.Errorf("promql answer larger than %d bytes", maxPromBody)
	}
	return DecodeInstant(resp.StatusCode, body)
}

// InstantForm is the form of an instant query of query at t.
func InstantForm(query string, t time.Time) url.Values {
	return url.Values{"query": {query}, "time": {strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)}}
}

// DecodeInstant reads a /api/v1/query answer (code is its HTTP status):
// the values of a vector, or the one value of a scalar. A matrix or
// string result is an error; so is a vector of more than 10,000 samples.
func DecodeInstant(code int, body []byte) ([]float64, error) {
	var r struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("promql: status %d, undecodable answer: %w", code, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("promql: %s: %s", r.ErrorType, r.Error)
	}
	switch r.Data.ResultType {
	case "scalar":
		var pt [2]any
		if err := json.Unmarshal(r.Data.Result, &pt); err != nil {
			return nil, fmt.Errorf("promql: scalar: %w", err)
		}
		v, err := promValue(pt[1])
		if err != nil {
			return nil, err
		}
		return []float64{v}, nil
	case "vector":
		var vec []struct {
			Value [2]any `json:"value"`
		}
		if err := json.Unmarshal(r.Data.Result, &vec); err != nil {
			return nil, fmt.Errorf("promql: vector: %w", err)
		}
		if len(vec) > maxPromSamples {
			return nil, fmt.Errorf("promql: %d samples, at most %d", len(vec), maxPromSamples)
		}
		out := make([]float64, 0, len(vec))
		for _, s := range vec {
			v, err := promValue(s.Value[1])
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("promql: result type %q: want an instant vector or a scalar", r.Data.ResultType)
}

func promValue(v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("promql: sample value %v is not a string", v)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("promql: sample value %q: %w", s, err)
	}
	return f, nil
}
