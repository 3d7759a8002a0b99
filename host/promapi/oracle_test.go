package promapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
)

// oracleQueries are evaluated by Altimeter and by a real Prometheus 2.42
// holding the same samples; answers must agree value by value. The data
// has 12 resources x 4 meters at 15 s, r03 changes flavor half way and r05's
// cpu counter resets.
var oracleQueries = []string{
	`cpu`,
	`memory_usage`,
	`memory_usage{project_id="p1"}`,
	`memory_usage{resource_id=~"r0[1-4]"}`,
	`memory_usage{resource_id!~"r0.*"}`,
	`memory_usage{flavor_name="m1.large"}`,
	`memory_usage{flavor_name=~"m1.x.*"}`,
	`{__name__=~"memory_usage|net_packets", resource_id="r07"}`,
	`rate(cpu[5m])`,
	`rate(cpu[1m])`,
	`irate(cpu[5m])`,
	`increase(cpu[10m])`,
	`increase(disk_read_bytes[5m])`,
	`resets(cpu[30m])`,
	`changes(memory_usage[10m])`,
	`sum by (project_id) (rate(cpu[5m]))`,
	`sum without (resource_id, user_id) (rate(cpu[5m]))`,
	`avg by (flavor_name) (memory_usage)`,
	`max by (user_id) (memory_usage)`,
	`min(memory_usage)`,
	`count by (project_id) (memory_usage)`,
	`stddev by (project_id) (memory_usage)`,
	`stdvar(memory_usage)`,
	`topk(3, memory_usage)`,
	`bottomk(2, memory_usage * 1.5)`,
	`topk by (project_id) (1, memory_usage)`,
	`quantile(0.9, memory_usage)`,
	`count_values("value", net_packets)`,
	`avg_over_time(memory_usage[10m])`,
	`sum_over_time(net_packets[5m])`,
	`min_over_time(memory_usage[15m])`,
	`max_over_time(memory_usage[15m])`,
	`count_over_time(memory_usage[7m])`,
	`stddev_over_time(memory_usage[10m])`,
	`quantile_over_time(0.5, memory_usage[10m])`,
	`last_over_time(memory_usage[10m])`,
	`present_over_time(net_packets[2m])`,
	`memory_usage offset 10m`,
	`rate(cpu[5m] offset 5m)`,
	`avg_over_time(rate(cpu[5m])[10m:1m])`,
	`max_over_time(sum by (project_id) (memory_usage)[14m:2m])`,
	`deriv(memory_usage[10m])`,
	`predict_linear(memory_usage[10m], 600)`,
	`delta(memory_usage[10m])`,
	`idelta(memory_usage[5m])`,
	`abs(deriv(memory_usage[5m]))`,
	`clamp_max(memory_usage, 560)`,
	`round(memory_usage, 10)`,
	`ceil(rate(cpu[5m]) / 1e9)`,
	`ln(memory_usage) * 2`,
	`memory_usage > 600`,
	`memory_usage > bool 600`,
	`memory_usage / on(resource_id) group_left memory_usage`,
	`rate(cpu[5m]) / on(resource_id, project_id, user_id) memory_usage`,
	`memory_usage and on(resource_id) (rate(cpu[5m]) > 2e9)`,
	`memory_usage unless on(resource_id) memory_usage{project_id="p2"}`,
	`memory_usage{project_id="p1"} or memory_usage{project_id="p3"}`,
	`label_replace(memory_usage, "rid", "$1", "resource_id", "r(.*)")`,
	`label_join(memory_usage, "pu", "/", "project_id", "user_id")`,
	`absent(nonexistent_metric)`,
	`absent(memory_usage{resource_id="r01"})`,
	`absent_over_time(memory_usage{resource_id="nope"}[5m])`,
	`sort_desc(sum by (resource_id) (rate(cpu[5m])))`,
	`scalar(sum(memory_usage))`,
	`vector(1) + scalar(count(memory_usage))`,
	`time() - timestamp(memory_usage)`,
	`histogram_quantile(0.5, sum by (le) (label_replace(memory_usage, "le", "$1", "resource_id", "r0(.)")))`,
	`sum(rate(cpu[5m])) by (project_id) / ignoring(project_id) group_left sum(rate(cpu[5m]))`,
	`count(count by (flavor_name) (memory_usage))`,
	`group by (project_id, user_id) (memory_usage)`,
	`limitk(2, memory_usage{resource_id="r00"})`,
}

