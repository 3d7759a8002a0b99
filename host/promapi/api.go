package promapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/altimeter/altimeter/internal/metric"
)

// Limits of one request. Zero fields take the defaults below.
type Limits struct {
	// Timeout bounds one query (default 30s); a request's timeout
	// parameter may only shorten it.
	Timeout time.Duration
	// MaxSamples bounds the samples the engine holds in memory at once
	// (default 10,000,000; Prometheus's own default is 50,000,000).
	MaxSamples int
	// MaxReadSamples bounds the samples one query reads from the store
	// (default 50,000,000).
	MaxReadSamples int64
	// MaxSeries bounds the stored series one selector may match (default
	// 100,000).
	MaxSeries int
	// MaxPoints bounds the points per series of a range query: Prometheus's
	// 11,000.
	MaxPoints int
	// MaxConcurrent bounds the queries evaluated at once (default 4);
	// others wait for a slot within their timeout.
	MaxConcurrent int
	// MaxQueryLength bounds the PromQL text in bytes (default 64 KiB).
	MaxQueryLength int
	// MaxBody bounds a POST form body in bytes (default 1 MiB).
	MaxBody int64
}

func (l *Limits) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.Timeout <= 0 {
		l.Timeout = 30 * time.Second
	}
	def(&l.MaxSamples, 10_000_000)
	if l.MaxReadSamples <= 0 {
		l.MaxReadSamples = 50_000_000
	}
	def(&l.MaxSeries, 100_000)
	def(&l.MaxPoints, 11_000)
	def(&l.MaxConcurrent, 4)
	def(&l.MaxQueryLength, 64<<10)
	if l.MaxBody <= 0 {
		l.MaxBody = 1 << 20
	}
}

// Options configure the API.
type Options struct {
	Source  Source
	Mapping *metric.Mapping // nil maps no metadata
	Logger  hclog.Logger
	// Registerer takes the API's counters (altimeter_promql_*); nil
	// registers nothing.
	Registerer prometheus.Registerer
	Limits     Limits
	// LookbackDelta is PromQL's lookback (default 5m, as Prometheus).
	LookbackDelta time.Duration
	// Version is the agent's version, shown in buildinfo.
	Version string
}

// API is the Prometheus-compatible query API.
type API struct {
	opts    Options
	log     hclog.Logger
	engine  *promql.Engine
	slots   chan struct{}
	queries *prometheus.CounterVec
	// rollupAnswers counts queries answered from the store's statistics
	// (rollupquery.go).
	rollupAnswers prometheus.Counter
	// labels caches the label sets of stored series without metadata.
	labels *labelCache
}

// New builds the API.
func New(o Options) *API {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Mapping == nil {
		o.Mapping, _ = metric.New(nil)
	}
	if o.LookbackDelta <= 0 {
		o.LookbackDelta = 5 * time.Minute
	}
	o.Limits.defaults()
	a := &API{
		opts:   o,
		labels: newLabelCache(),
		log:    o.Logger.Named("promql"),
		engine: promql.NewEngine(promql.EngineOpts{
			MaxSamples:           o.Limits.MaxSamples,
			Timeout:              o.Limits.Timeout,
			LookbackDelta:        o.LookbackDelta,
			EnableAtModifier:     true,
			EnableNegativeOffset: true,
			// Subqueries without a step use the lookback as their step
			// unless told otherwise; Prometheus uses the global
			// evaluation interval (1m by default).
			NoStepSubqueryIntervalFn: func(int64) int64 { return time.Minute.Milliseconds() },
		}),
		slots: make(chan struct{}, o.Limits.MaxConcurrent),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_promql_queries_total",
			Help: "Requests to the Prometheus query API by endpoint and outcome (ok or the Prometheus error type).",
		}, []string{"endpoint", "outcome"}),
		rollupAnswers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "altimeter_promql_statistics_answers_total",
			Help: "Queries answered from the store's meter and project statistics (roll-ups where they hold the range) instead of the PromQL engine.",
		}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(a.queries, a.rollupAnswers)
	}
	return a
}

