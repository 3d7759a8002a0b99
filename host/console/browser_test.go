package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/alarm"
	"github.com/altimeter/altimeter/host/alarm/rule"
	"github.com/altimeter/altimeter/host/api"
	"github.com/altimeter/altimeter/host/auth"
	"github.com/altimeter/altimeter/host/cluster"
	"github.com/altimeter/altimeter/host/console"
	"github.com/altimeter/altimeter/host/promapi"
	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/host/store/series"
	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/sample"
)

// chromiumFlags are the flags that work on this machine kind (closed
// network, root): see the machine notes.
var chromiumFlags = []chromedp.ExecAllocatorOption{
	chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Headless, chromedp.DisableGPU,
	chromedp.NoSandbox,
	chromedp.Flag("disable-quic", true),
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("disable-sync", true),
	chromedp.WindowSize(1280, 900),
}

// artifacts is where screenshots go: $ALTIMETER_ARTIFACTS when set (CI
// keeps it), else the test's temp dir. Never the source tree.
func artifacts(t *testing.T) string {
	if d := os.Getenv("ALTIMETER_ARTIFACTS"); d != "" {
		d = filepath.Join(d, "console")
		require.NoError(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}

// TestIntegrationConsole loads the console in Debian's headless Chromium
// against a real API server over a real store, signs in as a member,
// opens a chart and checks that the plotted points are the statistics the
// API returns, and that the alarms pages show what the alarm API returns
// for alarms the real scheduler evaluated; it takes a screenshot of every
// page.
func TestIntegrationConsole(t *testing.T) {
	peer.Need(t)
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium: %v (%s)", err, peer.InstallHint)
	}
	ctx := context.Background()
	log := hclog.New(&hclog.LoggerOptions{Output: io.Discard})
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "store"), store.Options{Logger: log})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	tokens, err := auth.Open(dir, log)
	require.NoError(t, err)
	member, _, err := tokens.Create(ctx, "p1", auth.RoleMember)
	require.NoError(t, err)
	admin, _, err := tokens.Create(ctx, "", auth.RoleAdmin)
	require.NoError(t, err)

	// Two projects, three resources each, a sample a minute over 3 hours.
	now := time.Now().UTC()
	var batch []sample.Sample
	for i := range 180 {
		for r := range 6 {
			ts := now.Add(-3*time.Hour + time.Duration(i)*time.Minute)
			batch = append(batch, sample.Sample{
				Name: "cpu_util", Type: sample.Gauge, Unit: "%", Volume: math.Round((40+30*math.Sin(float64(i+10*r)/15))*10) / 10,
				ResourceID: fmt.Sprintf("vm-%d", r), ProjectID: fmt.Sprintf("p%d", r%2+1), UserID: "u", Source: "test",
				Timestamp: ts, MessageID: fmt.Sprintf("s-%d-%d", i, r),
				Metadata: map[string]string{"flavor.name": map[bool]string{true: "m1.small", false: "m1.large"}[i < 90]},
			})
		}
	}
	require.NoError(t, st.Write(ctx, batch))

	// A real one-member cluster, as every agent runs.
	raftPort, err := peer.FreePort("tcp")
	require.NoError(t, err)
	node, err := cluster.Open(cluster.Config{NodeID: "n1", Dir: filepath.Join(dir, "raft"),
		BindAddress: fmt.Sprintf("127.0.0.1:%d", raftPort), Logger: log})
	require.NoError(t, err)
	t.Cleanup(func() { node.Close() })
	require.Eventually(t, func() bool {
		cs, err := node.Status(ctx)
		return err == nil && cs.LeaderID == "n1" && len(cs.Members) == 1 && cs.Members[0].State == "leader"
	}, 30*time.Second, 100*time.Millisecond, "one-member cluster leads")

	prom := promapi.New(promapi.Options{Source: st, Logger: log})
	// The alarm service and its rules' source, as the agent wires them.
	src := rule.WithPromQL(rule.NewStoreSource(st, series.Options{}), rule.NewEmbeddedPromQL(prom))
	alarms := alarm.NewService(node, alarm.Checker{Source: src}, alarm.DefaultHistoryLimits)
	srv := api.New(api.Options{Address: "127.0.0.1:0", Logger: log, Store: st, Events: st, Auth: tokens, Prom: prom,
		Console: console.Handler(), Cluster: clusterService{node}, Alarms: alarms})
	require.NoError(t, srv.Listen())
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx) }()
	t.Cleanup(func() { stop(); <-done })
	base := "http://" + srv.Addr()
	alarmIDs := alarmFixture(t, ctx, log, base, member, admin, node, src)

	actx, cancel := chromedp.NewExecAllocator(ctx, append(chromiumFlags, chromedp.ExecPath(browser), chromedp.UserDataDir(t.TempDir()))...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 4*time.Minute) // the whole session, on a loaded machine
	defer cancel()
	out := artifacts(t)
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(out, name+".png"), png, 0o644)
		})
	}
	// ready waits for the page named by hash to finish loading.
	ready := func(hash string) chromedp.Action[chromedp.Void] {
		return chromedp.WaitReady(chromedp.CSS(`body[data-ready="` + hash + `"]`))
	}
	text := func(sel string) string {
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return s
	}

	// Sign in with the keyboard only: type the token, press Enter.
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate(base+"/"),
		ready("#/signin"),
		shot("signin"),
		chromedp.SendKeys(chromedp.CSS("#token"), member+"\n"),
		ready("#/meters"),
		chromedp.WaitVisible(chromedp.CSS(`#meters`)),
		shot("meters"),
	))
	metersText := text("#meters")
	require.Contains(t, metersText, "cpu_util")
	require.Contains(t, metersText, "3", "a member of p1 sees its 3 resources")

	// The chart of cpu_util: hourly max over the last 6 hours, per resource.
	var plotted struct {
		X      []float64    `json:"x"`
		Labels []string     `json:"labels"`
		Y      [][]*float64 `json:"y"`
	}
	var js string
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate(base+"/#/chart?meter=cpu_util&period=3600&stat=max&range=21600"),
		ready("#/chart"),
		chromedp.WaitVisible(chromedp.CSS(`#chart canvas`)),
		shot("chart"),
	))
	js, err = chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify({x: altimeterChart.data[0], labels: altimeterChart.series.slice(1).map(s => s.label), y: altimeterChart.data.slice(1)})`))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(js), &plotted))

	// The API's statistics for the same request (the page's range ends at
	// its own now; ask for the same buckets: whole hours in the last 6 h).
	want := statistics(t, base, member, plotted.X)
	require.Equal(t, []string{"vm-0", "vm-2", "vm-4"}, plotted.Labels, "member sees p1's resources only")
	require.NotEmpty(t, plotted.X)
	for i, res := range plotted.Labels {
		for j, x := range plotted.X {
			w, ok := want[res][x]
			if !ok {
				require.Nil(t, plotted.Y[i][j], "%s at %v: plotted a point the API does not have", res, x)
				continue
			}
			require.NotNil(t, plotted.Y[i][j], "%s at %v: missing point", res, x)
			require.Equal(t, w, *plotted.Y[i][j], "%s at %v", res, x)
		}
		require.Len(t, want[res], countNonNil(plotted.Y[i]), res)
	}

	// The other pages load, and show no other project's data.
	for _, p := range []struct{ hash, id, name string }{
		{"#/resources", "#resources", "resources"},
		{"#/resources?id=vm-0", "#history", "resource"},
		{"#/events", "#events", "events"},
		{"#/cluster", "#members", "cluster"},
	} {
		require.NoError(t, chromedp.Do(bctx,
			chromedp.Navigate(base+"/"+p.hash),
			ready(strings.Split(p.hash, "?")[0]),
			chromedp.WaitVisible(chromedp.CSS(p.id)),
			shot(p.name),
		), p.hash)
		body := text("#page")
		require.NotContains(t, body, "vm-1", p.hash)
		require.NotContains(t, body, "vm-3", p.hash)
	}
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(base+"/#/cluster"), ready("#/cluster"),
		chromedp.WaitVisible(chromedp.CSS("#members"))))
	members := text("#members")
	require.Contains(t, members, "n1")
	require.Contains(t, members, "leader")
	require.Contains(t, members, fmt.Sprintf("127.0.0.1:%d", raftPort))
	require.Contains(t, text("#cluster"), "n1 (127.0.0.1:")

	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(base+"/#/resources?id=vm-0"), ready("#/resources"),
		chromedp.WaitVisible(chromedp.CSS("#history"))))
	history := text("#history")
	require.Contains(t, history, "flavor.name=m1.small")
	require.Contains(t, history, "flavor.name=m1.large")

	// Another project's resource is not found for the member.
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(base+"/#/resources?id=vm-1"), ready("#/resources")))
	require.Contains(t, text("#status"), "404")
	// The plugins page is for admins (it shows pids and plugin stderr).
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(base+"/#/plugins"), ready("#/plugins")))
	require.Contains(t, text("#status"), "403")

	// The alarms pages, by keyboard, against the alarm API.
	checkAlarmsPage(t, bctx, base, member, alarmIDs, ready, shot)

	// The PromQL page plots what the query API returns (as the admin).
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate(base+"/#/signin"), ready("#/signin"),
		chromedp.SendKeys(chromedp.CSS("#token"), admin+"\n"), ready("#/meters"),
		chromedp.Navigate(base+"/#/plugins"), ready("#/plugins"),
		chromedp.WaitVisible(chromedp.CSS("#plugins")),
		shot("plugins"),
		chromedp.Navigate(base+"/#/query?"+url.Values{"expr": {`max by (project_id) (cpu_util)`}, "range": {"21600"}}.Encode()),
		ready("#/query"),
		chromedp.WaitVisible(chromedp.CSS(`#chart canvas`)),
		shot("query"),
	))
	n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`altimeterChart.series.length - 1`))
	require.NoError(t, err)
	require.Equal(t, 2, n, "admin: one series per project")
	// The admin sees every project's alarms.
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(base+"/#/alarms"), ready("#/alarms"),
		chromedp.WaitVisible(chromedp.CSS("#alarms"))))
	adminAlarms := text("#alarms")
	require.Contains(t, adminAlarms, "p2-secret-vm1")
	require.Contains(t, adminAlarms, "cpu-high-vm0")
	t.Logf("screenshots in %s", out)
}

