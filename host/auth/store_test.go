package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
)

func testLogger(t *testing.T) hclog.Logger {
	t.Helper()
	w := &testWriter{t: t}
	t.Cleanup(w.close)
	return hclog.New(&hclog.LoggerOptions{Name: "test", Output: w, Level: hclog.Debug})
}

type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, testLogger(t))
	require.NoError(t, err)
	return s
}

func readAdmin(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, AdminTokenFile))
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

func requireMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, want, fi.Mode().Perm(), path)
}

func TestOpenWritesAdminToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // Open creates it
	s := openStore(t, dir)
	admin := readAdmin(t, dir)
	require.True(t, strings.HasPrefix(admin, TokenPrefix), admin)
	require.Len(t, admin, len(TokenPrefix)+43) // 32 bytes, base64url unpadded

	requireMode(t, filepath.Join(dir, AdminTokenFile), 0o600)
	requireMode(t, filepath.Join(dir, TokensFile), 0o600)

	raw, err := os.ReadFile(filepath.Join(dir, TokensFile))
	require.NoError(t, err)
	require.NotContains(t, string(raw), admin, "tokens.json holds the plaintext")
	require.NotContains(t, string(raw), strings.TrimPrefix(admin, TokenPrefix))
	require.Contains(t, string(raw), HashToken(admin))

	p, err := s.Authenticate(t.Context(), admin)
	require.NoError(t, err)
	require.True(t, p.IsAdmin())
	require.Equal(t, "", p.Scope())

	// A second open keeps the same admin token and issues no other.
	s2 := openStore(t, dir)
	require.Equal(t, admin, readAdmin(t, dir))
	list, err := s2.List(t.Context())
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, p.TokenID, list[0].ID)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.Contains(e.Name(), ".tmp"), "temp file left behind: %s", e.Name())
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	cases := []struct {
		name    string
		project string
		role    Role
		wantErr string
	}{
		{name: "member", project: "p1", role: RoleMember},
		{name: "admin without project", role: RoleAdmin},
		{name: "admin with project", project: "ops", role: RoleAdmin},
		{name: "member without project", role: RoleMember, wantErr: "a member token needs a project"},
		{name: "unknown role", project: "p1", role: "owner", wantErr: `role "owner"`},
		{name: "empty role", project: "p1", wantErr: `role ""`},
		{name: "project with space", project: "a b", role: RoleMember, wantErr: "spaces or control characters"},
		{name: "project with newline", project: "a\nb", role: RoleMember, wantErr: "spaces or control characters"},
		{name: "long project", project: strings.Repeat("x", 256), role: RoleMember, wantErr: "longer than 255"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok, p, err := s.Create(t.Context(), tc.project, tc.role)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalidArgument)
				require.ErrorContains(t, err, tc.wantErr)
				require.Empty(t, tok)
				return
			}
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(tok, TokenPrefix))
			require.Equal(t, Principal{TokenID: p.TokenID, Project: tc.project, Role: tc.role}, p)
			got, err := s.Authenticate(t.Context(), tok)
			require.NoError(t, err)
			require.Equal(t, p, got)
		})
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	member, mp, err := s.Create(t.Context(), "p1", RoleMember)
	require.NoError(t, err)
	cases := []struct {
		name  string
		token string
		want  Principal
		err   error
	}{
		{name: "member", token: member, want: mp},
		{name: "empty", token: "", err: ErrUnauthorized},
		{name: "unknown", token: TokenPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", err: ErrUnauthorized},
		{name: "member with trailing space", token: member + " ", err: ErrUnauthorized},
		{name: "hash of member instead of token", token: HashToken(member), err: ErrUnauthorized},
		{name: "garbage", token: "\x00\xff", err: ErrUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.Authenticate(t.Context(), tc.token)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, p)
			require.Equal(t, "p1", p.Scope())
			require.False(t, p.IsAdmin())
		})
	}
}