// Principal is who a request acts as: an admin sees every project; anyone
// else only Project.
type Principal struct {
	Admin   bool
	Project string
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p; the API refuses requests whose
// context carries none.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

func principalOf(ctx context.Context) (Principal, error) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	if !ok || (!p.Admin && p.Project == "") {
		return Principal{}, fmt.Errorf("%w: request reached the query API without a principal", errInternal)
	}
	return p, nil
}

// Register adds the endpoints to g (mounted at /api/v1). Every route needs
// a principal in the request context (WithPrincipal).
func (a *API) Register(g gin.IRoutes) {
	for path, h := range map[string]gin.HandlerFunc{
		"/query":              a.query,
		"/query_range":        a.queryRange,
		"/series":             a.series,
		"/labels":             a.labelNames,
		"/label/:name/values": a.labelValues,
		"/metadata":           a.metadata,
		"/query_exemplars":    a.exemplars,
		"/status/buildinfo":   a.buildinfo,
	} {
		g.GET(path, h)
		g.POST(path, h)
	}
}

// form parses the query string and a urlencoded POST body (bounded).
func (a *API) form(c *gin.Context) error {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, a.opts.Limits.MaxBody)
	}
	if err := c.Request.ParseForm(); err != nil {
		return fmt.Errorf("%w: parse form: %w", errBadData, err)
	}
	return nil
}

// queryable returns the storage the engine reads for principal p.
func (a *API) queryable(p Principal) *queryable {
	q := &queryable{
		src: a.opts.Source, mapping: a.opts.Mapping, labels: a.labels, maxSeries: a.opts.Limits.MaxSeries,
		budget: &readBudget{left: a.opts.Limits.MaxReadSamples},
	}
	if !p.Admin {
		q.project = p.Project
	}
	return q
}

// parseQuery parses qs and confines it to p's project.
func (a *API) parseQuery(qs string, p Principal) (parser.Expr, error) {
	if qs == "" {
		return nil, badData("query: missing")
	}
	if len(qs) > a.opts.Limits.MaxQueryLength {
		return nil, badData("query: %d bytes, at most %d", len(qs), a.opts.Limits.MaxQueryLength)
	}
	expr, err := parser.ParseExpr(qs)
	if err != nil {
		return nil, badData("%v", err)
	}
	if err := a.checkSubqueries(expr); err != nil {
		return nil, err
	}
	if !p.Admin {
		confine(expr, p.Project)
	}
	return expr, nil
}

// maxSubquerySteps bounds the evaluations of one subquery, computed over
// its range plus the whole query range (Prometheus has no such bound: a
// subquery such as [100d:1ms] runs its steps until something else stops
// it).
const maxSubquerySteps = 1_000_000

// checkSubqueries refuses subqueries with more than maxSubquerySteps steps
// over their range plus the query's; span is the query's (0 for instant).
func (a *API) checkSubqueries(expr parser.Expr) error {
	var err error
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		sq, ok := n.(*parser.SubqueryExpr)
		if !ok || err != nil {
			return nil
		}
		step := sq.Step
		if step <= 0 {
			step = time.Minute // the engine's default for [range:]
		}
		if sq.Range/step > maxSubquerySteps {
			err = badData("subquery %s: %d steps, at most %d; use a longer step", sq, sq.Range/step, maxSubquerySteps)
		}
		return nil
	})
	return err
}

// confine adds project_id="project" to every selector of expr, so no part
// of a query reads another project's series (the queryable filters by
// project as well).
func confine(expr parser.Node, project string) {
	m := labels.MustNewMatcher(labels.MatchEqual, metric.LabelProjectID, project)
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			vs.LabelMatchers = append(vs.LabelMatchers, m)
		}
		return nil
	})
}

