package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"github.com/hashicorp/go-hclog"
)

// File names under the data directory.
const (
	TokensFile     = "tokens.json"
	AdminTokenFile = "admin-token"
	lockFile       = "tokens.lock"
)

// TokenPrefix starts every token, so a leaked one is easy to grep for.
const TokenPrefix = "alt_"

// fileVersion is the tokens.json format version.
const fileVersion = 1

// reloadInterval bounds how often a hit stats tokens.json.
const reloadInterval = time.Second

// racyWindow is how long after a write a matching stat is not trusted.
const racyWindow = 2 * time.Second

// openLockTimeout bounds Open's wait for another writer's lock.
const openLockTimeout = 10 * time.Second

// Token is a stored token as List shows it: never its secret.
type Token struct {
	ID      string    `json:"id"`
	Project string    `json:"project,omitempty"`
	Role    Role      `json:"role"`
	Created time.Time `json:"created"`
}

// Principal is who the token acts as.
func (t Token) Principal() Principal {
	return Principal{TokenID: t.ID, Project: t.Project, Role: t.Role}
}

// Record is one stored token: what tokens.json and the cluster state keep.
type Record struct {
	Token
	Hash string `json:"sha256"` // hex SHA-256 of the plaintext token
}

type tokensFile struct {
	Version int      `json:"version"`
	Tokens  []Record `json:"tokens"`
}

// Store holds the API tokens of one data directory. It is safe for
// concurrent use, and several Stores (in one process or several) may share
// a directory: writers serialise on a lock file.
type Store struct {
	dir string
	log hclog.Logger

	mu      sync.Mutex
	byHash  map[string]Record
	stamp   os.FileInfo // tokens.json as last read; nil when absent
	checked time.Time   // last stat of tokens.json
}

// Open loads the tokens of dataDir, creating the directory if needed. On
// first open (no admin-token file) it issues an admin token and writes its
// plaintext to <dataDir>/admin-token, mode 0600.
func Open(dataDir string, log hclog.Logger) (*Store, error) {
	if dataDir == "" {
		return nil, fmt.Errorf("open token store: %w: empty data directory", ErrInvalidArgument)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("open token store: %w", err)
	}
	s := &Store{dir: dataDir, log: log.Named("auth")}
	ctx, cancel := context.WithTimeout(context.Background(), openLockTimeout)
	defer cancel()
	if err := s.bootstrap(ctx); err != nil {
		return nil, fmt.Errorf("open token store %s: %w", dataDir, err)
	}
	return s, nil
}

// bootstrap loads tokens.json and writes the admin token if there is none.
func (s *Store) bootstrap(ctx context.Context) error {
	adminPath := filepath.Join(s.dir, AdminTokenFile)
	if _, err := os.Stat(adminPath); err == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.reloadLocked(true)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return s.update(ctx, func(f *tokensFile) error {
		// Re-check under the lock: another process may have won the race.
		if _, err := os.Stat(adminPath); err == nil {
			return errNoChange
		}
		plain, rec, err := NewRecord("", RoleAdmin)
		if err != nil {
			return err
		}
		f.Tokens = append(f.Tokens, rec)
		// The record goes to disk before the plaintext: a crash in between
		// leaves an unused admin record, and the next Open issues another.
		if err := writeTokens(s.dir, f); err != nil {
			return err
		}
		if err := writeFileAtomic(s.dir, AdminTokenFile, []byte(plain+"\n")); err != nil {
			return err
		}
		s.log.Info("wrote admin token", "path", adminPath, "token_id", rec.ID)
		return errWritten
	})
}

// Authenticate resolves token to its Principal, or ErrUnauthorized when
// token is empty, unknown or revoked.
func (s *Store) Authenticate(ctx context.Context, token string) (Principal, error) {
	if err := ctx.Err(); err != nil {
		return Principal{}, err
	}
	if token == "" {
		return Principal{}, ErrUnauthorized
	}
	h := HashToken(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.checked) >= reloadInterval {
		s.reloadQuiet()
	}
	rec, ok := s.lookupLocked(h)
	if !ok {
		// A token created by another process a moment ago: look again.
		s.reloadQuiet()
		if rec, ok = s.lookupLocked(h); !ok {
			return Principal{}, ErrUnauthorized
		}
	}
	return rec.Principal(), nil
}