// TestIntegrationOracle writes the same samples to the store and, by
// remote write, to a real Prometheus 2.42 (Debian), then compares the
// answers of both to the queries above, instant and range.
func TestIntegrationOracle(t *testing.T) {
	peer.Need(t)
	ctx := context.Background()
	prom, err := peer.StartPrometheus(ctx, t.TempDir(), peer.PrometheusOptions{RemoteWriteReceiver: true})
	require.NoError(t, err)
	t.Cleanup(prom.Stop)

	// Prometheus's head accepts samples up to an hour behind its newest
	// one (its self-scrape): keep the data within the last 50 minutes.
	start := time.Now().Add(-50 * time.Minute).Truncate(time.Minute)
	const n = 190 // 47.5 minutes
	f := newFixture(t, start, n, Options{})
	remoteWrite(t, prom.URL, f.mapping, f.samples)

	// Evaluation times at :17 s: never a multiple of a subquery step.
	// Every window starts after the series' first samples: Prometheus 3's
	// engine (ours) extrapolates rate() over a window holding a series'
	// first sample differently from Prometheus 2.42.
	at := []time.Time{start.Add(16*time.Minute + 17*time.Second), start.Add(46*time.Minute + 17*time.Second)}
	rStart, rEnd := start.Add(16*time.Minute+17*time.Second), start.Add(47*time.Minute+17*time.Second)
	compared := 0
	for _, q := range oracleQueries {
		for _, ts := range at {
			form := url.Values{"query": {q}, "time": {unixStr(ts)}}
			compareWith(t, prom.URL, f.srv.URL, "/api/v1/query", form)
			compared++
		}
		for _, step := range []string{"60", "150s"} {
			form := url.Values{"query": {q}, "start": {unixStr(rStart)}, "end": {unixStr(rEnd)}, "step": {step}}
			compareWith(t, prom.URL, f.srv.URL, "/api/v1/query_range", form)
			compared++
		}
	}
	t.Logf("%d queries, %d evaluations compared with Prometheus", len(oracleQueries), compared)
	require.GreaterOrEqual(t, len(oracleQueries), 50)

	// Series and label values agree for our metrics.
	for _, m := range []string{`memory_usage`, `{__name__=~"cpu|net_packets",project_id="p2"}`, `memory_usage{flavor_name="m1.xlarge"}`} {
		form := url.Values{"match[]": {m}, "start": {unixStr(start)}, "end": {unixStr(f.end)}}
		compareWith(t, prom.URL, f.srv.URL, "/api/v1/series", form)
		compareWith(t, prom.URL, f.srv.URL, "/api/v1/label/resource_id/values", form)
		compareWith(t, prom.URL, f.srv.URL, "/api/v1/label/flavor_name/values", form)
		compareWith(t, prom.URL, f.srv.URL, "/api/v1/labels", form)
	}

	t.Run("promtool", func(t *testing.T) {
		promtoolClient(t, f, ts(at[1]), rStart, rEnd)
	})
}

func ts(t time.Time) time.Time { return t }

func unixStr(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)
}

// compareWith asks both servers and requires equal answers.
func compareWith(t *testing.T, promURL, altURL, path string, form url.Values) {
	t.Helper()
	pc, pr := get(t, promURL, "", path, form)
	ac, ar := get(t, altURL, "admin-token", path, form)
	what := fmt.Sprintf("%s %v", path, form)
	require.Equal(t, pc, ac, "%s: status (prometheus: %s %s; altimeter: %s %s)", what, pr.ErrorType, pr.Error, ar.ErrorType, ar.Error)
	require.Equal(t, pr.Status, ar.Status, what)
	if pr.Status != "success" {
		require.Equal(t, pr.ErrorType, ar.ErrorType, what)
		return
	}
	if !strings.HasPrefix(path, "/api/v1/query") {
		var pd, ad []any
		require.NoError(t, json.Unmarshal(pr.Data, &pd))
		require.NoError(t, json.Unmarshal(ar.Data, &ad))
		if path == "/api/v1/labels" {
			// Prometheus adds __name__ and its own series' labels; ours
			// must be among them.
			for _, v := range ad {
				require.Contains(t, pd, v, what)
			}
			return
		}
		require.ElementsMatch(t, pd, ad, what)
		return
	}
	requireSameResult(t, what, "prometheus", decodeResult(t, pr.Data), decodeResult(t, ar.Data))
}

