package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/auth"
)

func TestTokenCommands(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")

	// create on a fresh directory: writes the admin token too.
	out, errOut, code := runCLI("token", "create", "--project", "p1", "--data-dir", dir)
	require.Equal(t, 0, code, errOut)
	tok := strings.TrimSpace(out)
	require.True(t, strings.HasPrefix(tok, auth.TokenPrefix), out)
	require.Equal(t, tok+"\n", out, "stdout holds the token alone")
	require.Contains(t, errOut, "wrote a new admin token to "+filepath.Join(dir, "admin-token"))
	require.Contains(t, errOut, "it is not shown again")

	// The agent's store (opened separately) accepts it.
	s, err := auth.Open(dir, hclog.NewNullLogger())
	require.NoError(t, err)
	p, err := s.Authenticate(t.Context(), tok)
	require.NoError(t, err)
	require.Equal(t, auth.Principal{TokenID: p.TokenID, Project: "p1", Role: auth.RoleMember}, p)
	for _, name := range []string{"admin-token", "tokens.json"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), name)
	}

	// JSON create of an admin token.
	out, errOut, code = runCLI("token", "create", "--role", "admin", "-o", "json", "--data-dir", dir)
	require.Equal(t, 0, code, errOut)
	var created struct{ ID, Project, Role, Token string }
	require.NoError(t, json.Unmarshal([]byte(out), &created))
	require.Equal(t, "admin", created.Role)
	ap, err := s.Authenticate(t.Context(), created.Token)
	require.NoError(t, err)
	require.True(t, ap.IsAdmin())

	// list shows three tokens, never a secret.
	out, errOut, code = runCLI("token", "list", "--data-dir", dir)
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, out)
	require.Regexp(t, `^ID\s+PROJECT\s+ROLE\s+CREATED$`, lines[0])
	require.Contains(t, out, p.TokenID)
	require.Regexp(t, p.TokenID+`\s+p1\s+member\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`, out)
	require.NotContains(t, out, tok)
	require.NotContains(t, out, created.Token)

	out, _, code = runCLI("token", "list", "-o", "json", "--data-dir", dir)
	require.Equal(t, 0, code)
	var listed []auth.Token
	require.NoError(t, json.Unmarshal([]byte(out), &listed))
	require.Len(t, listed, 3)

	// revoke: the running store refuses the token from now on.
	out, errOut, code = runCLI("token", "revoke", p.TokenID, "--data-dir", dir)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "revoked "+p.TokenID+"\n", out)
	require.Eventually(t, func() bool {
		_, err := s.Authenticate(t.Context(), tok)
		return err != nil
	}, 5e9, 2e7)
	_, err = s.Authenticate(t.Context(), tok)
	require.ErrorIs(t, err, auth.ErrUnauthorized)

	_, errOut, code = runCLI("token", "revoke", p.TokenID, "--data-dir", dir)
	require.Equal(t, 1, code)
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
			out, errOut, code := runCLI(append(tc.args, "--data-dir", dir)...)
			require.Equal(t, 1, code, out)
			require.Contains(t, errOut, tc.wantErr)
			require.Empty(t, out)
		})
	}
}
