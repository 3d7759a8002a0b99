package promapi

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/host/store/series"
	"github.com/altimeter/altimeter/internal/metric"
	"github.com/altimeter/altimeter/sdk/sample"
)

// rollupFixture serves the same 6 h of samples (genSamples) from two real
// stores: one keeping every raw sample, and one whose raw retention (1 h)
// removed the older ones into the series' own roll-ups.
type rollupFixture struct {
	start, now    time.Time
	rawURL        string
	rolledURL     string
	tightURL      string // the rolled store, reading at most 1,000 samples a query
	rolled        *store.Store
	rawFirstAfter time.Time // raw samples of the rolled store start here
}

func newRollupFixture(t *testing.T, archives []series.Archive) *rollupFixture {
	t.Helper()
	ctx := context.Background()
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	const n = 6 * 60 * 4 // 6 h at 15 s
	f := &rollupFixture{start: start, now: start.Add(6*time.Hour + time.Minute)}
	clock := func() time.Time { return f.now }
	samples := genSamples(start, n)
	mapping, err := metric.New([]string{"flavor.name"})
	require.NoError(t, err)
	serve := func(so series.Options) (*store.Store, string) {
		st := openSeries(t, so, clock, samples)
		return st, serveAPI(t, Options{Source: st, Mapping: mapping, Logger: testLogger(t)})
	}
	_, f.rawURL = serve(series.Options{})
	pol := series.Policy{Name: "short", Archives: archives, Aggregates: []string{"count", "sum", "min", "max", "mean", "last"}, RawRetention: time.Hour}
	f.rolled, f.rolledURL = serve(series.Options{Policies: []series.Policy{pol}, Rules: []series.Rule{{Pattern: "*", Policy: "short"}}})
	f.tightURL = serveAPI(t, Options{Source: f.rolled, Mapping: mapping, Logger: testLogger(t), Limits: Limits{MaxReadSamples: 1000}})
	require.NoError(t, f.rolled.Retain(ctx))
	// Retention removed the 10 min windows that ended by now - 1h.
	f.rawFirstAfter = start.Add(5 * time.Hour)
	for _, in := range f.rolled.SelectSeries("", nil) {
		require.Equal(t, f.rawFirstAfter, time.UnixMicro(in.First).Truncate(time.Minute).UTC(), "raw samples of %s", in.Key.ResourceID)
	}
	return f
}

// openSeries opens a store with series options so (on the clock, no
// background retention, 10 min chunk windows) and writes the samples.
func openSeries(t *testing.T, so series.Options, clock func() time.Time, samples []sample.Sample) *store.Store {
	t.Helper()
	ctx := context.Background()
	so.Now, so.RetainEvery, so.ChunkWindow = clock, -1, 10*time.Minute
	st, err := store.Open(ctx, t.TempDir(), store.Options{Logger: testLogger(t), Now: clock, Series: so})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	for i := 0; i < len(samples); i += 2000 {
		require.NoError(t, st.Write(ctx, samples[i:min(i+2000, len(samples))]))
	}
	return st
}

// serveAPI serves the API with o behind the test tokens.
func serveAPI(t *testing.T, o Options) string {
	t.Helper()
	srv := httptest.NewServer(testRouter(New(o)))
	t.Cleanup(srv.Close)
	return srv.URL
}

// rangeQuery asks one server for a range query.
func rangeQuery(t *testing.T, base, q string, start, end time.Time, step time.Duration) result {
	t.Helper()
	code, r := get(t, base, "admin-token", "/api/v1/query_range", url.Values{"query": {q},
		"start": {unixStr(start)}, "end": {unixStr(end)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}})
	require.Equal(t, 200, code, "%s: %s %s", q, r.ErrorType, r.Error)
	return decodeResult(t, r.Data)
}

// TestRollupsAnswerAsRaw: queries whose steps and ranges are whole roll-up
// buckets get from a store whose raw samples expired the answer a store
// with every raw sample gives, across the boundary between roll-ups and
// raw samples; rate and avg_over_time within the roll-up history.
func TestRollupsAnswerAsRaw(t *testing.T) {
	t.Parallel()
	f := newRollupFixture(t, []series.Archive{{Granularity: time.Minute, Points: 600}, {Granularity: 10 * time.Minute, Points: 100}})
	exact := []string{
		`memory_usage`,
		`cpu`,
		`memory_usage{flavor_name="m1.xlarge"}`,
		`last_over_time(memory_usage[5m])`,
		`max_over_time(memory_usage[10m])`,
		`min_over_time(memory_usage[5m])`,
		`sum_over_time(net_packets[10m])`,
		`sum by (project_id) (memory_usage)`,
		`count by (flavor_name) (memory_usage)`,
		`max by (user_id) (max_over_time(memory_usage[20m]))`,
		`memory_usage offset 10m`,
	}
	// From the first hour to the end: the roll-up history, the boundary
	// (5 h) and the raw samples.
	from, to := f.start.Add(30*time.Minute), f.start.Add(6*time.Hour)
	for _, step := range []time.Duration{5 * time.Minute, 10 * time.Minute, time.Hour} {
		for _, q := range exact {
			what := q + " step " + step.String()
			want := rangeQuery(t, f.rawURL, q, from, to, step)
			require.NotEmpty(t, want.series, what)
			requireSameResult(t, what, "raw", want, rangeQuery(t, f.rolledURL, q, from, to, step))
		}
	}
	// Instant queries at bucket boundaries in the roll-up history.
	for _, q := range append(exact, `max_over_time(memory_usage[2h])`, `sum_over_time(net_packets[1h])`) {
		for _, at := range []time.Time{f.start.Add(2 * time.Hour), f.start.Add(5*time.Hour + 10*time.Minute)} {
			form := url.Values{"query": {q}, "time": {unixStr(at)}}
			_, want := get(t, f.rawURL, "admin-token", "/api/v1/query", form)
			_, got := get(t, f.rolledURL, "admin-token", "/api/v1/query", form)
			requireSameResult(t, q+" at "+at.String(), "raw", decodeResult(t, want.Data), decodeResult(t, got.Data))
		}
	}
	// A counter sampled once a minute grows as steadily as the raw one,
	// and the buckets hold equally many samples: rate, increase and
	// avg_over_time inside the history. Left out: r05's counter reset (a
	// thinned counter misses what it gained in the bucket of the reset)
	// and r03's flavor change (where a series ends, rate extrapolates by
	// half the mean sample interval, which thinning changes).
	histTo := f.rawFirstAfter.Add(-10 * time.Minute)
	for _, q := range []string{
		`rate(cpu{resource_id!~"r0[35]"}[10m])`,
		`increase(cpu{resource_id!~"r0[35]"}[30m])`,
		`sum by (project_id) (rate(cpu{resource_id!~"r0[35]"}[10m]))`,
		`avg_over_time(memory_usage[10m])`,
	} {
		want := rangeQuery(t, f.rawURL, q, from, histTo, 10*time.Minute)
		require.NotEmpty(t, want.series, q)
		requireSameResult(t, q, "raw", want, rangeQuery(t, f.rolledURL, q, from, histTo, 10*time.Minute))
	}
}