// Confine returns query with project_id="project" added to every
// selector, as a member's queries are confined: a caller that queries a
// member's API with an unscoped (admin) token on a project's behalf sends
// the confined query.
func Confine(query, project string) (string, error) {
	expr, err := parser.ParseExpr(query)
	if err != nil {
		return "", err
	}
	confine(expr, project)
	return expr.String(), nil
}

// timeout returns the request's timeout: the server's, shortened by the
// timeout parameter.
func (a *API) timeout(c *gin.Context) (time.Duration, error) {
	d := a.opts.Limits.Timeout
	if s := c.Request.Form.Get("timeout"); s != "" {
		t, err := parseDuration(s)
		if err != nil {
			return 0, badData("timeout: %v", err)
		}
		if t <= 0 {
			return 0, badData("timeout: must be positive")
		}
		d = min(d, t)
	}
	return d, nil
}

func (a *API) query(c *gin.Context) {
	a.evaluate(c, "query", func(f formGetter) (start, end time.Time, step time.Duration, err error) {
		ts := time.Now()
		if s := f.Get("time"); s != "" {
			if ts, err = parseTime(s); err != nil {
				return start, end, 0, badData("time: %v", err)
			}
		}
		return ts, ts, 0, nil
	})
}

func (a *API) queryRange(c *gin.Context) {
	a.evaluate(c, "query_range", func(f formGetter) (start, end time.Time, step time.Duration, err error) {
		if start, err = parseTime(f.Get("start")); err != nil {
			return start, end, 0, badData("start: %v", err)
		}
		if end, err = parseTime(f.Get("end")); err != nil {
			return start, end, 0, badData("end: %v", err)
		}
		if end.Before(start) {
			return start, end, 0, badData("end timestamp must not be before start time")
		}
		if step, err = parseDuration(f.Get("step")); err != nil {
			return start, end, 0, badData("step: %v", err)
		}
		if step <= 0 {
			return start, end, 0, badData("zero or negative query resolution step widths are not accepted. Try a positive integer")
		}
		if n := end.Sub(start) / step; int64(n) > int64(a.opts.Limits.MaxPoints) {
			return start, end, 0, badData("exceeded maximum resolution of %d points per timeseries. Try decreasing the query resolution (?step=XX)", a.opts.Limits.MaxPoints)
		}
		return start, end, step, nil
	})
}

type formGetter interface{ Get(string) string }

// evaluate runs an instant (step 0) or range query.
func (a *API) evaluate(c *gin.Context, endpoint string, times func(formGetter) (time.Time, time.Time, time.Duration, error)) {
	p, err := principalOf(c.Request.Context())
	if err != nil {
		a.fail(c, endpoint, err)
		return
	}
	if err := a.form(c); err != nil {
		a.fail(c, endpoint, err)
		return
	}
	start, end, step, err := times(c.Request.Form)
	if err != nil {
		a.fail(c, endpoint, err)
		return
	}
	timeout, err := a.timeout(c)
	if err != nil {
		a.fail(c, endpoint, err)
		return
	}
	expr, err := a.parseQuery(c.Request.Form.Get("query"), p)
	if err != nil {
		a.fail(c, endpoint, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), timeout)
	defer cancel()
	release, err := a.acquire(ctx)
	if err != nil {
		a.fail(c, endpoint, err)
		return
	}
	defer release()
	if v, ok, err := a.rollupAnswer(ctx, expr, p, start, end, step); err != nil {
		a.fail(c, endpoint, err)
		return
	} else if ok {
		a.writeResult(c, endpoint, v, nil, nil)
		return
	}
	var src storage.Queryable = a.queryable(p)
	var qry promql.Query
	opts := promql.NewPrometheusQueryOpts(false, 0)
	if step == 0 {
		qry, err = a.engine.NewInstantQuery(ctx, src, opts, expr.String(), start)
	} else {
		qry, err = a.engine.NewRangeQuery(ctx, src, opts, expr.String(), start, end, step)
	}
	if err != nil {
		a.fail(c, endpoint, badData("%v", err))
		return
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		a.fail(c, endpoint, res.Err)
		return
	}
	warn, info := res.Warnings.AsStrings(expr.String(), 10, 10)
	a.writeResult(c, endpoint, res.Value, warn, info)
}

