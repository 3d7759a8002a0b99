package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/api"
	"github.com/altimeter/altimeter/host/auth"
	"github.com/altimeter/altimeter/host/cluster"
)

// tokenServer runs a one-member cluster and the API over it, as the agent
// does; it returns the API URL and the data dir holding admin-token.
func tokenServer(t *testing.T) (string, string, *cluster.Node) {
	t.Helper()
	dir := t.TempDir()
	n, err := cluster.Open(cluster.Config{NodeID: "cli", Dir: filepath.Join(dir, "raft"), BindAddress: "127.0.0.1:0",
		HeartbeatTimeout: cluster.StandaloneHeartbeatTimeout, Logger: hclog.NewNullLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// As the agent's bootstrap: until the member has caught up, an
	// unknown (or revoked) token is ErrNotReady, not ErrUnauthorized.
	require.NoError(t, n.CatchUp(ctx))
	require.NoError(t, n.Tokens().Bootstrap(ctx, dir))
	srv := httptest.NewServer(api.New(api.Options{Auth: n.Tokens(), Tokens: n.Tokens()}).Handler())
	t.Cleanup(srv.Close)
	return srv.URL, dir, n
}

func TestTokenCommands(t *testing.T) {
	t.Parallel()
	url, dir, n := tokenServer(t)
	fi, err := os.Stat(filepath.Join(dir, "admin-token"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	flags := []string{"--url", url, "--data-dir", dir}

	out, errOut, code := runCLI(append([]string{"token", "create", "--project", "p1"}, flags...)...)
	require.Equal(t, 0, code, errOut)
	tok := strings.TrimSpace(out)
	require.True(t, strings.HasPrefix(tok, auth.TokenPrefix), out)
	require.Equal(t, tok+"\n", out, "stdout holds the token alone")
	require.Contains(t, errOut, "it is not shown again")
	p, err := n.Tokens().Authenticate(t.Context(), tok)
	require.NoError(t, err)
	require.Equal(t, auth.Principal{TokenID: p.TokenID, Project: "p1", Role: auth.RoleMember}, p)

	out, errOut, code = runCLI(append([]string{"token", "create", "--role", "admin", "-o", "json"}, flags...)...)
	require.Equal(t, 0, code, errOut)
	var created struct{ ID, Project, Role, Token string }
	require.NoError(t, json.Unmarshal([]byte(out), &created))
	require.Equal(t, "admin", created.Role)

	// list shows three tokens (the bootstrap admin, two made), no secret.
	out, errOut, code = runCLI(append([]string{"token", "list"}, flags...)...)
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, out)
	require.Regexp(t, `^ID\s+PROJECT\s+ROLE\s+CREATED$`, lines[0])
	require.Regexp(t, p.TokenID+`\s+p1\s+member\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`, out)
	require.NotContains(t, out, tok)
	require.NotContains(t, out, created.Token)

	// A member token may not manage tokens.
	_, errOut, code = runCLI(append([]string{"token", "list", "--token", tok}, flags...)...)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "HTTP 403")

	out, errOut, code = runCLI(append([]string{"token", "revoke", p.TokenID}, flags...)...)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "revoked "+p.TokenID+"\n", out)
	_, err = n.Tokens().Authenticate(t.Context(), tok)
	require.ErrorIs(t, err, auth.ErrUnauthorized)

	_, errOut, code = runCLI(append([]string{"token", "revoke", p.TokenID}, flags...)...)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "HTTP 404")
	require.Contains(t, errOut, "unknown token")
}

func TestTokenCreateErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"member without project", []string{"token", "create"}, "a member token needs a project"},
		{"bad role", []string{"token", "create", "--project", "p", "--role", "root"}, `role "root"`},
		{"bad output", []string{"token", "list", "-o", "xml"}, `bad --output "xml"`},
		{"revoke without ID", []string{"token", "revoke"}, "want one token ID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			out, errOut, code := runCLI(append(tc.args, "--data-dir", dir, "--url", "http://127.0.0.1:1")...)
			require.Equal(t, 1, code, out)
			require.Contains(t, errOut, tc.wantErr)
			require.Empty(t, out)
		})
	}
}

// clusterAPI adapts the node for the API in tests (the agent's adapter
// also maps errors).
type clusterAPI struct{ n *cluster.Node }

func (c clusterAPI) Status(ctx context.Context) (any, error)     { return c.n.Status(ctx) }
func (c clusterAPI) Partitions(ctx context.Context) (any, error) { return c.n.Partitions(ctx), nil }
func (c clusterAPI) Join(ctx context.Context, id, addr string) error {
	return c.n.Join(ctx, id, addr)
}
func (c clusterAPI) Remove(ctx context.Context, id string) error { return c.n.Remove(ctx, id) }
func (c clusterAPI) Leave(ctx context.Context) error             { return c.n.Leave(ctx) }

func TestClusterCommands(t *testing.T) {
	t.Parallel()
	_, dir, n := tokenServer(t)
	srv := httptest.NewServer(api.New(api.Options{Auth: n.Tokens(), Cluster: clusterAPI{n}}).Handler())
	t.Cleanup(srv.Close)
	flags := []string{"--url", srv.URL, "--data-dir", dir}
	out, errOut, code := runCLI(append([]string{"cluster", "status"}, flags...)...)
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `leader:\s+cli `, out)
	require.Regexp(t, `cli\s+leader\s+127\.0\.0\.1:\d+`, out)
	out, errOut, code = runCLI(append([]string{"cluster", "members", "-o", "json"}, flags...)...)
	require.Equal(t, 0, code, errOut)
	var ms []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &ms))
	require.Len(t, ms, 1)
	require.Equal(t, "voter", ms[0]["suffrage"])
	require.Eventually(t, func() bool { return n.Epoch() >= 1 }, 10*time.Second, 20*time.Millisecond)
	out, errOut, code = runCLI(append([]string{"cluster", "partitions"}, flags...)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "epoch 1")
	_, errOut, code = runCLI(append([]string{"cluster", "join", "127.0.0.1:1"}, flags...)...)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "--id is required")
	_, errOut, code = runCLI(append([]string{"cluster", "leave"}, flags...)...)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "only member")
}