// clusterService serves the node to the API (the agent's adapter, without
// its error mapping).
type clusterService struct{ n *cluster.Node }

func (s clusterService) Status(ctx context.Context) (any, error) { return s.n.Status(ctx) }
func (s clusterService) Partitions(ctx context.Context) (any, error) {
	return s.n.Partitions(ctx), nil
}
func (s clusterService) Join(ctx context.Context, id, addr string) error {
	return s.n.Join(ctx, id, addr)
}
func (s clusterService) Remove(ctx context.Context, id string) error { return s.n.Remove(ctx, id) }
func (s clusterService) Leave(ctx context.Context) error             { return s.n.Leave(ctx) }

func countNonNil(ys []*float64) int {
	n := 0
	for _, y := range ys {
		if y != nil {
			n++
		}
	}
	return n
}

// statistics asks the API for the hourly max of cpu_util per resource over
// the hours the chart shows.
func statistics(t *testing.T, base, token string, xs []float64) map[string]map[float64]float64 {
	t.Helper()
	require.NotEmpty(t, xs)
	sorted := append([]float64(nil), xs...)
	sort.Float64s(sorted)
	// The page asked from (its now - 6h); the buckets start there. Ask from
	// the first bucket it plotted to the end of the last.
	start := time.Unix(int64(sorted[0]), 0).UTC()
	end := time.Unix(int64(sorted[len(sorted)-1])+3600, 0).UTC()
	q := url.Values{"period": {"3600"}, "groupby": {"resource_id"},
		"q.field": {"timestamp", "timestamp"}, "q.op": {"ge", "lt"}, "q.value": {start.Format(time.RFC3339), end.Format(time.RFC3339)}}
	req, err := http.NewRequest(http.MethodGet, base+"/v2/meters/cpu_util/statistics?"+q.Encode(), nil)
	require.NoError(t, err)
	req.Header.Set("X-Auth-Token", token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var stats []struct {
		GroupBy     map[string]string `json:"groupby"`
		PeriodStart string            `json:"period_start"`
		Max         float64           `json:"max"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&stats))
	out := map[string]map[float64]float64{}
	for _, s := range stats {
		ts, err := time.Parse("2006-01-02T15:04:05.999999999", strings.TrimSuffix(s.PeriodStart, "Z"))
		require.NoError(t, err, s.PeriodStart)
		r := s.GroupBy["resource_id"]
		if out[r] == nil {
			out[r] = map[float64]float64{}
		}
		out[r][float64(ts.Unix())] = s.Max
	}
	return out
}
