package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/sdk/sample"
)

// DefaultSource is the source of a posted sample that names none, as
// Ceilometer's sample_source default.
const DefaultSource = "openstack"

// postedSource is the source a posted sample is stored and answered with,
// as Ceilometer's POST /v2/meters/{name} sets it: "<project_id>:<source>",
// the source defaulting to DefaultSource ("<project>:openstack"), and a
// sample without a project prefixed "None", as Python formats it.
func postedSource(project, source string) string {
	if project == "" {
		project = "None"
	}
	if source == "" {
		source = DefaultSource
	}
	return project + ":" + source
}

// MaxBodyBytes bounds a request body (posted samples, complex queries).
const MaxBodyBytes = 8 << 20

// registerData adds the Ceilometer v2 data endpoints to v2.
func (s *Server) registerData(v2 *gin.RouterGroup) {
	w := v2.Group("", s.authenticate(), s.countErrors())
	if s.opts.Writer != nil {
		// A write is not cut short by query_timeout: once the time
		// series took it, the index update must follow.
		w.POST("/meters/:name", s.postSamples)
	}
	d := w.Group("", s.deadline())
	d.GET("/meters", s.listMeters)
	d.GET("/meters/:name", s.listMeterSamples)
	d.GET("/meters/:name/statistics", s.statistics)
	d.GET("/samples", s.listSamples)
	d.GET("/samples/:id", s.getSample)
	d.GET("/resources", s.listResources)
	d.GET("/resources/:id", s.getResource)
	d.POST("/query/samples", s.querySamples)
	d.GET("/capabilities", s.capabilities)
}

// checkParams refuses query parameters an endpoint does not take (as WSME
// refuses unknown arguments), so a typo is an error and not a silently
// wider answer. q.* parameters are checked by parseSimpleQuery.
func checkParams(c *gin.Context, allowed ...string) error {
	for k := range c.Request.URL.Query() {
		if strings.HasPrefix(k, "q.") || slices.Contains(allowed, k) {
			continue
		}
		return fmt.Errorf("%w: unknown parameter %s", ErrBadRequest, k)
	}
	return nil
}

// page reads the limit and marker parameters; a limit is at most
// MaxLimit, and a listing without one returns store.DefaultLimit rows.
func (s *Server) page(c *gin.Context) (store.ListOptions, error) {
	o := store.ListOptions{Limit: min(store.DefaultLimit, s.limits.MaxLimit)}
	if v, ok := c.GetQuery("limit"); ok {
		n, err := parseLimit(v, s.limits.MaxLimit)
		if err != nil {
			return o, err
		}
		o.Limit = n
	}
	o.Marker = c.Query("marker")
	return o, nil
}

// queryPlan parses the simple query of c for an endpoint, ANDs extra leaves
// (the meter of /v2/meters/{name}) and applies the caller's scope.
func (s *Server) queryPlan(c *gin.Context, sc queryScope, extra ...*expr) (plan, simpleQuery, error) {
	q, err := parseSimpleQuery(c.Request.URL.Query(), sc)
	if err != nil {
		return plan{}, q, err
	}
	if err := s.checkLeaves(q.root); err != nil {
		return plan{}, q, err
	}
	if len(extra) > 0 {
		kids := slices.Clone(extra)
		if q.root != nil {
			kids = append(kids, q.root)
		}
		q.root = &expr{op: opAnd, kids: kids}
		if len(kids) == 1 {
			q.root = kids[0]
		}
	}
	p, err := planQuery(q, sc, scope(c))
	return p, q, err
}

func meterLeaf(name string) *expr {
	return &expr{op: opEq, field: fieldName, values: []value{{kind: valString, s: name}}}
}

func (s *Server) listMeters(c *gin.Context) {
	if err := checkParams(c, "limit", "marker", "unique"); err != nil {
		abort(c, err)
		return
	}
	unique := false
	if v, ok := c.GetQuery("unique"); ok {
		b, err := parseBoolStrict(v)
		if err != nil {
			abort(c, fmt.Errorf("%w: unique: %v", ErrBadRequest, err))
			return
		}
		unique = b
	}
	o, err := s.page(c)
	if err != nil {
		abort(c, err)
		return
	}
	p, _, err := s.queryPlan(c, metersScope)
	if err != nil {
		abort(c, err)
		return
	}
	o.UniqueNames = unique
	ctx := c.Request.Context()
	ms, err := s.opts.Store.Meters(ctx, p.filter, o)
	if err != nil {
		abort(c, fmt.Errorf("list meters: %w", s.stopped(ctx, err)))
		return
	}
	out := make([]meterJSON, 0, len(ms))
	for i := range ms {
		if unique {
			out = append(out, renderUniqueMeter(&ms[i])) // one per meter name
			continue
		}
		out = append(out, renderMeter(&ms[i]))
	}
	c.JSON(http.StatusOK, out)
}