// TestRollupsOlderArchive: history older than the finest archive's span
// comes from the coarser archive, at its resolution; a step that is a
// whole number of its buckets gets the raw answer there too.
func TestRollupsOlderArchive(t *testing.T) {
	t.Parallel()
	// 1 min buckets for 3 h, 10 min buckets for 16 h: the first 3 h of
	// data are kept in 10 min buckets only.
	f := newRollupFixture(t, []series.Archive{{Granularity: time.Minute, Points: 180}, {Granularity: 10 * time.Minute, Points: 100}})
	from, to := f.start.Add(30*time.Minute), f.start.Add(6*time.Hour)
	for _, q := range []string{`memory_usage`, `max_over_time(memory_usage[10m])`, `sum by (project_id) (sum_over_time(net_packets[20m]))`} {
		want := rangeQuery(t, f.rawURL, q, from, to, 10*time.Minute)
		requireSameResult(t, q, "raw", want, rangeQuery(t, f.rolledURL, q, from, to, 10*time.Minute))
	}
	// At a 5 min step the 1 min archive answers as raw where it holds
	// data; before, 10 min buckets answer at 10 min boundaries.
	want := rangeQuery(t, f.rawURL, `memory_usage{resource_id="r02"}`, from, to, 5*time.Minute)
	got := rangeQuery(t, f.rolledURL, `memory_usage{resource_id="r02"}`, from, to, 5*time.Minute)
	require.Len(t, got.series, 1)
	fine := float64(f.now.Add(-3 * time.Hour).Truncate(5 * time.Minute).Add(5 * time.Minute).Unix()) // the first step the fine archive answers
	byT := map[float64]float64{}
	for _, p := range want.series[keys(want.series)[0]] {
		byT[p[0]] = p[1]
	}
	var coarse, fineN int
	for _, p := range got.series[keys(got.series)[0]] {
		require.Contains(t, byT, p[0])
		require.True(t, close(byT[p[0]], p[1]), "at %v: raw %v, roll-ups %v", p[0], byT[p[0]], p[1])
		if p[0] < fine {
			require.Zero(t, int64(p[0])%600, "coarse history answers at 10 min boundaries only")
			coarse++
		} else {
			fineN++
		}
	}
	require.NotZero(t, coarse)
	require.Equal(t, int((float64(to.Unix())-fine)/300)+1, fineN)

	// Samples read from roll-ups count against a query's read budget.
	at := unixStr(f.start.Add(4*time.Hour + 30*time.Minute))
	code, r := get(t, f.tightURL, "admin-token", "/api/v1/query", url.Values{"query": {`count_over_time(memory_usage[4h])`}, "time": {at}})
	require.Equal(t, 422, code, r.Error)
	require.Equal(t, "execution", r.ErrorType)
	require.Contains(t, r.Error, "too many samples")
	code, r = get(t, f.tightURL, "admin-token", "/api/v1/query", url.Values{"query": {`memory_usage{resource_id="r01"}`}, "time": {at}})
	require.Equal(t, 200, code, r.Error)
	require.Len(t, decodeResult(t, r.Data).series, 1)
}

// TestRollupUseOrder: the archive a read starts with divides the step
// and the range.
func TestRollupUseOrder(t *testing.T) {
	t.Parallel()
	as := []series.Archive{{Granularity: time.Minute}, {Granularity: 10 * time.Minute}, {Granularity: time.Hour}}
	for _, c := range []struct {
		step, rng int64
		want      time.Duration
		fn        string
	}{
		{0, 0, time.Minute, ""},
		{300_000, 0, time.Minute, ""},
		{600_000, 0, 10 * time.Minute, ""},
		{3_600_000, 0, time.Hour, "sum"},
		{3_600_000, 600_000, 10 * time.Minute, "max_over_time"},
		{3_600_000, 600_000, time.Minute, ""},
		{0, 7_200_000, time.Hour, "sum_over_time"},
		{45_000, 0, time.Minute, ""},
		{3_600_000, 3_600_000, time.Minute, "rate"},
		{3_600_000, 3_600_000, time.Hour, "max_over_time"},
	} {
		got := rollupUse{step: c.step, rng: c.rng, fn: c.fn}.order(as)
		require.Equal(t, c.want, got[0].Granularity, "step %d range %d", c.step, c.rng)
	}
}