// writeResult renders a query's value with its warnings and infos.
func (a *API) writeResult(c *gin.Context, endpoint string, v parser.Value, warn, info []string) {
	a.queries.WithLabelValues(endpoint, "ok").Inc()
	writeJSON(c, http.StatusOK, func(b []byte) []byte {
		b = append(b, `{"status":"success","data":`...)
		b = appendValue(b, v)
		return append(b, '}')
	}, warn, info)
}

// acquire waits for a query slot until ctx ends.
func (a *API) acquire(ctx context.Context) (func(), error) {
	select {
	case a.slots <- struct{}{}:
		return func() { <-a.slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for a query slot: %v", promql.ErrQueryTimeout("queue"), ctx.Err())
	}
}

// selectRange returns the start and end of a series, labels or label
// values request (default: all time).
func selectRange(f formGetter) (time.Time, time.Time, error) {
	start, end := minTime, maxTime
	var err error
	if s := f.Get("start"); s != "" {
		if start, err = parseTime(s); err != nil {
			return start, end, badData("start: %v", err)
		}
	}
	if s := f.Get("end"); s != "" {
		if end, err = parseTime(s); err != nil {
			return start, end, badData("end: %v", err)
		}
	}
	if end.Before(start) {
		return start, end, badData("end timestamp must not be before start time")
	}
	return start, end, nil
}

// matcherSets parses match[] and confines each set to p's project.
func (a *API) matcherSets(f map[string][]string, p Principal, required bool) ([][]*labels.Matcher, error) {
	ms := f["match[]"]
	if len(ms) == 0 && required {
		return nil, badData("no match[] parameter provided")
	}
	if len(ms) > 100 {
		return nil, badData("match[]: %d selectors, at most 100", len(ms))
	}
	var sets [][]*labels.Matcher
	for _, s := range ms {
		if len(s) > a.opts.Limits.MaxQueryLength {
			return nil, badData("match[]: %d bytes, at most %d", len(s), a.opts.Limits.MaxQueryLength)
		}
		m, err := parser.ParseMetricSelector(s)
		if err != nil {
			return nil, badData("%v", err)
		}
		sets = append(sets, m)
	}
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{{labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+")}}
	}
	if !p.Admin {
		for i := range sets {
			sets[i] = append(sets[i], labels.MustNewMatcher(labels.MatchEqual, metric.LabelProjectID, p.Project))
		}
	}
	return sets, nil
}

// limit parses the limit parameter (0: none).
func limitParam(f formGetter) (int, error) {
	s := f.Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badData("limit: %q is not a non-negative integer", s)
	}
	return n, nil
}

// metaRequest is the common part of series, labels and label values.
type metaRequest struct {
	p          Principal
	sets       [][]*labels.Matcher
	start, end time.Time
	limit      int
}

func (a *API) metaRequest(c *gin.Context, matchRequired bool) (*metaRequest, error) {
	p, err := principalOf(c.Request.Context())
	if err != nil {
		return nil, err
	}
	if err := a.form(c); err != nil {
		return nil, err
	}
	r := &metaRequest{p: p}
	if r.start, r.end, err = selectRange(c.Request.Form); err != nil {
		return nil, err
	}
	if r.sets, err = a.matcherSets(c.Request.Form, p, matchRequired); err != nil {
		return nil, err
	}
	if r.limit, err = limitParam(c.Request.Form); err != nil {
		return nil, err
	}
	return r, nil
}

// querier opens a querier for r with the request's deadline.
func (a *API) withQuerier(c *gin.Context, r *metaRequest, fn func(ctx context.Context, q storage.Querier) error) error {
	timeout, err := a.timeout(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), timeout)
	defer cancel()
	release, err := a.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	q, err := a.queryable(r.p).Querier(clampMS(r.start), clampMS(r.end))
	if err != nil {
		return err
	}
	defer func() { _ = q.Close() }()
	return fn(ctx, q)
}