// samples lists through the store with a plan's filter and residual.
func (s *Server) samples(c *gin.Context, p plan, o store.ListOptions) ([]store.Sample, error) {
	o.Match = p.match()
	ctx := c.Request.Context()
	rows, err := s.opts.Store.Samples(ctx, p.filter, o)
	if err != nil {
		return nil, fmt.Errorf("list samples: %w", s.stopped(ctx, err))
	}
	return rows, nil
}

func (s *Server) listMeterSamples(c *gin.Context) {
	if err := checkParams(c, "limit", "marker"); err != nil {
		abort(c, err)
		return
	}
	o, err := s.page(c)
	if err != nil {
		abort(c, err)
		return
	}
	p, _, err := s.queryPlan(c, samplesScope, meterLeaf(c.Param("name")))
	if err != nil {
		abort(c, err)
		return
	}
	rows, err := s.samples(c, p, o)
	if err != nil {
		abort(c, err)
		return
	}
	writeOldSamples(c, http.StatusOK, rows, renderOldSample)
}

func (s *Server) listSamples(c *gin.Context) {
	if err := checkParams(c, "limit", "marker"); err != nil {
		abort(c, err)
		return
	}
	o, err := s.page(c)
	if err != nil {
		abort(c, err)
		return
	}
	p, _, err := s.queryPlan(c, samplesScope)
	if err != nil {
		abort(c, err)
		return
	}
	rows, err := s.samples(c, p, o)
	if err != nil {
		abort(c, err)
		return
	}
	writeList(c, http.StatusOK, rows, renderSample)
}

func (s *Server) getSample(c *gin.Context) {
	if err := checkParams(c); err != nil {
		abort(c, err)
		return
	}
	row, err := s.opts.Store.Sample(c.Request.Context(), c.Param("id"), scope(c))
	if err != nil {
		abort(c, fmt.Errorf("get sample %s: %w", c.Param("id"), err))
		return
	}
	c.JSON(http.StatusOK, renderSample(&row))
}

func (s *Server) listResources(c *gin.Context) {
	if err := checkParams(c, "limit", "marker", "meter_links"); err != nil {
		abort(c, err)
		return
	}
	o, err := s.page(c)
	if err != nil {
		abort(c, err)
		return
	}
	links := true
	if v, ok := c.GetQuery("meter_links"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			abort(c, fmt.Errorf("%w: meter_links must be an integer, got %q", ErrBadRequest, v))
			return
		}
		links = n != 0
	}
	p, _, err := s.queryPlan(c, resourcesScope)
	if err != nil {
		abort(c, err)
		return
	}
	ctx := c.Request.Context()
	rs, err := s.opts.Store.Resources(ctx, p.filter, o)
	if err != nil {
		abort(c, fmt.Errorf("list resources: %w", s.stopped(ctx, err)))
		return
	}
	base := s.URL()
	writeList(c, http.StatusOK, rs, func(r *store.Resource) resourceJSON { return renderResource(r, base, links) })
}

func (s *Server) getResource(c *gin.Context) {
	if err := checkParams(c); err != nil {
		abort(c, err)
		return
	}
	r, err := s.opts.Store.Resource(c.Request.Context(), c.Param("id"), scope(c))
	if err != nil {
		abort(c, fmt.Errorf("get resource %s: %w", c.Param("id"), err))
		return
	}
	c.JSON(http.StatusOK, renderResource(&r, s.URL(), true))
}

// aggregateFuncs are the aggregates statistics accepts; true when the
// function takes a parameter.
var aggregateFuncs = map[string]bool{
	"avg": false, "sum": false, "min": false, "max": false, "count": false, "stddev": false,
	"cardinality": true,
}

var cardinalityParams = []string{"resource_id", "project_id", "user_id"}

