package rule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/promapi"
	"github.com/altimeter/altimeter/internal/peer"
)

// TestPrometheusRules evaluates prometheus rules with the agent's own
// PromQL engine over a real store, in process and over HTTP.
func TestPrometheusRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, so := openStore(t)
	api := promapi.New(promapi.Options{Source: st})
	emb := NewEmbeddedPromQL(api)

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	api.Register(r.Group("/api/v1", func(c *gin.Context) {
		c.Request = c.Request.WithContext(promapi.WithPrincipal(c.Request.Context(), promapi.Principal{Admin: true}))
	}))
	srv := httptest.NewServer(r)
	defer srv.Close()
	ext, err := NewPromHTTP(srv.URL+"/", nil, http.Header{"X-Test": {"1"}})
	require.NoError(t, err)

	vals, err := emb.Instant(ctx, "p-a", "max(cpu_util)", now)
	require.NoError(t, err)
	require.Equal(t, []float64{91}, vals)
	// Confined to the project: p-b only sees vm-3.
	vals, err = emb.Instant(ctx, "p-b", "max(cpu_util)", now)
	require.NoError(t, err)
	require.Equal(t, []float64{51}, vals)
	vals, err = emb.Instant(ctx, "p-a", "scalar(count(cpu_util))", now)
	require.NoError(t, err)
	require.Equal(t, []float64{2}, vals)
	// The external API runs the query as written (admin here): all projects.
	vals, err = ext.Instant(ctx, "p-a", "count(cpu_util)", now)
	require.NoError(t, err)
	require.Equal(t, []float64{3}, vals)
	_, err = ext.Instant(ctx, "p-a", "cpu_util[5m]", now)
	require.ErrorContains(t, err, "matrix")
	_, err = emb.Instant(ctx, "p-a", "sum(", now)
	require.ErrorContains(t, err, "bad_data")
	_, err = NewPromHTTP("ftp://x", nil, nil)
	require.Error(t, err)

	base := NewStoreSource(st, so)
	cases := []struct {
		project, rule, cur, want, reason string
	}{
		{"p-a", `{"query":"max(cpu_util)","threshold":80,"comparison_operator":"gt"}`, StateOK, StateAlarm, "Transition to alarm due to 1 samples outside threshold, most recent: 91.0"},
		{"p-b", `{"query":"max(cpu_util)","threshold":80,"comparison_operator":"gt"}`, StateAlarm, StateOK, "Transition to ok due to 1 samples inside threshold, most recent: 51.0"},
		{"p-a", `{"query":"cpu_util","threshold":50,"comparison_operator":"gt"}`, StateOK, StateOK, ""}, // mixed: stays
		{"p-a", `{"query":"cpu_util{resource_id=\"nope\"}","threshold":1}`, StateOK, StateInsufficient, "datapoints are unknown"},
		{"p-a", `{"query":"sum(","threshold":1}`, StateOK, StateInsufficient, ""},
	}
	for _, c := range cases {
		e := NewEvaluator(WithPromQL(base, emb), nil)
		out, err := e.Evaluate(ctx, Input{ProjectID: c.project, Rule: mustParse(t, TypePrometheus, c.rule), State: c.cur}, now)
		require.NoError(t, err)
		require.Equal(t, c.want, out.State, c.rule)
		if c.reason != "" {
			require.Equal(t, c.reason, out.Reason)
		}
	}
	// Without a PromQL source the rule cannot decide.
	out, err := NewEvaluator(base, nil).Evaluate(ctx, Input{ProjectID: "p-a", Rule: mustParse(t, TypePrometheus, `{"query":"up","threshold":1}`), State: StateOK}, now)
	require.NoError(t, err)
	require.Equal(t, StateInsufficient, out.State)
	require.Contains(t, out.Reason, "PromQL")
	// Composite leaves may be prometheus rules.
	comp := mustParse(t, TypeComposite, `{"and":[{"type":"prometheus","query":"max(cpu_util)","threshold":80,"comparison_operator":"gt"},{"type":"threshold","meter_name":"cpu_util","threshold":80,"comparison_operator":"gt","query":[{"field":"resource_id","value":"vm-1"}]}]}`)
	out, err = NewEvaluator(WithPromQL(base, ext), nil).Evaluate(ctx, Input{ProjectID: "p-a", Rule: comp, State: StateOK}, now)
	require.NoError(t, err)
	require.Equal(t, StateAlarm, out.State)
}

// TestIntegrationPrometheusHTTP evaluates prometheus rules on a real
// Prometheus (Debian's), which scrapes itself.
func TestIntegrationPrometheusHTTP(t *testing.T) {
	peer.Need(t)
	ctx := context.Background()
	prom, err := peer.StartPrometheus(ctx, t.TempDir(), peer.PrometheusOptions{})
	require.NoError(t, err)
	t.Cleanup(prom.Stop)
	p, err := NewPromHTTP(prom.URL, nil, nil)
	require.NoError(t, err)
	at := time.Now()
	vals, err := p.Instant(ctx, "p", "vector(42)", at)
	require.NoError(t, err)
	require.Equal(t, []float64{42}, vals)
	vals, err = p.Instant(ctx, "p", "scalar(vector(7))", at)
	require.NoError(t, err)
	require.Equal(t, []float64{7}, vals)
	_, err = p.Instant(ctx, "p", "sum(", at)
	require.ErrorContains(t, err, "bad_data")

	src := WithPromQL(&fakeSource{}, p)
	for _, c := range []struct{ rule, want string }{
		{`{"query":"up{job=\"prometheus\"}","threshold":0,"comparison_operator":"gt"}`, StateAlarm},
		{`{"query":"up{job=\"prometheus\"}","threshold":1,"comparison_operator":"lt"}`, StateOK},
		{`{"query":"up{job=\"nope\"}","threshold":1}`, StateInsufficient},
	} {
		out, err := NewEvaluator(src, nil).Evaluate(ctx, Input{ProjectID: "p", Rule: mustParse(t, TypePrometheus, c.rule), State: ""}, at)
		require.NoError(t, err)
		require.Equal(t, c.want, out.State, "%s: %s", c.rule, out.Reason)
	}
}
