package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang/snappy"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/prometheus/prompb"

	"github.com/altimeter/altimeter/host/promapi"
	"github.com/altimeter/altimeter/internal/metric"
	"github.com/altimeter/altimeter/internal/peer"
)

// The PromQL benchmark (-engine promql): the store benchmark's workload
// written to Altimeter's store and, by remote write, to a real Prometheus
// 2.42 server (Debian's), then the same PromQL queries asked of each over
// HTTP, alternating, each answer checked against the other's. Altimeter's
// query API (host/promapi) runs in this process on a 127.0.0.1 port;
// Prometheus in its own.

// promqlQuery is one timed query: instant when step is 0.
type promqlQuery struct {
	name, expr string
	start, end int64 // unix ms
	step       time.Duration
}

// promqlResult is the figures of one query.
type promqlResult struct {
	Name   string    `json:"name"`
	Expr   string    `json:"expr"`
	Kind   string    `json:"kind"`
	AltMs  []float64 `json:"altimeter_ms"`
	PromMs []float64 `json:"prometheus_ms"`
	// CPU time per query (ms, mean over the timed rounds): the
	// benchmark process's (Altimeter's API and the HTTP client) and the
	// Prometheus process's. Less noisy than latency on a shared machine.
	AltCPUms   float64 `json:"altimeter_cpu_ms"`
	PromCPUms  float64 `json:"prometheus_cpu_ms"`
	Series     int     `json:"series"`
	Points     int     `json:"points"`
	Equal      bool    `json:"equal"`
	Difference string  `json:"difference,omitempty"`
}

type promqlReport struct {
	Workload      string         `json:"workload"`
	Samples       int            `json:"samples"`
	PromVersion   string         `json:"prometheus_version"`
	AltIngestSec  float64        `json:"altimeter_ingest_seconds"`
	PromIngestSec float64        `json:"prometheus_ingest_seconds"`
	Reps          int            `json:"reps"`
	Queries       []promqlResult `json:"queries"`
}

// promqlFlags are the command line's settings of the PromQL benchmark.
type promqlFlags struct {
	reps            int
	out, cpuprofile string
	// dir, when set, holds the data and is kept: a run over a dir that
	// an earlier run ingested skips the ingest (Prometheus replays its
	// WAL) and queries the same data, at the earlier run's times.
	dir  string
	only string // regular expression on the query names
}