func (s *Store) lookupLocked(h string) (Record, bool) {
	rec, ok := s.byHash[h]
	if !ok {
		return Record{}, false
	}
	// The map lookup already matched; this keeps the final comparison
	// constant-time whatever the map does.
	if subtle.ConstantTimeCompare([]byte(rec.Hash), []byte(h)) != 1 {
		return Record{}, false
	}
	return rec, true
}

// reloadQuiet rereads tokens.json if it changed; on error it keeps the tokens
// it had and logs.
func (s *Store) reloadQuiet() {
	if err := s.reloadLocked(false); err != nil {
		s.log.Error("reload tokens", "error", err)
	}
}

// reloadLocked rereads tokens.json when its identity, size or mtime changed
// (or always, with force). s.mu must be held.
func (s *Store) reloadLocked(force bool) error {
	path := filepath.Join(s.dir, TokensFile)
	s.checked = time.Now()
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		s.byHash, s.stamp = map[string]Record{}, nil
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	// A file changed within racyWindow may share size and (coarse) mtime
	// with its predecessor, and even reuse its inode: reread it anyway.
	if !force && sameStamp(s.stamp, fi) && time.Since(fi.ModTime()) > racyWindow {
		return nil
	}
	f, fi, err := readTokens(s.dir)
	if err != nil {
		return err
	}
	s.setLocked(f, fi)
	s.log.Debug("loaded tokens", "count", len(f.Tokens))
	return nil
}

func (s *Store) setLocked(f *tokensFile, fi os.FileInfo) {
	m := make(map[string]Record, len(f.Tokens))
	for _, r := range f.Tokens {
		m[r.Hash] = r
	}
	s.byHash, s.stamp = m, fi
}

