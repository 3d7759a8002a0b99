package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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
