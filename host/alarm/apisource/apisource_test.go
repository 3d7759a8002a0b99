package apisource

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/alarm/rule"
	"github.com/altimeter/altimeter/host/api"
	"github.com/altimeter/altimeter/host/auth"
	"github.com/altimeter/altimeter/host/promapi"
	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/host/store/series"
	"github.com/altimeter/altimeter/sdk/sample"
)

type adminAuth struct{}

func (adminAuth) Authenticate(_ context.Context, tok string) (auth.Principal, error) {
	if tok != "secret" {
		return auth.Principal{}, auth.ErrUnauthorized
	}
	return auth.Principal{TokenID: "t", Role: auth.RoleAdmin}, nil
}

// TestSameAnswersAsTheLocalStore: through a real API over a real store,
// the Source answers what the local store adapter answers, so an alarm
// evaluates alike on the store member and on any other member.
func TestSameAnswersAsTheLocalStore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Minute)
	st, err := store.Open(ctx, t.TempDir(), store.Options{Logger: hclog.NewNullLogger(), Now: func() time.Time { return now }})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	var smps []sample.Sample
	for m := range 20 {
		for r := range 3 {
			smps = append(smps, sample.Sample{Name: "cpu_util", Type: sample.Gauge, Unit: "%", Volume: float64(m*10 + r),
				ResourceID: fmt.Sprintf("vm-%d", r), ProjectID: fmt.Sprintf("p-%d", r%2), UserID: "u", Source: "s",
				Timestamp: now.Add(-time.Duration(20-m)*time.Minute + time.Duration(r)*time.Second), Metadata: map[string]string{"flavor": fmt.Sprint(r)}})
		}
	}
	require.NoError(t, st.Write(ctx, smps))
	prom := promapi.New(promapi.Options{Source: st, Logger: hclog.NewNullLogger()})
	srv := httptest.NewServer(api.New(api.Options{Store: st, Auth: adminAuth{}, Prom: prom}).Handler())
	t.Cleanup(srv.Close)
	local := rule.NewStoreSource(st, series.Options{})
	remote, err := New(srv.URL, func() (string, error) { return "secret", nil }, local.Granularities, nil)
	require.NoError(t, err)

	for _, q := range []rule.StatsQuery{
		{ProjectID: "p-0", Meter: "cpu_util", Start: now.Add(-10 * time.Minute), End: now, Period: time.Minute, Aggregate: "avg"},
		{ProjectID: "p-0", Meter: "cpu_util", ResourceID: "vm-2", Start: now.Add(-10 * time.Minute), End: now, Period: 3 * time.Minute, Aggregate: "max"},
		{ProjectID: "p-1", Meter: "cpu_util", Metadata: map[string]string{"flavor": "1"}, Start: now.Add(-30 * time.Minute), End: now, Period: 5 * time.Minute, Aggregate: "count"},
		{ProjectID: "p-0", Meter: "cpu_util", UserID: "u", Source: "s", Start: now.Add(-10 * time.Minute), End: now, Period: 2 * time.Minute, Aggregate: "stddev"},
		{ProjectID: "p-0", Meter: "cpu_util", Start: now.Add(-10 * time.Minute), End: now, Period: time.Minute, Aggregate: "sum"},
		{ProjectID: "p-9", Meter: "cpu_util", Start: now.Add(-10 * time.Minute), End: now, Period: time.Minute, Aggregate: "min"},
	} {
		want, err := local.Statistics(ctx, q)
		require.NoError(t, err)
		got, err := remote.Statistics(ctx, q)
		require.NoError(t, err)
		require.Equal(t, len(want), len(got), "%+v", q)
		for i := range want {
			require.True(t, want[i].Start.Equal(got[i].Start), "%+v bucket %d", q, i)
			require.InDelta(t, want[i].Value, got[i].Value, 1e-9, "%+v bucket %d", q, i)
			require.Equal(t, want[i].Count, got[i].Count)
		}
	}
	rs, err := remote.Resources(ctx, "p-0", "cpu_util", 10)
	require.NoError(t, err)
	require.Len(t, rs, 2)
	p, found, err := remote.ResourceProject(ctx, "vm-1")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "p-1", p)
	_, found, err = remote.ResourceProject(ctx, "nope")
	require.NoError(t, err)
	require.False(t, found)
	require.Equal(t, local.Granularities("cpu_util"), remote.Granularities("cpu_util"))

	// A threshold alarm evaluates alike through both.
	r, err := rule.Parse("threshold", []byte(`{"meter_name":"cpu_util","threshold":150,"comparison_operator":"gt","period":60,"evaluation_periods":3,"query":[{"field":"resource_id","value":"vm-0"}]}`))
	require.NoError(t, err)
	in := rule.Input{AlarmID: "a", ProjectID: "p-0", Type: "threshold", Rule: r, State: "ok"}
	want, err := rule.NewEvaluator(local, nil).Evaluate(ctx, in, now)
	require.NoError(t, err)
	got, err := rule.NewEvaluator(remote, nil).Evaluate(ctx, in, now)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, "alarm", got.State)

	// A prometheus rule: the member's PromQL API answers as the local
	// engine does, confined to the alarm's project although the token is
	// an admin's.
	embedded := rule.NewEmbeddedPromQL(prom)
	for _, q := range []string{"count(cpu_util)", `max(cpu_util{project_id="p-1"})`, "sum by (resource_id) (cpu_util)", "vector(1)", `count({__name__=~".+"}) or vector(0)`} {
		want, err := embedded.Instant(ctx, "p-0", q, now)
		require.NoError(t, err, q)
		got, err := remote.Instant(ctx, "p-0", q, now)
		require.NoError(t, err, q)
		require.ElementsMatch(t, want, got, q)
	}
	n, err := remote.Instant(ctx, "p-0", "count(cpu_util)", now)
	require.NoError(t, err)
	require.Equal(t, []float64{2}, n, "p-0 has two of the three resources")
	_, err = remote.Instant(ctx, "p-0", "sum(", now)
	require.Error(t, err)
	_, err = remote.Instant(ctx, "", "vector(1)", now)
	require.Error(t, err)
	pr, err := rule.Parse("prometheus", []byte(`{"query":"max(cpu_util)","threshold":150,"comparison_operator":"gt"}`))
	require.NoError(t, err)
	pin := rule.Input{AlarmID: "p", ProjectID: "p-0", Type: "prometheus", Rule: pr, State: "ok"}
	want, err = rule.NewEvaluator(rule.WithPromQL(local, embedded), nil).Evaluate(ctx, pin, now)
	require.NoError(t, err)
	got, err = rule.NewEvaluator(rule.WithPromQL(remote, remote), nil).Evaluate(ctx, pin, now)
	require.NoError(t, err)
	require.Equal(t, want, got)

	// Errors: a refused token, an unreachable member.
	bad, err := New(srv.URL, func() (string, error) { return "wrong", nil }, local.Granularities, nil)
	require.NoError(t, err)
	_, err = bad.Statistics(ctx, rule.StatsQuery{ProjectID: "p-0", Meter: "cpu_util", Period: time.Minute})
	require.ErrorContains(t, err, "HTTP 401")
	_, err = New("ftp://x", nil, nil, nil)
	require.Error(t, err)
}