func (a *API) series(c *gin.Context) {
	r, err := a.metaRequest(c, true)
	if err != nil {
		a.fail(c, "series", err)
		return
	}
	var out []labels.Labels
	err = a.withQuerier(c, r, func(ctx context.Context, q storage.Querier) error {
		seen := map[string]bool{}
		for _, ms := range r.sets {
			ss := q.Select(ctx, false, &storage.SelectHints{Start: clampMS(r.start), End: clampMS(r.end), Func: "series"}, ms...)
			for ss.Next() {
				l := ss.At().Labels()
				if k := l.String(); !seen[k] {
					seen[k] = true
					out = append(out, l)
				}
			}
			if err := ss.Err(); err != nil {
				return err
			}
		}
		return ctx.Err()
	})
	if err != nil {
		a.fail(c, "series", err)
		return
	}
	if r.limit > 0 && len(out) > r.limit {
		out = out[:r.limit]
	}
	a.queries.WithLabelValues("series", "ok").Inc()
	writeJSON(c, http.StatusOK, func(b []byte) []byte {
		b = append(b, `{"status":"success","data":[`...)
		for i, l := range out {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendLabels(b, l)
		}
		return append(b, "]}"...)
	}, nil, nil)
}

func (a *API) labelNames(c *gin.Context) {
	r, err := a.metaRequest(c, false)
	if err != nil {
		a.fail(c, "labels", err)
		return
	}
	set := map[string]struct{}{}
	err = a.withQuerier(c, r, func(ctx context.Context, q storage.Querier) error {
		for _, ms := range r.sets {
			names, _, err := q.LabelNames(ctx, nil, ms...)
			if err != nil {
				return err
			}
			for _, n := range names {
				set[n] = struct{}{}
			}
		}
		return nil
	})
	if err != nil {
		a.fail(c, "labels", err)
		return
	}
	a.queries.WithLabelValues("labels", "ok").Inc()
	writeStrings(c, limitSorted(set, &storage.LabelHints{Limit: r.limit}))
}

func (a *API) labelValues(c *gin.Context) {
	name := c.Param("name")
	if strings.HasPrefix(name, "U__") { // Prometheus's UTF-8 escaping
		if un, err := unescapeLabel(name); err == nil {
			name = un
		}
	}
	if !model.LegacyValidation.IsValidLabelName(name) {
		a.fail(c, "label_values", badData("invalid label name: %q", name))
		return
	}
	r, err := a.metaRequest(c, false)
	if err != nil {
		a.fail(c, "label_values", err)
		return
	}
	set := map[string]struct{}{}
	err = a.withQuerier(c, r, func(ctx context.Context, q storage.Querier) error {
		for _, ms := range r.sets {
			vals, _, err := q.LabelValues(ctx, name, nil, ms...)
			if err != nil {
				return err
			}
			for _, v := range vals {
				set[v] = struct{}{}
			}
		}
		return nil
	})
	if err != nil {
		a.fail(c, "label_values", err)
		return
	}
	a.queries.WithLabelValues("label_values", "ok").Inc()
	writeStrings(c, limitSorted(set, &storage.LabelHints{Limit: r.limit}))
}

