package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const storeTmpl = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}

pollster "host" {}

polling "host" {
  interval = "1s"
  meters   = ["hardware.memory.*", "hardware.cpu.load.*"]
  sinks    = ["host"]
}

sink "host" {
  publish "store" {}
}
`

// client is a REST client with a token.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (c *client) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("X-Auth-Token", c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, out
}

func (c *client) list(path string) []map[string]any {
	c.t.Helper()
	code, body := c.do("GET", path, nil)
	require.Equal(c.t, http.StatusOK, code, "%s: %s", path, body)
	var out []map[string]any
	require.NoError(c.t, json.Unmarshal(body, &out), string(body))
	return out
}

func (a *agentProc) adminToken() string {
	a.t.Helper()
	var tok []byte
	waitFor(a.t, 10*time.Second, "admin-token", func() bool {
		var err error
		tok, err = os.ReadFile(a.path("admin-token"))
		return err == nil && len(tok) > 0
	})
	fi, err := os.Stat(a.path("admin-token"))
	require.NoError(a.t, err)
	require.Equal(a.t, os.FileMode(0o600), fi.Mode().Perm())
	return strings.TrimSpace(string(tok))
}

// cli runs bin/altimeter with args against the agent; it fails the test on
// a non-zero exit.
func (a *agentProc) cli(args ...string) string {
	a.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "altimeter"), args...)
	cmd.Dir = a.dir
	cmd.Env = append(os.Environ(), "ALTIMETER_URL=http://"+a.api)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(a.t, err, "altimeter %s: %s%s", strings.Join(args, " "), out, stderr.String())
	return string(out)
}

func oldSample(meter, resource, project, id string, v float64, ts time.Time) map[string]any {
	return map[string]any{
		"counter_name": meter, "counter_type": "gauge", "counter_unit": "req", "counter_volume": v,
		"resource_id": resource, "project_id": project, "user_id": "u-" + project, "message_id": id,
		"timestamp": ts.UTC().Format("2006-01-02T15:04:05.000000"), "resource_metadata": map[string]string{"tier": "web"},
	}
}

// TestIntegrationStore is the store issue's user path: the host pollster's
// samples reach the API and the CLI, tokens confine a member to its project
// on every endpoint, and a restart keeps everything.
func TestIntegrationStore(t *testing.T) {
	skipShort(t)
	a := startAgent(t, storeTmpl)
	admin := &client{t: t, base: "http://" + a.api, token: a.adminToken()}
	anon := &client{t: t, base: admin.base}
	code, body := anon.do("GET", "/v2/meters", nil)
	require.Equal(t, http.StatusUnauthorized, code, string(body))
	require.Contains(t, string(body), "error_message")

	waitFor(t, 15*time.Second, "host meters in the API", func() bool {
		for _, m := range admin.list("/v2/meters") {
			if m["name"] == "hardware.memory.total" {
				return true
			}
		}
		return false
	})
	out := a.cli("meter", "list", "--data-dir", "data")
	require.Contains(t, out, "hardware.memory.total")
	waitFor(t, 15*time.Second, "two polls", func() bool {
		return len(admin.list("/v2/meters/hardware.memory.total?limit=2")) == 2
	})
	out = a.cli("statistics", "-m", "hardware.memory.total", "-p", "60", "--data-dir", "data")
	require.Contains(t, out, "COUNT", out)

	// Two projects; a member token of one.
	member := &client{t: t, base: admin.base, token: strings.TrimSpace(a.cli("token", "create", "--project", "p-a", "--role", "member", "--data-dir", "data"))}
	now := time.Now().Add(-time.Minute)
	code, body = admin.do("POST", "/v2/meters/tenant.m", []map[string]any{
		oldSample("tenant.m", "res-a", "p-a", "10000000-0000-4000-8000-00000000000a", 1, now),
		oldSample("tenant.m", "res-b", "p-b", "10000000-0000-4000-8000-00000000000b", 2, now),
	})
	require.Equal(t, http.StatusCreated, code, string(body))
	code, body = member.do("POST", "/v2/meters/tenant.m", []map[string]any{oldSample("tenant.m", "res-x", "p-b", "", 3, now)})
	require.Equal(t, http.StatusBadRequest, code, string(body))

	require.Len(t, admin.list("/v2/samples?q.field=meter&q.op=eq&q.value=tenant.m"), 2)
	for _, path := range []string{
		"/v2/samples?q.field=meter&q.op=eq&q.value=tenant.m",
		"/v2/meters/tenant.m",
		"/v2/meters?q.field=resource_id&q.op=eq&q.value=res-b",
		"/v2/resources?q.field=resource_id&q.op=eq&q.value=res-b",
		"/v2/resources",
		"/v2/meters/tenant.m/statistics?groupby=project_id",
	} {
		rows := member.list(path)
		raw, _ := json.Marshal(rows)
		require.NotContains(t, string(raw), "p-b", path)
		require.NotContains(t, string(raw), "res-b", path)
	}
	code, _ = member.do("GET", "/v2/samples/10000000-0000-4000-8000-00000000000b", nil)
	require.Equal(t, http.StatusNotFound, code)
	code, _ = member.do("GET", "/v2/resources/res-b", nil)
	require.Equal(t, http.StatusNotFound, code)
	code, body = member.do("POST", "/v2/query/samples", map[string]any{"filter": `{"=": {"counter_name": "tenant.m"}}`})
	require.Equal(t, http.StatusOK, code, string(body))
	require.Contains(t, string(body), "res-a")
	require.NotContains(t, string(body), "res-b")
	code, _ = member.do("GET", "/v2/samples?q.field=project_id&q.op=eq&q.value=p-b", nil)
	require.Equal(t, http.StatusForbidden, code)

	// Restart keeps everything.
	before := admin.list("/v2/samples?q.field=meter&q.op=eq&q.value=tenant.m")
	a.pluginPIDs()
	require.NoError(t, a.cmd.Process.Signal(os.Interrupt))
	a.restart()
	require.Equal(t, before, admin.list("/v2/samples?q.field=meter&q.op=eq&q.value=tenant.m"))
	require.Len(t, member.list("/v2/samples?q.field=meter&q.op=eq&q.value=tenant.m"), 1, "tokens survive the restart")
}

// TestIntegrationStoreCrash posts samples as fast as four clients can while
// the agent is SIGKILLed, restarts it, and checks that every sample whose
// POST returned success is stored, once.
func TestIntegrationStoreCrash(t *testing.T) {
	skipShort(t)
	a := startAgent(t, storeTmpl)
	admin := &client{t: t, base: "http://" + a.api, token: a.adminToken()}

	var (
		mu    sync.Mutex
		acked []string
		sent  atomic.Int64
		wg    sync.WaitGroup
	)
	ts := time.Now().Add(-10 * time.Minute)
	const batch = 1000
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 10 * time.Second}
			for n := 0; ; n++ {
				ids := make([]string, batch)
				body := make([]map[string]any, batch)
				for i := range body {
					ids[i] = fmt.Sprintf("20000000-0000-4000-8%03d-%012d", w, n*batch+i)
					body[i] = oldSample("crash.m", fmt.Sprintf("r-%d", i%50), "p-crash", ids[i], float64(i), ts.Add(time.Duration(n*batch+i)*time.Microsecond))
				}
				raw, _ := json.Marshal(body)
				req, _ := http.NewRequest("POST", admin.base+"/v2/meters/crash.m", bytes.NewReader(raw))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Auth-Token", admin.token)
				resp, err := hc.Do(req)
				if err != nil {
					return // the agent is gone
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					return
				}
				sent.Add(batch)
				mu.Lock()
				acked = append(acked, ids...)
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	waitFor(t, 60*time.Second, "100k samples acknowledged", func() bool { return sent.Load() >= 100_000 })
	rate := float64(sent.Load()) / time.Since(start).Seconds()
	a.pluginPIDs()
	require.NoError(t, a.cmd.Process.Kill())
	wg.Wait()
	t.Logf("posted %d acknowledged samples at %.0f samples/s before SIGKILL", len(acked), rate)

	a.restart()
	stats := admin.list("/v2/meters/crash.m/statistics")
	require.Len(t, stats, 1)
	count := int(stats[0]["count"].(float64))
	require.GreaterOrEqual(t, count, len(acked), "every acknowledged sample is stored")
	require.LessOrEqual(t, count, len(acked)+4*batch, "at most the batches in flight at the kill are stored unacknowledged")
	stored := map[string]bool{}
	for _, row := range samplesOf(admin, "crash.m") { // pages: a limit is at most max_limit
		id := row["message_id"].(string)
		require.False(t, stored[id], "sample %s stored twice", id)
		stored[id] = true
	}
	require.Len(t, stored, count)
	for _, id := range acked {
		require.True(t, stored[id], "acknowledged sample %s is missing", id)
	}
}
