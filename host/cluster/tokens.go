package cluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/altimeter/altimeter/host/auth"
	"github.com/altimeter/altimeter/host/cluster/fsm"
)

// Tokens is the API token store over the replicated state: it implements
// the API's Authenticator from the state this member applied (no network
// round trip), and issues and revokes through the leader, so a token made
// on any member works on every member and a revoke is refused on each as
// soon as it applies the entry (milliseconds on a healthy cluster; a
// member cut off from the leader keeps the state it had).
type Tokens struct{ n *Node }

// Tokens returns the member's token store.
func (n *Node) Tokens() *Tokens { return &Tokens{n: n} }

// Authenticate resolves token to its principal, or auth.ErrUnauthorized;
// before CatchUp, an unknown token is auth.ErrNotReady (it may be one the
// member has not replayed yet).
func (t *Tokens) Authenticate(ctx context.Context, token string) (auth.Principal, error) {
	if err := ctx.Err(); err != nil {
		return auth.Principal{}, err
	}
	if token == "" {
		return auth.Principal{}, auth.ErrUnauthorized
	}
	h := auth.HashToken(token)
	var (
		r  auth.Record
		ok bool
	)
	t.n.fsm.Read(func(st *fsm.State) { r, ok = fsm.TokensOf(st).Lookup(h) })
	if !ok {
		if !t.n.CaughtUp() {
			return auth.Principal{}, auth.ErrNotReady
		}
		return auth.Principal{}, auth.ErrUnauthorized
	}
	return r.Principal(), nil
}

// Create issues a token and returns its plaintext (shown once).
func (t *Tokens) Create(ctx context.Context, project string, role auth.Role) (string, auth.Principal, error) {
	if err := auth.Validate(project, role); err != nil {
		return "", auth.Principal{}, fmt.Errorf("create token: %w", err)
	}
	plain, rec, err := auth.NewRecord(project, role)
	if err != nil {
		return "", auth.Principal{}, err
	}
	if err := t.n.Apply(ctx, fsm.TokenCreate{Token: rec}); err != nil {
		return "", auth.Principal{}, fmt.Errorf("create token: %w", err)
	}
	return plain, rec.Principal(), nil
}

// List returns every live token, oldest first (never a secret).
func (t *Tokens) List(ctx context.Context) ([]auth.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []auth.Token
	t.n.fsm.Read(func(st *fsm.State) {
		for _, r := range fsm.TokensOf(st).List() {
			out = append(out, r.Token)
		}
	})
	if out == nil {
		out = []auth.Token{}
	}
	return out, nil
}

// Revoke deletes the token with id; auth.ErrUnknownToken if none.
func (t *Tokens) Revoke(ctx context.Context, id string) error {
	if err := t.n.Apply(ctx, fsm.TokenRevoke{ID: id}); err != nil {
		if errors.Is(err, fsm.ErrNotFound) && !errors.Is(err, auth.ErrUnknownToken) {
			err = fmt.Errorf("%w: %w", auth.ErrUnknownToken, err)
		}
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// importedSuffix is appended to tokens.json once its tokens are in the
// replicated state; the file is kept, never deleted.
const importedSuffix = ".imported"

// Bootstrap brings this member's local token files into the cluster once
// a leader is known: tokens.json (the store before the cluster) is
// imported and renamed tokens.json.imported; then, if dataDir has no
// admin-token, or its token is no longer valid in the cluster (revoked),
// a new admin token is issued and its plaintext written to
// <dataDir>/admin-token (mode 0600), after the record is committed.
func (t *Tokens) Bootstrap(ctx context.Context, dataDir string) error {
	log := t.n.log
	path := filepath.Join(dataDir, auth.TokensFile)
	recs, err := auth.ReadFile(dataDir)
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	if _, statErr := os.Stat(path); statErr == nil {
		if err := t.n.Apply(ctx, fsm.TokenImport{Tokens: recs}); err != nil {
			return fmt.Errorf("import %s: %w", path, err)
		}
		if err := os.Rename(path, path+importedSuffix); err != nil {
			return fmt.Errorf("import %s: keep as %s: %w", path, importedSuffix, err)
		}
		log.Info("imported tokens into the cluster", "count", len(recs), "kept_as", path+importedSuffix)
	}
	adminPath := filepath.Join(dataDir, auth.AdminTokenFile)
	b, err := os.ReadFile(adminPath)
	switch {
	case err == nil:
		if _, err := t.Authenticate(ctx, strings.TrimSpace(string(b))); err == nil {
			return nil
		}
		log.Warn("the admin token in the data dir is not valid in the cluster (revoked?); issuing a new one", "path", adminPath)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("read %s: %w", adminPath, err)
	}
	plain, p, err := t.Create(ctx, "", auth.RoleAdmin)
	if err != nil {
		return fmt.Errorf("issue admin token: %w", err)
	}
	if err := auth.WriteAdminToken(dataDir, plain); err != nil {
		return err
	}
	log.Info("wrote admin token", "path", adminPath, "token_id", p.TokenID)
	return nil
}
