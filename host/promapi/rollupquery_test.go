package promapi

import (
	"context"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/sample"
)

// TestStatisticsAnswers: whole-meter aggregates of *_over_time answered
// from the store's statistics equal the engine's answers (the same query
// in parentheses, which the statistics path leaves to the engine), for an
// admin, a member and a project matcher; other shapes, steps other than
// the range, and a sample just after a bucket start go to the engine.
func TestStatisticsAnswers(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	f := newFixture(t, start, 4*60*4, Options{}) // 4 h at 15 s
	answered := func() float64 { return testutil.ToFloat64(f.api.rollupAnswers) }
	ask := func(token, q string, step time.Duration) result {
		t.Helper()
		form := url.Values{"query": {q}}
		path := "/api/v1/query"
		if step == 0 {
			form.Set("time", unixStr(start.Add(3*time.Hour)))
		} else {
			path = "/api/v1/query_range"
			form.Set("start", unixStr(start.Add(time.Hour)))
			form.Set("end", unixStr(start.Add(4*time.Hour)))
			form.Set("step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
		}
		code, r := get(t, f.srv.URL, token, path, form)
		require.Equal(t, 200, code, "%s: %s", q, r.Error)
		return decodeResult(t, r.Data)
	}
	cases := []struct {
		token, q string
		step     time.Duration
		fast     bool
	}{
		{"admin-token", `sum(sum_over_time(net_packets[1h]))`, 0, true},
		{"admin-token", `sum(sum_over_time(net_packets[1h]))`, time.Hour, true},
		{"admin-token", `sum by (project_id) (count_over_time(memory_usage[10m]))`, 10 * time.Minute, true},
		{"admin-token", `max(max_over_time(memory_usage[5m]))`, 5 * time.Minute, true},
		{"admin-token", `min by (project_id) (min_over_time(cpu[30m]))`, 30 * time.Minute, true},
		{"admin-token", `sum(sum_over_time(net_packets{project_id="p2"}[1h]))`, time.Hour, true},
		{"p1-token", `sum by (project_id) (sum_over_time(net_packets[1h]))`, time.Hour, true},
		{"p1-token", `max(max_over_time(memory_usage{project_id="p2"}[15m]))`, 15 * time.Minute, false}, // two project matchers: the engine
		{"admin-token", `sum(sum_over_time(net_packets[1h]))`, 30 * time.Minute, false},
		{"admin-token", `sum(max_over_time(net_packets[1h]))`, time.Hour, false},
		{"admin-token", `sum by (resource_id) (sum_over_time(net_packets[1h]))`, time.Hour, false},
		{"admin-token", `sum(sum_over_time(net_packets{resource_id="r01"}[1h]))`, time.Hour, false},
		{"admin-token", `sum(sum_over_time(net_packets[1h] offset 1h))`, time.Hour, false},
	}
	for _, c := range cases {
		before := answered()
		got := ask(c.token, c.q, c.step)
		if c.fast {
			require.Equal(t, before+1, answered(), "%s: answered from statistics", c.q)
		} else {
			require.Equal(t, before, answered(), "%s: left to the engine", c.q)
		}
		want := ask(c.token, "("+c.q+")", c.step)
		require.Equal(t, before+map[bool]float64{true: 1, false: 0}[c.fast], answered())
		if c.q != `max(max_over_time(memory_usage{project_id="p2"}[15m]))` {
			require.NotEmpty(t, want.series, c.q)
		} else {
			require.Empty(t, want.series, "a member of p1 sees nothing of p2")
		}
		requireSameResult(t, c.q, "engine", want, got)
	}

	// A sample within 1 ms after a bucket start: PromQL puts it in the
	// window ending there, the statistics in the next; the engine answers.
	at := start.Add(2 * time.Hour)
	require.NoError(t, f.st.Write(context.Background(), []sample.Sample{{Name: "edge", Type: sample.Gauge, Unit: "1", Volume: 5,
		ResourceID: "r00", ProjectID: "p1", UserID: "u0", Source: "test", Timestamp: at, MessageID: "edge-1"}}))
	before := answered()
	got := ask("admin-token", `sum(sum_over_time(edge[1h]))`, time.Hour)
	require.Equal(t, before, answered())
	requireSameResult(t, "edge", "engine", ask("admin-token", `(sum(sum_over_time(edge[1h])))`, time.Hour), got)
	require.Equal(t, [][2]float64{{float64(at.Unix()), 5}}, got.series[""])
}
