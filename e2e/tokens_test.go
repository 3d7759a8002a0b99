package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/auth"
)

const bareTmpl = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}
`

// TestIntegrationTokenImport starts an agent on a data dir written by the
// token store of the agent before the cluster (tokens.json and admin-token,
// as auth.Store writes them): its tokens are imported into the replicated
// state on first start, tokens.json is kept as tokens.json.imported, the
// admin-token file stays the CLI's default, and a restart imports nothing
// twice (a token revoked after the import stays revoked).
func TestIntegrationTokenImport(t *testing.T) {
	skipShort(t)
	a := &agentProc{t: t, dir: t.TempDir(), log: &syncBuffer{}, seen: map[int]bool{}}
	a.cfgPath = filepath.Join(a.dir, "pipelines.hcl")
	a.api = "127.0.0.1:" + strconv.Itoa(freePort(t))
	data := filepath.Join(a.dir, "data")
	a.data = data
	old, err := auth.Open(data, hclog.NewNullLogger())
	require.NoError(t, err)
	member, _, err := old.Create(context.Background(), "legacy", auth.RoleMember)
	require.NoError(t, err)
	gone, gp, err := old.Create(context.Background(), "legacy", auth.RoleMember)
	require.NoError(t, err)
	adminBefore, err := os.ReadFile(filepath.Join(data, auth.AdminTokenFile))
	require.NoError(t, err)

	a.writeConfig(bareTmpl)
	a.run()
	t.Cleanup(a.stop)
	require.Equal(t, strings.TrimSpace(string(adminBefore)), a.adminToken(), "the admin token file is kept")
	admin := &client{t: t, base: "http://" + a.api, token: a.adminToken()}
	for _, tok := range []string{member, gone} {
		c := &client{t: t, base: admin.base, token: tok}
		code, body := c.do("GET", "/v2/meters", nil)
		require.Equal(t, http.StatusOK, code, string(body))
	}
	_, err = os.Stat(filepath.Join(data, auth.TokensFile))
	require.True(t, os.IsNotExist(err), "tokens.json is renamed once imported")
	_, err = os.Stat(filepath.Join(data, auth.TokensFile+".imported"))
	require.NoError(t, err, "and kept")
	out := a.cli("token", "list", "--data-dir", "data")
	require.Contains(t, out, gp.TokenID)

	// Revoke one, restart: nothing is imported again.
	a.cli("token", "revoke", gp.TokenID, "--data-dir", "data")
	require.NoError(t, a.cmd.Process.Signal(os.Interrupt))
	a.restart()
	code, _ := (&client{t: t, base: admin.base, token: gone}).do("GET", "/v2/meters", nil)
	require.Equal(t, http.StatusUnauthorized, code, "a revoked token stays revoked across a restart")
	code, _ = (&client{t: t, base: admin.base, token: member}).do("GET", "/v2/meters", nil)
	require.Equal(t, http.StatusOK, code)
}

// soloTmpl is a one-member cluster with a slow election (heartbeat_timeout
// 3s: a restarted member is leader again, and has replayed its log, 3-6 s
// after it starts), so its API serves well before the member has caught up.
const soloTmpl = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
  cluster {
    node_id           = "solo"
    bind              = "127.0.0.1:%d"
    heartbeat_timeout = "3s"
  }
}
`

// TestIntegrationTokenAfterRestart: an agent SIGKILLed and started again
// never answers a token it had 401. Its API opens before raft has replayed
// the log that holds the tokens; until the member has caught up with the
// leader an unknown token is 503 with Retry-After (the client retries), not
// 401 (the client gives up, as TestIntegrationStoreDiskFull's clients did).
// Clients post with a member token and the admin token from the moment the
// port opens until both have been accepted several times, three restarts
// in a row.
func TestIntegrationTokenAfterRestart(t *testing.T) {
	skipShort(t)
	a := startAgent(t, fmt.Sprintf(soloTmpl, freePort(t)))
	member := strings.TrimSpace(a.cli("token", "create", "--project", "p-restart", "--data-dir", "data"))
	tokens := map[string]string{"member": member, "admin": a.adminToken()}
	base := "http://" + a.api
	var seq atomic.Int64
	post := func(hc *http.Client, tok string) (int, http.Header, string, error) {
		n := seq.Add(1)
		body, _ := json.Marshal([]map[string]any{oldSample("restart.m", "r-1", "p-restart",
			fmt.Sprintf("71000000-0000-4000-8000-%012d", n), float64(n), time.Now())})
		req, _ := http.NewRequest("POST", base+"/v2/meters/restart.m", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Auth-Token", tok)
		resp, err := hc.Do(req)
		if err != nil {
			return 0, nil, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b), nil
	}
	for name, tok := range tokens {
		code, _, body, err := post(http.DefaultClient, tok)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, code, "%s: %s", name, body)
	}

	for round := range 3 {
		a.pluginPIDs()
		require.NoError(t, a.cmd.Process.Kill())
		<-a.exited
		a.launch()
		var (
			wg                   sync.WaitGroup
			refused, unavailable atomic.Int64
			firstBad             atomic.Value
			accepted             = map[string]*atomic.Int64{}
			deadline             = time.Now().Add(60 * time.Second)
		)
		for name := range tokens {
			accepted[name] = &atomic.Int64{}
		}
		for name, tok := range tokens {
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// No keep-alive: every post opens a connection, so the
					// first ones race the API's listen.
					hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
					for accepted[name].Load() < 5 && time.Now().Before(deadline) && firstBad.Load() == nil {
						code, hdr, body, err := post(hc, tok)
						switch {
						case err != nil:
							refused.Add(1) // not listening yet
							time.Sleep(2 * time.Millisecond)
						case code == http.StatusCreated:
							accepted[name].Add(1)
						case code == http.StatusServiceUnavailable && hdr.Get("Retry-After") != "":
							unavailable.Add(1)
							time.Sleep(5 * time.Millisecond)
						default:
							firstBad.CompareAndSwap(nil, fmt.Sprintf("%s token: POST answered %d: %s", name, code, body))
						}
					}
				}()
			}
		}
		wg.Wait()
		require.Nil(t, firstBad.Load(), "restart %d", round)
		for name := range tokens {
			require.GreaterOrEqual(t, accepted[name].Load(), int64(5), "restart %d: %s token accepted within 60s", round, name)
		}
		t.Logf("restart %d: %d posts before the API listened, %d answered 503, then each token accepted",
			round, refused.Load(), unavailable.Load())
		a.waitHealthy()
	}
}