// metadata answers /api/v1/metadata from the meters the principal sees:
// type from the meter type, unit from the meter unit.
func (a *API) metadata(c *gin.Context) {
	p, err := principalOf(c.Request.Context())
	if err == nil {
		err = a.form(c)
	}
	var limit int
	if err == nil {
		limit, err = limitParam(c.Request.Form)
	}
	if err != nil {
		a.fail(c, "metadata", err)
		return
	}
	want := c.Request.Form.Get("metric")
	type meta struct{ typ, unit string }
	byName := map[string]map[meta]bool{}
	for _, m := range a.opts.Source.MeterNames() {
		name := metric.Name(m)
		if want != "" && name != want {
			continue
		}
		for _, in := range a.opts.Source.SelectSeries(m, func(k *storageKey) bool { return p.Admin || k.ProjectID == p.Project }) {
			if byName[name] == nil {
				byName[name] = map[meta]bool{}
			}
			byName[name][meta{metric.PromType(in.Key.Type), in.Key.Unit}] = true
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sortStrings(names)
	if limit > 0 && len(names) > limit {
		names = names[:limit]
	}
	a.queries.WithLabelValues("metadata", "ok").Inc()
	writeJSON(c, http.StatusOK, func(b []byte) []byte {
		b = append(b, `{"status":"success","data":{`...)
		for i, n := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, n)
			b = append(b, ":["...)
			ms := make([]meta, 0, len(byName[n]))
			for m := range byName[n] {
				ms = append(ms, m)
			}
			sortMeta(ms, func(m meta) string { return m.typ + "\x00" + m.unit })
			for j, m := range ms {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"type":`...)
				b = appendString(b, m.typ)
				b = append(b, `,"help":`...)
				b = appendString(b, "Altimeter meter "+n)
				b = append(b, `,"unit":`...)
				b = appendString(b, m.unit)
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		return append(b, "}}"...)
	}, nil, nil)
}

// exemplars answers that the store keeps no exemplars.
func (a *API) exemplars(c *gin.Context) {
	if _, err := principalOf(c.Request.Context()); err != nil {
		a.fail(c, "query_exemplars", err)
		return
	}
	writeJSON(c, http.StatusOK, func(b []byte) []byte { return append(b, `{"status":"success","data":[]}`...) }, nil, nil)
}

// buildinfo names the PromQL engine's Prometheus version (what clients
// such as Grafana use to pick features) and the agent's own version.
func (a *API) buildinfo(c *gin.Context) {
	if _, err := principalOf(c.Request.Context()); err != nil {
		a.fail(c, "buildinfo", err)
		return
	}
	writeJSON(c, http.StatusOK, func(b []byte) []byte {
		b = append(b, `{"status":"success","data":{"version":`...)
		b = appendString(b, EngineVersion)
		b = append(b, `,"revision":`...)
		b = appendString(b, "altimeter "+a.opts.Version)
		b = append(b, `,"branch":"","buildUser":"altimeter","buildDate":"","goVersion":`...)
		b = appendString(b, runtime.Version())
		return append(b, "}}"...)
	}, nil, nil)
}

// EngineVersion is the Prometheus release whose PromQL engine the API
// runs (module github.com/prometheus/prometheus v0.310.0).
const EngineVersion = "3.10.0"

var (
	minTime = time.Unix(math.MinInt64/1000+62135596801, 0).UTC()
	maxTime = time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC()
)

// clampMS converts t to ms.
func clampMS(t time.Time) int64 { return t.UnixMilli() }

// parseTime accepts unix seconds (with a fraction) or RFC 3339, as
// Prometheus.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f > 9.2e15 || f < -9.2e15 {
			return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	switch s {
	case minTime.Format(time.RFC3339Nano):
		return minTime, nil
	case maxTime.Format(time.RFC3339Nano):
		return maxTime, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

// parseDuration accepts seconds (with a fraction) or a Prometheus
// duration.
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("missing")
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		ts := f * float64(time.Second)
		if math.IsNaN(ts) || ts > float64(math.MaxInt64) || ts < float64(math.MinInt64) {
			return 0, fmt.Errorf("cannot parse %q to a valid duration. It overflows int64", s)
		}
		return time.Duration(ts), nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
	}
	return time.Duration(d), nil
}

// unescapeLabel undoes Prometheus's U__ escaping of label names in paths.
func unescapeLabel(s string) (string, error) {
	v := model.UnescapeName(s, model.ValueEncodingEscaping)
	if v == s {
		return s, errors.New("not escaped")
	}
	return v, nil
}