func TestConcurrentCreatesFromTwoStores(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := openStore(t, dir), openStore(t, dir)
	const perStore, workers = 15, 4
	var (
		mu     sync.Mutex
		tokens = map[string]Principal{}
		wg     sync.WaitGroup
		errs   = make(chan error, 2*workers*perStore)
	)
	for _, s := range []*Store{a, b} {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range perStore {
					tok, p, err := s.Create(context.Background(), "p", RoleMember)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					tokens[tok] = p
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, tokens, 2*workers*perStore)

	fresh := openStore(t, dir)
	list, err := fresh.List(t.Context())
	require.NoError(t, err)
	require.Len(t, list, 2*workers*perStore+1) // + the admin token
	for tok, want := range tokens {
		for _, s := range []*Store{a, b, fresh} {
			got, err := s.Authenticate(t.Context(), tok)
			require.NoError(t, err)
			require.Equal(t, want, got)
		}
	}
}

func TestSecondStoreSeesCreateAndRevoke(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writer, reader := openStore(t, dir), openStore(t, dir)

	tok, p, err := writer.Create(t.Context(), "p1", RoleMember)
	require.NoError(t, err)
	// A miss rereads the file at once: no wait for the reload interval.
	got, err := reader.Authenticate(t.Context(), tok)
	require.NoError(t, err)
	require.Equal(t, p, got)

	require.NoError(t, writer.Revoke(t.Context(), p.TokenID))
	_, err = writer.Authenticate(t.Context(), tok)
	require.ErrorIs(t, err, ErrUnauthorized)
	// The reader still holds the token in memory; it must notice the
	// revocation within its reload interval (1 s).
	start := time.Now()
	require.Eventually(t, func() bool {
		_, err := reader.Authenticate(context.Background(), tok)
		return errors.Is(err, ErrUnauthorized)
	}, 5*time.Second, 20*time.Millisecond)
	t.Logf("revocation seen by second store after %s", time.Since(start).Round(time.Millisecond))

	list, err := reader.List(t.Context())
	require.NoError(t, err)
	for _, tk := range list {
		require.NotEqual(t, p.TokenID, tk.ID)
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	tok, p, err := s.Create(t.Context(), "p1", RoleMember)
	require.NoError(t, err)

	err = s.Revoke(t.Context(), "nope")
	require.ErrorIs(t, err, ErrUnknownToken)

	require.NoError(t, s.Revoke(t.Context(), p.TokenID))
	_, err = s.Authenticate(t.Context(), tok)
	require.ErrorIs(t, err, ErrUnauthorized)
	require.ErrorIs(t, s.Revoke(t.Context(), p.TokenID), ErrUnknownToken, "revoked twice")
	requireMode(t, filepath.Join(dir, TokensFile), 0o600)

	// Revoking the bootstrap admin token removes admin-token, and the next
	// Open issues a new one.
	admin := readAdmin(t, dir)
	ap, err := s.Authenticate(t.Context(), admin)
	require.NoError(t, err)
	require.NoError(t, s.Revoke(t.Context(), ap.TokenID))
	_, err = os.Stat(filepath.Join(dir, AdminTokenFile))
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = s.Authenticate(t.Context(), admin)
	require.ErrorIs(t, err, ErrUnauthorized)

	s2 := openStore(t, dir)
	admin2 := readAdmin(t, dir)
	require.NotEqual(t, admin, admin2)
	p2, err := s2.Authenticate(t.Context(), admin2)
	require.NoError(t, err)
	require.True(t, p2.IsAdmin())
}

func TestOpenRejectsBadFile(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		content string
		wantErr string
	}{
		{name: "not json", content: "{", wantErr: "decode"},
		{name: "wrong version", content: `{"version":9,"tokens":[]}`, wantErr: "unsupported version 9"},
		{name: "bad hash", content: `{"version":1,"tokens":[{"id":"x","role":"admin","created":"2026-01-01T00:00:00Z","sha256":"zz"}]}`, wantErr: "hash is not a hex SHA-256"},
		{name: "bad role", content: `{"version":1,"tokens":[{"id":"x","role":"root","created":"2026-01-01T00:00:00Z","sha256":"` + HashToken("t") + `"}]}`, wantErr: `role "root"`},
		{name: "unknown field", content: `{"version":1,"tokens":[],"plain":"x"}`, wantErr: "unknown field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, TokensFile), []byte(tc.content), 0o600))
			_, err := Open(dir, testLogger(t))
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
	_, err := Open("", hclog.NewNullLogger())
	require.ErrorIs(t, err, ErrInvalidArgument)
}

func TestCreateHonoursContextWhileLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	unlock, err := lock(t.Context(), filepath.Join(dir, lockFile))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, _, err = s.Create(ctx, "p", RoleMember)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	unlock()
	_, _, err = s.Create(t.Context(), "p", RoleMember)
	require.NoError(t, err)
}

func TestTokensFileShape(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	tok, p, err := s.Create(t.Context(), "p1", RoleMember)
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(dir, TokensFile))
	require.NoError(t, err)
	var f struct {
		Version int              `json:"version"`
		Tokens  []map[string]any `json:"tokens"`
	}
	require.NoError(t, json.Unmarshal(raw, &f))
	require.Equal(t, 1, f.Version)
	require.Len(t, f.Tokens, 2)
	m := f.Tokens[1]
	require.Equal(t, p.TokenID, m["id"])
	require.Equal(t, "p1", m["project"])
	require.Equal(t, "member", m["role"])
	require.Equal(t, HashToken(tok), m["sha256"])
	_, err = time.Parse(time.RFC3339, m["created"].(string))
	require.NoError(t, err)
}

// helperEnv makes the test binary a token-creating child process (see
// TestHelperProcess), so writers in separate processes can be raced.
const helperEnv = "ALTIMETER_AUTH_TEST_HELPER_DIR"

// TestHelperProcess is not a test: run by TestConcurrentCreatesAcrossProcesses
// as a child, it creates tokens in $ALTIMETER_AUTH_TEST_HELPER_DIR and prints
// them one a line.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	s, err := Open(dir, hclog.NewNullLogger())
	require.NoError(t, err)
	for range 25 {
		tok, _, err := s.Create(context.Background(), "child", RoleMember)
		require.NoError(t, err)
		_, err = os.Stdout.WriteString(tok + "\n")
		require.NoError(t, err)
	}
}

func TestConcurrentCreatesAcrossProcesses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var (
		wg   sync.WaitGroup
		outs [2]bytes.Buffer
		errs [2]error
	)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperEnv+"="+dir)
			cmd.Stdout = &outs[i]
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("child %d: %w: %s", i, err, stderr.String())
			}
		}()
	}
	// This process writes too, while the children run.
	s := openStore(t, dir)
	var mine []string
	for range 25 {
		tok, _, err := s.Create(t.Context(), "parent", RoleMember)
		require.NoError(t, err)
		mine = append(mine, tok)
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs[:]...))

	all := mine
	for _, o := range outs {
		for _, line := range strings.Split(strings.TrimSpace(o.String()), "\n") {
			if strings.HasPrefix(line, TokenPrefix) {
				all = append(all, line)
			}
		}
	}
	require.Len(t, all, 75)
	fresh := openStore(t, dir)
	list, err := fresh.List(t.Context())
	require.NoError(t, err)
	require.Len(t, list, 76) // + one admin token, however the race for it went
	for _, tok := range all {
		_, err := s.Authenticate(t.Context(), tok)
		require.NoError(t, err)
	}
}