// parseAggregates pairs repeated aggregate.func and aggregate.param: params
// go, in order, to the functions that take one (cardinality).
func parseAggregates(params url.Values) ([]store.Aggregate, error) {
	funcs, args := params["aggregate.func"], params["aggregate.param"]
	out := make([]store.Aggregate, 0, len(funcs))
	seen := map[store.Aggregate]bool{}
	for _, f := range funcs {
		takes, ok := aggregateFuncs[f]
		if !ok {
			return nil, fmt.Errorf("%w: unknown aggregate.func %q (want avg, sum, min, max, count, stddev or cardinality)", ErrBadRequest, f)
		}
		a := store.Aggregate{Func: f}
		if takes {
			if len(args) == 0 {
				return nil, fmt.Errorf("%w: aggregate.func %s needs an aggregate.param (resource_id, project_id or user_id)", ErrBadRequest, f)
			}
			a.Param, args = args[0], args[1:]
			if !slices.Contains(cardinalityParams, a.Param) {
				return nil, fmt.Errorf("%w: aggregate.param %q of %s (want resource_id, project_id or user_id)", ErrBadRequest, a.Param, f)
			}
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	if len(args) > 0 {
		return nil, fmt.Errorf("%w: aggregate.param %q has no aggregate.func that takes it", ErrBadRequest, args[0])
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// maxGroupBy bounds the fields of a groupby: each is read for every
// sample a statistics request aggregates.
const maxGroupBy = 8

// parseGroupBy validates repeated groupby parameters, without duplicates,
// at most maxGroupBy of them.
func parseGroupBy(params url.Values) ([]string, error) {
	var out []string
	if n := len(params["groupby"]); n > maxGroupBy {
		return nil, refuse(refusedGroups, fmt.Errorf("%w: groupby: %d fields, more than the maximum %d", ErrBadRequest, n, maxGroupBy))
	}
	for _, g := range params["groupby"] {
		field := canonicalField(g)
		switch {
		case field == fieldResource || field == fieldProject || field == fieldUser || field == fieldSource:
		case strings.HasPrefix(field, metaPrefix):
		default:
			return nil, fmt.Errorf("%w: invalid groupby field %q (want resource_id, project_id, user_id, source or resource_metadata.<key>)", ErrBadRequest, g)
		}
		if !slices.Contains(out, field) {
			out = append(out, field)
		}
	}
	return out, nil
}

// maxPeriod bounds the period parameter (about 100 years).
const maxPeriod = 100 * 366 * 24 * 3600

func (s *Server) statistics(c *gin.Context) {
	if err := checkParams(c, "groupby", "period", "aggregate.func", "aggregate.param"); err != nil {
		abort(c, err)
		return
	}
	params := c.Request.URL.Query()
	var period time.Duration
	if v, ok := c.GetQuery("period"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > maxPeriod {
			abort(c, fmt.Errorf("%w: period must be a non-negative number of seconds, got %q", ErrBadRequest, v))
			return
		}
		period = time.Duration(n) * time.Second
	}
	groupBy, err := parseGroupBy(params)
	if err != nil {
		abort(c, err)
		return
	}
	aggs, err := parseAggregates(params)
	if err != nil {
		abort(c, err)
		return
	}
	p, q, err := s.queryPlan(c, statisticsScope, meterLeaf(c.Param("name")))
	if err != nil {
		abort(c, err)
		return
	}
	ctx := c.Request.Context()
	stats, err := s.opts.Store.Statistics(ctx, store.StatsQuery{
		Filter: p.filter, Period: period, GroupBy: groupBy, Aggregates: aggs, MaxGroups: s.limits.MaxGroups, MaxBuckets: s.limits.MaxBuckets,
	})
	if err != nil {
		abort(c, fmt.Errorf("statistics of %s: %w", c.Param("name"), statsError(s.stopped(ctx, err))))
		return
	}
	writeList(c, http.StatusOK, stats, func(st *store.Statistics) statisticsJSON { return renderStatistics(st, aggs, q.start, q.end) })
}

// readBody reads a request body up to MaxBodyBytes.
func readBody(c *gin.Context) ([]byte, error) { return readBodyMax(c, MaxBodyBytes) }

// readBodyMax reads a request body up to limit bytes (413 past it).
func readBodyMax(c *gin.Context, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
		}
		return nil, fmt.Errorf("%w: read body: %v", ErrBadRequest, err)
	}
	return body, nil
}

func (s *Server) querySamples(c *gin.Context) {
	if err := checkParams(c); err != nil {
		abort(c, err)
		return
	}
	body, err := readBody(c)
	if err != nil {
		abort(c, err)
		return
	}
	q, err := decodeComplexQuery(body)
	if err != nil {
		abort(c, err)
		return
	}
	if q.limit == 0 {
		q.limit = min(store.DefaultLimit, s.limits.MaxLimit)
	} else if err := checkLimit(int64(q.limit), s.limits.MaxLimit); err != nil {
		abort(c, err)
		return
	}
	if err := s.checkLeaves(q.root); err != nil {
		abort(c, err)
		return
	}
	p := newPlan(q.root)
	if err := p.confine(scope(c), q.root); err != nil {
		abort(c, err)
		return
	}
	rows, err := s.samples(c, p, store.ListOptions{Limit: q.limit, Marker: q.marker, OrderBy: q.orderBy})
	if err != nil {
		abort(c, err)
		return
	}
	writeList(c, http.StatusOK, rows, renderSample)
}

// postKeys are the attributes of a posted OldSample; recorded_at is
// accepted and ignored (the store stamps it).
var postKeys = []string{
	"source", "counter_name", "counter_type", "counter_unit", "counter_volume", "user_id",
	"project_id", "resource_id", "timestamp", "recorded_at", "resource_metadata", "message_id",
}

// keptSincer is implemented by a Writer whose raw samples expire (the
// store): KeptSince is the oldest timestamp of a meter it keeps now.
type keptSincer interface {
	KeptSince(meter string) time.Time
}

// postRules are the checks of posted samples beyond their shape.
type postRules struct {
	now time.Time // for a missing timestamp
	// maxMetadata bounds each sample's metadata (metadataSize).
	maxMetadata int
	// keptSince, when set, is the oldest timestamp the store keeps: an
	// older sample is refused rather than answered 201 and deleted by the
	// next retention pass.
	keptSince time.Time
}

// decodePosted validates the body of POST /v2/meters/{name} as Ceilometer
// does and completes each sample: the member's project, the default
// source, now for a missing timestamp. A sample without message_id keeps
// none: the store gives it the canonical id of its series and timestamp
// (sdk/sample.Sample.MessageID), so the same sample posted twice is stored
// once. Every sample is checked before any is written: a refused batch
// writes nothing.
//
// The typed decoder (postdecode.go) takes the bodies it fully understands;
// any other body, and every refused one, goes through decodePostedMap,
// which writes every error answer.
func decodePosted(body []byte, name string, scope, ownProject string, r postRules) ([]sample.Sample, error) {
	if out, ok := decodePostedTyped(body, name, scope, ownProject, r); ok {
		return out, nil
	}
	return decodePostedMap(body, name, scope, ownProject, r)
}

// decodePostedMap is decodePosted by way of a map per sample
// (sdk/sample.FromCeilometer): the reference the typed decoder is
// checked against, and the one that words every refusal.
func decodePostedMap(body []byte, name string, scope, ownProject string, r postRules) ([]sample.Sample, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var items []map[string]any
	if err := dec.Decode(&items); err != nil {
		return nil, fmt.Errorf("%w: samples: want a JSON array of samples: %v", ErrBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: samples: trailing data after the array", ErrBadRequest)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%w: samples should be included in request body", ErrBadRequest)
	}
	out := make([]sample.Sample, 0, len(items))
	ids := map[string]int{}
	for i, m := range items {
		if m == nil {
			return nil, fmt.Errorf("%w: samples[%d]: want an object", ErrBadRequest, i)
		}
		// Sorted, so that of several unknown attributes the answer names
		// the same one every time.
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !slices.Contains(postKeys, k) {
				return nil, fmt.Errorf("%w: samples[%d]: unknown attribute %s", ErrBadRequest, i, k)
			}
		}
		delete(m, "recorded_at")
		if got, ok := m[sample.CeilometerName].(string); !ok {
			return nil, fmt.Errorf("%w: samples[%d].counter_name: mandatory string attribute missing", ErrBadRequest, i)
		} else if got != name {
			return nil, fmt.Errorf("%w: samples[%d].counter_name: %q should be %q", ErrBadRequest, i, got, name)
		}
		if _, ok := m[sample.CeilometerUnit].(string); !ok {
			return nil, fmt.Errorf("%w: samples[%d].counter_unit: mandatory string attribute missing", ErrBadRequest, i)
		}
		if r, _ := m[sample.CeilometerResourceID].(string); r == "" {
			return nil, fmt.Errorf("%w: samples[%d].resource_id: mandatory string attribute missing", ErrBadRequest, i)
		}
		if v, ok := m[sample.CeilometerVolume].(string); ok {
			if _, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
				return nil, fmt.Errorf("%w: samples[%d].counter_volume: %q is not a number", ErrBadRequest, i, v)
			}
			m[sample.CeilometerVolume] = json.Number(strings.TrimSpace(v))
		}
		smp, err := sample.FromCeilometer(m)
		if err != nil {
			return nil, fmt.Errorf("%w: samples[%d]: %v", ErrBadRequest, i, err)
		}
		if err := completePosted(i, &smp, m[sample.CeilometerTimestamp] != nil, scope, ownProject, r, ids); err != nil {
			return nil, err
		}
		out = append(out, smp)
	}
	return out, nil
}