func runPromQL(w *workload, fl promqlFlags) error {
	ctx := context.Background()
	dir := fl.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "promqlbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var only *regexp.Regexp
	if fl.only != "" {
		var err error
		if only, err = regexp.Compile(fl.only); err != nil {
			return fmt.Errorf("-only: %w", err)
		}
	}
	// The marker of a finished ingest holds its t0 (the data's times).
	marker := filepath.Join(dir, "ingested")
	ingested := false
	if b, err := os.ReadFile(marker); err == nil {
		if w.t0, err = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err != nil {
			return fmt.Errorf("%s: %w", marker, err)
		}
		ingested = true
	}
	if err := os.MkdirAll(filepath.Join(dir, "prom"), 0o755); err != nil {
		return err
	}
	prom, err := peer.StartPrometheus(ctx, filepath.Join(dir, "prom"), peer.PrometheusOptions{RemoteWriteReceiver: true, NoScrape: true})
	if err != nil {
		return err
	}
	defer prom.Stop()
	if err := os.MkdirAll(filepath.Join(dir, "alt"), 0o755); err != nil {
		return err
	}
	e, err := openAltimeter(ctx, filepath.Join(dir, "alt"), w)
	if err != nil {
		return fmt.Errorf("open altimeter: %w", err)
	}
	defer e.close()
	mapping, err := metric.New(nil)
	if err != nil {
		return err
	}
	altURL, stopAlt, err := serveAltimeter(e, mapping)
	if err != nil {
		return err
	}
	defer stopAlt()

	rep := &promqlReport{Samples: w.samples(), Reps: fl.reps,
		Workload: fmt.Sprintf("%d resources x %d meters x %d points at 60 s", w.resources, len(w.meters), w.points)}
	if rep.PromVersion, err = buildVersion(prom.URL); err != nil {
		return err
	}
	// Ingest: the same batches, in time order, to each.
	labels := make([][]prompb.Label, w.series())
	var buf []metric.Label
	for i, s := range e.base {
		buf = mapping.Labels(buf[:0], &metric.Series{Meter: s.Name, Type: s.Type.String(), Unit: s.Unit,
			ResourceID: s.ResourceID, ProjectID: s.ProjectID, UserID: s.UserID})
		for _, l := range buf {
			labels[i] = append(labels[i], prompb.Label{Name: l.Name, Value: l.Value})
		}
	}
	if !ingested {
		if err := ingestPromQL(ctx, w, e, labels, prom.URL, rep); err != nil {
			return err
		}
		if fl.dir != "" {
			if err := os.WriteFile(marker, []byte(strconv.FormatInt(w.t0, 10)), 0o644); err != nil {
				return err
			}
		}
	}

	// Evaluation times sit between samples: on a sample, Prometheus 2's
	// ranges include their left end and 3's (whose engine Altimeter
	// uses) do not.
	half := w.step / 2000
	last := (w.t0+int64(w.points-1)*w.step)/1000 + half // ms, after the last sample
	first := w.t0/1000 + half
	rate := `sum by (project_id) (rate(disk_read_bytes[5m]))`
	queries := []promqlQuery{
		{name: "issue 16: sum by (project_id) (rate[5m]), instant", expr: rate, end: last},
		{name: "issue 16: sum by (project_id) (rate[5m]), range, whole data, step 60 s", expr: rate, start: first + 5*60e3, end: last, step: time.Minute},
		{name: "same, range, step 15 min", expr: rate, start: first + 15*60e3, end: last, step: 15 * time.Minute},
		{name: "topk(10, max_over_time[1h]), instant", expr: `topk(10, max_over_time(memory_usage[1h]))`, end: last},
		{name: "one resource, range, step 60 s", expr: `cpu_util{resource_id="resource-00042"}`, start: first, end: last, step: time.Minute},
		{name: "avg by (project_id) (gauge), instant", expr: `avg by (project_id) (cpu_util)`, end: last},
		{name: "sum by (project_id) (sum_over_time[1h]), range, step 1 h (Altimeter: from the statistics)", expr: `sum by (project_id) (sum_over_time(memory_usage[1h]))`, start: first + 3600e3, end: last, step: time.Hour},
	}
	if only != nil {
		queries = slices.DeleteFunc(queries, func(q promqlQuery) bool { return !only.MatchString(q.name) })
	}
	if fl.cpuprofile != "" {
		// The query phase: Altimeter's API serves from this process.
		f, err := os.Create(fl.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	client := &http.Client{Timeout: 5 * time.Minute}
	for _, q := range queries {
		r := promqlResult{Name: q.name, Expr: q.expr, Kind: "instant"}
		if q.step > 0 {
			r.Kind = "range"
		}
		// One untimed round each (caches, first-use allocation), whose
		// answers must agree.
		a, err := askPromQL(ctx, client, altURL, q)
		if err != nil {
			return fmt.Errorf("altimeter %s: %w", q.expr, err)
		}
		p, err := askPromQL(ctx, client, prom.URL, q)
		if err != nil {
			return fmt.Errorf("prometheus %s: %w", q.expr, err)
		}
		r.Series, r.Points = len(p), countPoints(p)
		r.Difference = diffAnswers(p, a)
		r.Equal = r.Difference == ""
		promCPU := func() float64 { return procCPUSeconds(prom.PID()) }
		for i := 0; i < fl.reps; i++ {
			for _, side := range []struct {
				url string
				ms  *[]float64
				cpu func() float64
				sum *float64
			}{{altURL, &r.AltMs, cpuSeconds, &r.AltCPUms}, {prom.URL, &r.PromMs, promCPU, &r.PromCPUms}} {
				c := side.cpu()
				t := time.Now()
				if _, err := askPromQL(ctx, client, side.url, q); err != nil {
					return fmt.Errorf("%s %s: %w", side.url, q.expr, err)
				}
				*side.ms = append(*side.ms, float64(time.Since(t).Microseconds())/1000)
				*side.sum += (side.cpu() - c) * 1000 / float64(fl.reps)
			}
		}
		fmt.Fprintf(os.Stderr, "promql: %-70s altimeter %8.2f ms  prometheus %8.2f ms  (cpu %7.2f / %7.2f ms)  series %d points %d equal %v %s\n",
			q.name, medianOf(r.AltMs), medianOf(r.PromMs), r.AltCPUms, r.PromCPUms, r.Series, r.Points, r.Equal, r.Difference)
		rep.Queries = append(rep.Queries, r)
	}
	if err := os.MkdirAll(filepath.Dir(fl.out), 0o755); err != nil {
		return err
	}
	raw, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(fl.out+".json", raw, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(fl.out+".md", []byte(rep.markdown()), 0o644); err != nil {
		return err
	}
	for _, q := range rep.Queries {
		if !q.Equal {
			return fmt.Errorf("%s: the answers differ: %s", q.Expr, q.Difference)
		}
	}
	return nil
}

// ingestPromQL writes the workload to Altimeter's store (then compacts
// it) and by remote write to Prometheus, timing each.
func ingestPromQL(ctx context.Context, w *workload, e *altEngine, labels [][]prompb.Label, promURL string, rep *promqlReport) error {
	t0 := time.Now()
	if err := w.gen(func(b []point) error { return e.write(ctx, w, b) }); err != nil {
		return fmt.Errorf("altimeter ingest: %w", err)
	}
	if err := e.compact(w); err != nil {
		return err
	}
	rep.AltIngestSec = time.Since(t0).Seconds()
	t0 = time.Now()
	rw := &remoteWriter{url: promURL + "/api/v1/write", labels: labels}
	if err := w.gen(rw.add); err != nil {
		return fmt.Errorf("prometheus ingest: %w", err)
	}
	if err := rw.flush(); err != nil {
		return fmt.Errorf("prometheus ingest: %w", err)
	}
	rep.PromIngestSec = time.Since(t0).Seconds()
	fmt.Fprintf(os.Stderr, "promql: ingested %d samples: altimeter %.1f s (with compaction), prometheus %s %.1f s\n",
		rep.Samples, rep.AltIngestSec, rep.PromVersion, rep.PromIngestSec)
	return nil
}

// serveAltimeter serves the query API over the store on a free 127.0.0.1
// port, every request as an admin (as host/api does after checking a
// token).
func serveAltimeter(e *altEngine, mapping *metric.Mapping) (string, func(), error) {
	gin.SetMode(gin.ReleaseMode)
	api := promapi.New(promapi.Options{Source: e.s, Mapping: mapping, Logger: hclog.NewNullLogger()})
	r := gin.New()
	api.Register(r.Group("/api/v1", func(c *gin.Context) {
		c.Request = c.Request.WithContext(promapi.WithPrincipal(c.Request.Context(), promapi.Principal{Admin: true}))
		c.Next()
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

func buildVersion(base string) (string, error) {
	resp, err := http.Get(base + "/api/v1/status/buildinfo")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Version string `json:"version"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return "", fmt.Errorf("buildinfo: %w", err)
	}
	return r.Data.Version, nil
}

// remoteWriter sends samples to a remote-write receiver, 20,000 a request.
type remoteWriter struct {
	url    string
	labels [][]prompb.Label
	req    prompb.WriteRequest
	n      int
	client http.Client
}

func (rw *remoteWriter) add(batch []point) error {
	for _, p := range batch {
		rw.req.Timeseries = append(rw.req.Timeseries, prompb.TimeSeries{Labels: rw.labels[p.series],
			Samples: []prompb.Sample{{Value: p.v, Timestamp: p.t / 1000}}})
		rw.n++
	}
	if rw.n >= 20000 {
		return rw.flush()
	}
	return nil
}

func (rw *remoteWriter) flush() error {
	if rw.n == 0 {
		return nil
	}
	raw, err := rw.req.Marshal()
	if err != nil {
		return err
	}
	rw.req.Timeseries, rw.n = rw.req.Timeseries[:0], 0
	hr, err := http.NewRequest(http.MethodPost, rw.url, bytes.NewReader(snappy.Encode(nil, raw)))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Encoding", "snappy")
	hr.Header.Set("Content-Type", "application/x-protobuf")
	hr.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := rw.client.Do(hr)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("remote write: HTTP %d: %s", resp.StatusCode, body)
	}
	return nil
}

// answer is a query result: label set -> [t, v] points.
type answer map[string][][2]float64

func askPromQL(ctx context.Context, client *http.Client, base string, q promqlQuery) (answer, error) {
	form := url.Values{"query": {q.expr}}
	path := "/api/v1/query"
	if q.step > 0 {
		path = "/api/v1/query_range"
		form.Set("start", msStr(q.start))
		form.Set("end", msStr(q.end))
		form.Set("step", strconv.FormatFloat(q.step.Seconds(), 'f', -1, 64))
	} else {
		form.Set("time", msStr(q.end))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path+"?"+form.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  []any             `json:"value"`
				Values [][]any           `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, r.Error)
	}
	out := answer{}
	for _, s := range r.Data.Result {
		keys := make([]string, 0, len(s.Metric))
		for k := range s.Metric {
			keys = append(keys, k+"="+s.Metric[k])
		}
		sort.Strings(keys)
		k := strings.Join(keys, ",")
		vs := s.Values
		if s.Value != nil {
			vs = [][]any{s.Value}
		}
		for _, p := range vs {
			t, _ := p[0].(float64)
			str, _ := p[1].(string)
			v, err := strconv.ParseFloat(str, 64)
			if err != nil {
				return nil, fmt.Errorf("value %v: %w", p[1], err)
			}
			out[k] = append(out[k], [2]float64{t, v})
		}
	}
	return out, nil
}

// procCPUSeconds reads the user and system CPU time of process pid from
// /proc (clock ticks of 1/100 s, as on Linux everywhere); NaN when it
// cannot.
func procCPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return math.NaN()
	}
	// The fields after the command (in parentheses, which may hold spaces).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return math.NaN()
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return math.NaN()
	}
	return (ut + st) / 100
}

func msStr(ms int64) string { return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64) }

func countPoints(a answer) int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

// diffAnswers describes the first difference between want and got (values
// within a relative 1e-9), or returns "".
func diffAnswers(want, got answer) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d series, want %d", len(got), len(want))
	}
	for k, ws := range want {
		gs, ok := got[k]
		if !ok {
			return "missing series " + k
		}
		if len(gs) != len(ws) {
			return fmt.Sprintf("%s: %d points, want %d", k, len(gs), len(ws))
		}
		for i := range ws {
			a, b := ws[i][1], gs[i][1]
			if ws[i][0] != gs[i][0] || (a != b && math.Abs(a-b) > 1e-9*math.Max(math.Abs(a), math.Abs(b))) {
				return fmt.Sprintf("%s at %v: %v, want %v", k, ws[i][0], gs[i], ws[i])
			}
		}
	}
	return ""
}

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func (r *promqlReport) markdown() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "## PromQL: Altimeter's query API vs Prometheus %s (same data, same invocation)\n\n", r.PromVersion)
	fmt.Fprintf(&sb, "The store benchmark's workload (%d samples: %s, time order), written to Altimeter's store and by remote write to a Prometheus %s server (ingest %.1f s and %.1f s). Each query asked over HTTP of both, alternating, %d times after one untimed round whose answers must agree (values within 1e-9). Altimeter's API runs in the benchmark process, Prometheus in its own. Medians in ms; ratio = altimeter/prometheus (goal <= 1).\n\n",
		r.Samples, r.Workload, r.PromVersion, r.AltIngestSec, r.PromIngestSec, r.Reps)
	fmt.Fprintf(&sb, "| query | kind | series x points | altimeter ms | prometheus ms | ratio | CPU ms per query altimeter / prometheus | answers equal |\n|---|---|---|---|---|---|---|---|\n")
	for _, q := range r.Queries {
		a, p := medianOf(q.AltMs), medianOf(q.PromMs)
		fmt.Fprintf(&sb, "| `%s` (%s) | %s | %d / %d | %.2f | %.2f | %.2f | %.1f / %.1f | %v |\n", q.Expr, q.Name, q.Kind, q.Series, q.Points, a, p, a/p, q.AltCPUms, q.PromCPUms, q.Equal)
	}
	return sb.String()
}
