package apisource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/altimeter/altimeter/host/alarm/rule"
	"github.com/altimeter/altimeter/host/promapi"
	"github.com/altimeter/altimeter/sdk/sample"
)

// maxBody bounds an answer read from the store member.
const maxBody = 16 << 20

const isoLayout = "2006-01-02T15:04:05.000000"

// Source reads a store member's API with a token that may read every
// project (an admin token: tokens are cluster-wide); every request is
// confined to the alarm's project by its own filter.
type Source struct {
	base   *url.URL
	token  func() (string, error)
	client *http.Client
	// granularities answers Granularities (the local store options).
	granularities func(meter string) []time.Duration
}

var _ rule.Source = (*Source)(nil)

// New returns a Source for the API at baseURL (http://host:port). token is
// asked for the token at each request (a file may be rewritten);
// granularities tells a meter's archive granularities.
func New(baseURL string, token func() (string, error), granularities func(string) []time.Duration, client *http.Client) (*Source, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("store url %q: want http(s)://host:port", baseURL)
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Source{base: u, token: token, client: client, granularities: granularities}, nil
}

func (s *Source) get(ctx context.Context, path string, q url.Values, out any) (int, error) {
	code, b, err := s.fetch(ctx, path, q)
	if err != nil {
		return code, err
	}
	if code != http.StatusOK {
		return code, fmt.Errorf("GET %s: HTTP %d: %.200s", path, code, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return code, fmt.Errorf("GET %s: decode: %w", path, err)
	}
	return code, nil
}

// fetch GETs path with the token and returns the status and the body
// (at most maxBody bytes).
func (s *Source) fetch(ctx context.Context, path string, q url.Values) (int, []byte, error) {
	tok, err := s.token()
	if err != nil {
		return 0, nil, fmt.Errorf("store token: %w", err)
	}
	u := *s.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("GET %s: read: %w", path, err)
	}
	if len(b) > maxBody {
		return resp.StatusCode, nil, fmt.Errorf("GET %s: answer over %d bytes", path, maxBody)
	}
	return resp.StatusCode, b, nil
}

// Instant implements rule.PromQLSource: the store member's Prometheus
// query API runs the query, confined to projectID here (the token is an
// admin's, which the member does not confine).
func (s *Source) Instant(ctx context.Context, projectID, query string, t time.Time) ([]float64, error) {
	if projectID == "" {
		return nil, errors.New("promql: no project scope")
	}
	confined, err := promapi.Confine(query, projectID)
	if err != nil {
		return nil, fmt.Errorf("promql: %w", err)
	}
	code, b, err := s.fetch(ctx, "/api/v1/query", rule.InstantForm(confined, t))
	if err != nil {
		return nil, fmt.Errorf("promql: %w", err)
	}
	return rule.DecodeInstant(code, b)
}

func addQ(q url.Values, field, op, value string) {
	q.Add("q.field", field)
	q.Add("q.op", op)
	q.Add("q.value", value)
}

type statJSON struct {
	PeriodStart string             `json:"period_start"`
	Avg         *float64           `json:"avg"`
	Min         *float64           `json:"min"`
	Max         *float64           `json:"max"`
	Sum         *float64           `json:"sum"`
	Count       *int64             `json:"count"`
	Aggregate   map[string]float64 `json:"aggregate"`
}

// Statistics implements rule.Source over GET /v2/meters/{meter}/statistics.
func (s *Source) Statistics(ctx context.Context, q rule.StatsQuery) ([]rule.Bucket, error) {
	if q.ProjectID == "" {
		return nil, errors.New("statistics: no project scope")
	}
	v := url.Values{}
	addQ(v, "project_id", "eq", q.ProjectID)
	for _, f := range []struct{ field, value string }{{"resource_id", q.ResourceID}, {"user_id", q.UserID}, {"source", q.Source}} {
		if f.value != "" {
			addQ(v, f.field, "eq", f.value)
		}
	}
	keys := make([]string, 0, len(q.Metadata))
	for k := range q.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		addQ(v, "metadata."+k, "eq", q.Metadata[k])
	}
	if !q.Start.IsZero() {
		addQ(v, "timestamp", "ge", q.Start.UTC().Format(isoLayout))
	}
	if !q.End.IsZero() {
		addQ(v, "timestamp", "lt", q.End.UTC().Format(isoLayout))
	}
	if q.Period > 0 {
		v.Set("period", strconv.FormatInt(int64(q.Period/time.Second), 10))
	}
	if q.Aggregate == "stddev" {
		v.Add("aggregate.func", "stddev")
		v.Add("aggregate.func", "count")
	}
	var rows []statJSON
	if _, err := s.get(ctx, "/v2/meters/"+url.PathEscape(q.Meter)+"/statistics", v, &rows); err != nil {
		return nil, fmt.Errorf("statistics of %s: %w", q.Meter, err)
	}
	out := make([]rule.Bucket, 0, len(rows))
	for _, r := range rows {
		if r.Count == nil || *r.Count == 0 {
			continue
		}
		start, err := sample.ParseISOTime(r.PeriodStart)
		if err != nil {
			return nil, fmt.Errorf("statistics of %s: period_start %q: %w", q.Meter, r.PeriodStart, err)
		}
		val := func(p *float64) float64 {
			if p == nil {
				return 0
			}
			return *p
		}
		b := rule.Bucket{Start: start, Count: *r.Count, Value: val(r.Avg)}
		switch q.Aggregate {
		case "min":
			b.Value = val(r.Min)
		case "max":
			b.Value = val(r.Max)
		case "sum":
			b.Value = val(r.Sum)
		case "count":
			b.Value = float64(*r.Count)
		case "stddev":
			b.Value = r.Aggregate["stddev"]
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

type resourceJSON struct {
	ResourceID  string            `json:"resource_id"`
	ProjectID   string            `json:"project_id"`
	UserID      string            `json:"user_id"`
	FirstSample string            `json:"first_sample_timestamp"`
	Metadata    map[string]string `json:"metadata"`
}

// Resources implements rule.Source over GET /v2/resources.
func (s *Source) Resources(ctx context.Context, projectID, meter string, limit int) ([]rule.ResourceInfo, error) {
	if projectID == "" {
		return nil, errors.New("resources: no project scope")
	}
	v := url.Values{}
	addQ(v, "project_id", "eq", projectID)
	addQ(v, "meter", "eq", meter)
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var rows []resourceJSON
	if _, err := s.get(ctx, "/v2/resources", v, &rows); err != nil {
		return nil, fmt.Errorf("resources of %s: %w", meter, err)
	}
	out := make([]rule.ResourceInfo, len(rows))
	for i, r := range rows {
		started, _ := sample.ParseISOTime(r.FirstSample)
		out[i] = rule.ResourceInfo{ID: r.ResourceID, ProjectID: r.ProjectID, UserID: r.UserID, Started: started, Metadata: r.Metadata}
	}
	return out, nil
}

// Granularities implements rule.Source from the local store options.
func (s *Source) Granularities(meter string) []time.Duration { return s.granularities(meter) }

// ResourceProject implements rule.Source over GET /v2/resources/{id}.
func (s *Source) ResourceProject(ctx context.Context, resourceID string) (string, bool, error) {
	var r resourceJSON
	code, err := s.get(ctx, "/v2/resources/"+url.PathEscape(resourceID), nil, &r)
	if code == http.StatusNotFound {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("resource %s: %w", resourceID, err)
	}
	return r.ProjectID, true, nil
}