// completePosted checks the decoded samples[i] beyond its shape (metadata
// size, timestamp, finite volume, project) and completes it: the member's
// project, the posted source, now for a timestamp not given. ids holds
// the message ids of the samples before it.
func completePosted(i int, smp *sample.Sample, timeGiven bool, scope, ownProject string, r postRules, ids map[string]int) error {
	if n := metadataSize(smp.Metadata); n > r.maxMetadata {
		return refuse(refusedMetadata, fmt.Errorf("%w: samples[%d].resource_metadata: %d bytes of JSON, more than the maximum %d (api max_metadata_bytes)", ErrPartTooLarge, i, n, r.maxMetadata))
	}
	if err := checkPostedTime(i, timeGiven, smp.Timestamp, r); err != nil {
		return err
	}
	if math.IsNaN(smp.Volume) || math.IsInf(smp.Volume, 0) {
		return fmt.Errorf("%w: samples[%d].counter_volume: must be finite", ErrBadRequest, i)
	}
	switch {
	case scope != "" && smp.ProjectID == "":
		smp.ProjectID = scope
	case scope != "" && smp.ProjectID != scope:
		// Ceilometer's InvalidInput: a 400, not a 403.
		return fmt.Errorf("%w: samples[%d].project_id: invalid value %s: can not post samples to other projects", ErrBadRequest, i, smp.ProjectID)
	case smp.ProjectID == "":
		smp.ProjectID = ownProject
	}
	smp.Source = postedSource(smp.ProjectID, smp.Source)
	if smp.Timestamp.IsZero() {
		smp.Timestamp = r.now // absent or null: now, as Ceilometer
	}
	smp.Timestamp = smp.Timestamp.Truncate(time.Microsecond)
	if smp.MessageID != "" {
		if j, dup := ids[smp.MessageID]; dup {
			return fmt.Errorf("%w: samples[%d].message_id: %s repeats samples[%d]", ErrBadRequest, i, smp.MessageID, j)
		}
		ids[smp.MessageID] = i
	}
	return nil
}