func sameStamp(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// Create issues a token and returns its plaintext, which is not stored and
// cannot be shown again. A member token needs a project; an admin token may
// have one.
func (s *Store) Create(ctx context.Context, project string, role Role) (string, Principal, error) {
	if err := Validate(project, role); err != nil {
		return "", Principal{}, fmt.Errorf("create token: %w", err)
	}
	var (
		plain string
		rec   Record
	)
	err := s.update(ctx, func(f *tokensFile) error {
		var err error
		plain, rec, err = NewRecord(project, role)
		if err != nil {
			return err
		}
		f.Tokens = append(f.Tokens, rec)
		return nil
	})
	if err != nil {
		return "", Principal{}, fmt.Errorf("create token: %w", err)
	}
	s.log.Info("created token", "token_id", rec.ID, "project", project, "role", string(role))
	return plain, rec.Principal(), nil
}

// List returns every live token, oldest first, as currently on disk.
func (s *Store) List(ctx context.Context) ([]Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reloadLocked(false); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out := make([]Token, 0, len(s.byHash))
	for _, r := range s.byHash {
		out = append(out, r.Token)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Revoke deletes the token with this ID; it returns ErrUnknownToken if there
// is none. Revoking the bootstrap admin token also removes the admin-token
// file, so the next Open issues a fresh one.
func (s *Store) Revoke(ctx context.Context, id string) error {
	adminPath := filepath.Join(s.dir, AdminTokenFile)
	err := s.update(ctx, func(f *tokensFile) error {
		var gone *Record
		kept := make([]Record, 0, len(f.Tokens))
		for i, r := range f.Tokens {
			if r.ID == id {
				gone = &f.Tokens[i]
				continue
			}
			kept = append(kept, r)
		}
		if gone == nil {
			return fmt.Errorf("%w: %q", ErrUnknownToken, id)
		}
		hash := gone.Hash
		f.Tokens = kept
		if err := writeTokens(s.dir, f); err != nil {
			return err
		}
		if b, err := os.ReadFile(adminPath); err == nil && HashToken(strings.TrimSpace(string(b))) == hash {
			if err := os.Remove(adminPath); err != nil {
				return fmt.Errorf("remove %s: %w", adminPath, err)
			}
			s.log.Info("removed revoked admin token file", "path", adminPath)
		}
		return errWritten
	})
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	s.log.Info("revoked token", "token_id", id)
	return nil
}

// errNoChange and errWritten let an update function skip the write, or
// report that it wrote the file itself.
var (
	errNoChange = errors.New("no change")
	errWritten  = errors.New("written")
)

// update applies fn to the tokens on disk under the cross-process lock and
// writes the result atomically, then adopts it in memory.
func (s *Store) update(ctx context.Context, fn func(*tokensFile) error) error {
	unlock, err := lock(ctx, filepath.Join(s.dir, lockFile))
	if err != nil {
		return err
	}
	defer unlock()
	f, _, err := readTokens(s.dir)
	if err != nil {
		return err
	}
	switch err := fn(f); {
	case errors.Is(err, errNoChange), errors.Is(err, errWritten):
	case err != nil:
		return err
	default:
		if err := writeTokens(s.dir, f); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloadLocked(true)
}

// lock takes an exclusive flock on path, polling so ctx can end the wait.
func lock(ctx context.Context, path string) (func(), error) {
	fd, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	try := func() error { return syscall.Flock(int(fd.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) }
	err = try()
	if errors.Is(err, syscall.EWOULDBLOCK) {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for errors.Is(err, syscall.EWOULDBLOCK) {
			select {
			case <-ctx.Done():
				_ = fd.Close()
				return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
			case <-t.C:
				err = try()
			}
		}
	}
	if err != nil {
		_ = fd.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(fd.Fd()), syscall.LOCK_UN)
		_ = fd.Close()
	}, nil
}

// readTokens reads tokens.json; a missing file is an empty set.
func readTokens(dir string) (*tokensFile, os.FileInfo, error) {
	path := filepath.Join(dir, TokensFile)
	fd, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &tokensFile{Version: fileVersion}, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer func() { _ = fd.Close() }()
	fi, err := fd.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("stat %s: %w", path, err)
	}
	var f tokensFile
	dec := json.NewDecoder(fd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, nil, fmt.Errorf("decode %s: %w", path, err)
	}
	if f.Version != fileVersion {
		return nil, nil, fmt.Errorf("decode %s: unsupported version %d (want %d)", path, f.Version, fileVersion)
	}
	for i, r := range f.Tokens {
		if err := r.Check(); err != nil {
			return nil, nil, fmt.Errorf("decode %s: token %d: %w", path, i, err)
		}
	}
	return &f, fi, nil
}

func writeTokens(dir string, f *tokensFile) error {
	f.Version = fileVersion
	if f.Tokens == nil {
		f.Tokens = []Record{}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode tokens: %w", err)
	}
	return writeFileAtomic(dir, TokensFile, append(b, '\n'))
}

// writeFileAtomic writes dir/name with mode 0600 through a synced temp file
// and a rename, so readers see the old or the new content, never a part.
func writeFileAtomic(dir, name string, data []byte) error {
	path := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// NewRecord makes a token: 32 random bytes, printed as alt_ + base64url.
// It returns the plaintext (shown once, never stored) and the record.
func NewRecord(project string, role Role) (string, Record, error) {
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", Record{}, fmt.Errorf("random token: %w", err)
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", Record{}, fmt.Errorf("random token id: %w", err)
	}
	plain := TokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	rec := Record{
		Token: Token{
			ID:      hex.EncodeToString(id[:]),
			Project: project,
			Role:    role,
			Created: time.Now().UTC().Truncate(time.Second),
		},
		Hash: HashToken(plain),
	}
	return plain, rec, nil
}

// HashToken is the hex SHA-256 of a token's plaintext, as records keep it.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Validate checks a role and the project it needs.
func Validate(project string, role Role) error {
	switch role {
	case RoleAdmin, RoleMember:
	default:
		return fmt.Errorf("%w: role %q (want %q or %q)", ErrInvalidArgument, role, RoleMember, RoleAdmin)
	}
	if role == RoleMember && project == "" {
		return fmt.Errorf("%w: a member token needs a project", ErrInvalidArgument)
	}
	if len(project) > 255 {
		return fmt.Errorf("%w: project longer than 255 bytes", ErrInvalidArgument)
	}
	if strings.IndexFunc(project, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return fmt.Errorf("%w: project %q has spaces or control characters", ErrInvalidArgument, project)
	}
	return nil
}