// requireSameResult requires two query results to hold the same series
// with the same points, values within float tolerance; want names the
// reference.
func requireSameResult(t *testing.T, what, want string, pv, av result) {
	t.Helper()
	require.Equal(t, pv.typ, av.typ, what)
	require.Equal(t, keys(pv.series), keys(av.series), "%s: series", what)
	for k, ps := range pv.series {
		as := av.series[k]
		require.Equal(t, len(ps), len(as), "%s: points of %s:\n%s %v\naltimeter  %v", what, k, want, ps, as)
		for i := range ps {
			require.Equal(t, ps[i][0], as[i][0], "%s: timestamp %d of %s", what, i, k)
			require.True(t, close(ps[i][1], as[i][1]), "%s: %s at %v: %s %v, altimeter %v", what, k, ps[i][0], want, ps[i][1], as[i][1])
		}
	}
}

func close(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if a == b {
		return true
	}
	return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

type result struct {
	typ    string
	series map[string][][2]float64 // labels -> [t, v] points
}

func keys(m map[string][][2]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func parsePoint(t *testing.T, p []any) [2]float64 {
	v, err := strconv.ParseFloat(p[1].(string), 64)
	require.NoError(t, err)
	return [2]float64{p[0].(float64), v}
}

func labelKey(m map[string]string) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	for _, k := range ks {
		b.WriteString(k + "=" + m[k] + ",")
	}
	return b.String()
}

func decodeResult(t *testing.T, raw json.RawMessage) result {
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	require.NoError(t, json.Unmarshal(raw, &d))
	r := result{typ: d.ResultType, series: map[string][][2]float64{}}
	switch d.ResultType {
	case "matrix":
		var m []struct {
			Metric map[string]string `json:"metric"`
			Values [][]any           `json:"values"`
		}
		require.NoError(t, json.Unmarshal(d.Result, &m))
		for _, s := range m {
			for _, p := range s.Values {
				r.series[labelKey(s.Metric)] = append(r.series[labelKey(s.Metric)], parsePoint(t, p))
			}
		}
	case "vector":
		var v []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"`
		}
		require.NoError(t, json.Unmarshal(d.Result, &v))
		for _, s := range v {
			r.series[labelKey(s.Metric)] = [][2]float64{parsePoint(t, s.Value)}
		}
	case "scalar":
		var p []any
		require.NoError(t, json.Unmarshal(d.Result, &p))
		r.series[""] = [][2]float64{parsePoint(t, p)}
	default:
		t.Fatalf("result type %q", d.ResultType)
	}
	return r
}

// promtoolClient runs Debian's promtool (Prometheus's own client) against
// the API with a member's token: its query instant and query range output
// must show the values the API returns.
func promtoolClient(t *testing.T, f *fixture, at, start, end time.Time) {
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Fatalf("promtool: %v (%s)", err, peer.InstallHint)
	}
	// promtool 2.42's query command knows basic auth only (in the URL):
	// the token is the password.
	server := strings.Replace(f.srv.URL, "http://", "http://grafana:p1-token@", 1)
	run := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "promtool", append([]string{"query"}, args...)...).CombinedOutput()
		require.NoError(t, err, "promtool %v: %s", args, out)
		return string(out)
	}
	out := run("instant", "--time="+at.Format(time.RFC3339), server, `sum by (project_id) (memory_usage)`)
	// A member of p1 sees p1 only, even asking for everything.
	_, want := get(t, f.srv.URL, "p1-token", "/api/v1/query", url.Values{"query": {`sum by (project_id) (memory_usage)`}, "time": {unixStr(at)}})
	wv := decodeResult(t, want.Data)
	require.Len(t, wv.series, 1)
	for k, p := range wv.series {
		require.Equal(t, "project_id=p1,", k)
		require.Contains(t, out, `{project_id="p1"} => `+strconv.FormatFloat(p[0][1], 'f', -1, 64), out)
	}
	out = run("range", "--start="+start.Format(time.RFC3339), "--end="+end.Format(time.RFC3339), "--step=5m", server, `max(memory_usage)`)
	_, want = get(t, f.srv.URL, "p1-token", "/api/v1/query_range", url.Values{"query": {`max(memory_usage)`}, "start": {strconv.FormatInt(start.Unix(), 10)}, "end": {strconv.FormatInt(end.Unix(), 10)}, "step": {"300"}})
	wv = decodeResult(t, want.Data)
	pts := wv.series[""]
	require.NotEmpty(t, pts)
	for _, p := range pts {
		require.Contains(t, out, strconv.FormatFloat(p[1], 'f', -1, 64)+" @["+strconv.FormatFloat(p[0], 'f', -1, 64)+"]", out)
	}
}