// checkPostedTime refuses a given timestamp the store cannot hold (Go's
// zero time, 0001-01-01, included: it is no time, not "now") or would
// delete at once (older than raw retention).
func checkPostedTime(i int, given bool, t time.Time, r postRules) error {
	if !given {
		return nil
	}
	if store.CheckTime(t) != nil {
		return refuse(refusedTimestamp, fmt.Errorf("%w: samples[%d].timestamp: %s is outside %s..%s (exclusive), the range the store holds",
			ErrBadRequest, i, t.UTC().Format(time.RFC3339Nano), store.MinTime.Format(time.RFC3339), store.MaxTime.Format(time.RFC3339)))
	}
	if !r.keptSince.IsZero() && t.Before(r.keptSince) {
		return refuse(refusedRetention, fmt.Errorf("%w: samples[%d].timestamp: %s is older than the raw retention of this meter (raw samples are kept from %s): it would be deleted at once",
			ErrBadRequest, i, t.UTC().Format(time.RFC3339Nano), r.keptSince.Format(time.RFC3339)))
	}
	return nil
}

func (s *Server) postSamples(c *gin.Context) {
	if err := checkParams(c, "direct"); err != nil {
		abort(c, err)
		return
	}
	body, err := readBody(c)
	if err != nil {
		abort(c, err)
		return
	}
	pr := principal(c)
	rules := postRules{now: time.Now().UTC(), maxMetadata: s.limits.MaxMetadataBytes}
	if ks, ok := s.opts.Writer.(keptSincer); ok {
		rules.keptSince = ks.KeptSince(c.Param("name"))
	}
	smps, err := decodePosted(body, c.Param("name"), pr.Scope(), pr.Project, rules)
	if err != nil {
		abort(c, err)
		return
	}
	// A message_id already stored in the project (or, without one, the
	// same series and timestamp) is skipped by the store: a client may
	// retry a POST whose answer it lost (after a timeout or an agent
	// restart) and no sample is stored twice. Ids are per project: another
	// project's use of an id neither drops nor reveals anything.
	res, err := s.opts.Writer.WriteAs(c.Request.Context(), pr.Scope(), smps)
	var conflict *store.ResourceConflictError
	if errors.As(err, &conflict) {
		abort(c, fmt.Errorf("%w: samples[%d].resource_id: resource %s belongs to another project; nothing was stored",
			ErrConflict, conflict.Index, conflict.ResourceID))
		return
	}
	if err != nil {
		abort(c, fmt.Errorf("write samples: %w", err))
		return
	}
	c.Header(HeaderStored, strconv.Itoa(res.Stored))
	c.Header(HeaderDuplicates, strconv.Itoa(res.Duplicates))
	if res.TooOld > 0 {
		// Never a 201 for a sample that was not stored.
		i := slices.Index(res.Status, store.TooOld)
		abort(c, fmt.Errorf("%w: samples[%d].timestamp: %s is older than the out-of-order window of its series: %d of %d samples not stored (%d stored, %d already stored)",
			ErrConflict, i, smps[i].Timestamp.Format(time.RFC3339Nano), res.TooOld, len(smps), res.Stored, res.Duplicates))
		return
	}
	for i := range smps {
		smps[i].MessageID = res.MessageIDs[i]
	}
	writeOldSamples(c, http.StatusCreated, smps, func(sm *sample.Sample) oldSampleJSON { return renderOldSample(&store.Sample{Sample: *sm}) })
}

// Headers of the answer to POST /v2/meters/{name}: how many of the samples
// this request stored, and how many were already stored in the project
// (retries). The answer's body lists every posted sample, each under the
// message_id it is stored by.
const (
	HeaderStored     = "X-Altimeter-Stored"
	HeaderDuplicates = "X-Altimeter-Duplicates"
)

// capabilitiesJSON is Ceilometer's Capabilities: flattened, colon-joined
// keys.
type capabilitiesJSON struct {
	API          map[string]bool `json:"api"`
	Storage      map[string]bool `json:"storage"`
	EventStorage map[string]bool `json:"event_storage"`
	AlarmStorage map[string]bool `json:"alarm_storage,omitempty"`
}

func (s *Server) capabilities(c *gin.Context) {
	caps := capabilitiesJSON{
		API: map[string]bool{
			"meters:query:simple":                           true,
			"meters:query:metadata":                         true,
			"meters:query:complex":                          false,
			"resources:query:simple":                        true,
			"resources:query:metadata":                      true,
			"resources:query:complex":                       false,
			"samples:query:simple":                          true,
			"samples:query:metadata":                        true,
			"samples:query:complex":                         true,
			"statistics:groupby":                            true,
			"statistics:query:simple":                       true,
			"statistics:query:metadata":                     true,
			"statistics:query:complex":                      false,
			"statistics:aggregation:standard":               true,
			"statistics:aggregation:selectable:max":         true,
			"statistics:aggregation:selectable:min":         true,
			"statistics:aggregation:selectable:sum":         true,
			"statistics:aggregation:selectable:avg":         true,
			"statistics:aggregation:selectable:count":       true,
			"statistics:aggregation:selectable:stddev":      true,
			"statistics:aggregation:selectable:cardinality": true,
			"statistics:aggregation:selectable:quartile":    false,
			"events:query:simple":                           s.opts.Events != nil,
		},
		Storage:      map[string]bool{"storage:production_ready": true},
		EventStorage: map[string]bool{"storage:production_ready": s.opts.Events != nil},
	}
	if s.opts.Alarms != nil {
		alarmCapabilities(caps.API)
		caps.AlarmStorage = map[string]bool{"storage:production_ready": true}
	}
	c.JSON(http.StatusOK, caps)
}
