package pluginmgr

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	plugin "github.com/hashicorp/go-plugin"

	"github.com/altimeter/altimeter/sdk/base"
)

// ChecksumsFile is the optional file in the plugin directory that lists the
// SHA-256 digest of plugin binaries in sha256sum's format ("<digest>
// <file name>" per line, as `sha256sum altimeter-* > SHA256SUMS` writes
// it). When it exists, a plugin binary it does not list, or whose digest
// differs, is refused.
const ChecksumsFile = "SHA256SUMS"

// maxChecksumsBytes bounds the checksums file (about 10,000 entries).
const maxChecksumsBytes = 1 << 20

// Pin requires the binary of plugin Kind/Name to have a SHA-256 digest.
type Pin struct {
	Kind base.Kind
	Name string
	// SHA256 is the digest, 64 lower-case hexadecimal digits.
	SHA256 string
	// Source says where the pin was declared, for messages
	// ("pipelines.hcl:12:12").
	Source string
}

// Policy is what Scan and Launch require of plugin binaries. The zero
// Policy is strict about permissions and pins nothing.
type Policy struct {
	// Pins are the digests binaries must have, checked at Scan (before the
	// binary is run for Describe) and again at each start (go-plugin's
	// SecureConfig). Pins from ChecksumsFile are added to these.
	Pins []Pin
	// AllowInsecurePermissions runs plugins from a directory, and
	// binaries, that a user other than root or the agent's could change
	// (writable by group or others, or owned by another user), with a
	// warning for each, instead of refusing them as OpenSSH refuses a key
	// file others can read.
	AllowInsecurePermissions bool
}

// SetPolicy sets the policy the next Scans apply. A Binary keeps the pin
// it was scanned with, for every start of its instances.
func (m *Manager) SetPolicy(p Policy) {
	p.Pins = append([]Pin(nil), p.Pins...)
	m.mu.Lock()
	m.policy = p
	m.mu.Unlock()
}

// RefusedError says why a plugin binary, or the whole plugin directory
// (Path is then the directory), is not run: loose permissions or a SHA-256
// digest other than the pinned one. It matches ErrRefused.
type RefusedError struct {
	Path   string
	Reason string
}

func (e *RefusedError) Error() string { return e.Path + ": " + e.Reason }

// Is makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Summary names the problem in a config diagnostic about a block that uses
// the plugin.
func (e *RefusedError) Summary() string { return "Plugin binary refused" }

// pinSet is every pin that applies to one binary.
type pinSet []Pin

// check compares digest with every pin; the first mismatch is an error.
func (ps pinSet) check(path, digest string) error {
	for _, p := range ps {
		if p.SHA256 != digest {
			return &RefusedError{Path: path, Reason: fmt.Sprintf(
				"sha256 mismatch: expected %s (pinned at %s), actual %s", p.SHA256, p.Source, digest)}
		}
	}
	return nil
}

// pinsByBinary groups the policy's pins and the checksums file's by binary.
func pinsByBinary(pins []Pin, sums map[string]Pin) map[binKey]pinSet {
	out := map[binKey]pinSet{}
	for _, p := range pins {
		k := binKey{p.Kind, p.Name}
		out[k] = append(out[k], p)
	}
	for _, p := range sums {
		k := binKey{p.Kind, p.Name}
		out[k] = append(out[k], p)
	}
	return out
}

// readChecksums reads ChecksumsFile in dir. It returns nil (and no errors)
// when there is none. Lines that are not "<64 hex digits> <name>" or
// "<digest> *<name>" are errors naming file and line; names that are not
// plugin binaries are ignored.
func (m *Manager) readChecksums(dir string, pol Policy) (map[string]Pin, []error) {
	path := filepath.Join(dir, ChecksumsFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return map[string]Pin{}, []error{fmt.Errorf("checksums: %w", err)}
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return map[string]Pin{}, []error{fmt.Errorf("checksums: %w", err)}
	}
	if err := m.checkPerms(path, fi, "checksums file", pol); err != nil {
		// A file others can rewrite vouches for nothing: refuse every
		// binary (an empty list), as a strict sha256sum -c would.
		return map[string]Pin{}, []error{err}
	}
	var errs []error
	out := map[string]Pin{}
	sc := bufio.NewScanner(io.LimitReader(f, maxChecksumsBytes))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		digest, name, ok := strings.Cut(line, " ")
		name = strings.TrimPrefix(strings.TrimPrefix(name, " "), "*")
		if !ok || !IsSHA256(digest) || name == "" {
			errs = append(errs, fmt.Errorf("%s:%d: want \"<sha256 digest>  <file name>\" as sha256sum prints it", path, n))
			continue
		}
		kind, pname, ok := parseFileName(filepath.Base(name))
		if !ok || filepath.Base(name) != name {
			continue
		}
		if prev, dup := out[name]; dup && prev.SHA256 != strings.ToLower(digest) {
			errs = append(errs, fmt.Errorf("%s:%d: %s listed again with another digest (first at %s)", path, n, name, prev.Source))
			continue
		}
		out[name] = Pin{Kind: kind, Name: pname, SHA256: strings.ToLower(digest), Source: fmt.Sprintf("%s:%d", path, n)}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("read %s: %w", path, err))
	}
	return out, errs
}

// IsSHA256 reports whether s is a SHA-256 digest in hex (either case).
func IsSHA256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// parseFileName splits altimeter-<kind>-<name>.
func parseFileName(file string) (base.Kind, string, bool) {
	rest, ok := strings.CutPrefix(file, FilePrefix)
	if !ok {
		return 0, "", false
	}
	kindStr, name, ok := strings.Cut(rest, "-")
	if !ok || name == "" {
		return 0, "", false
	}
	kind, err := base.ParseKind(kindStr)
	if err != nil {
		return 0, "", false
	}
	return kind, name, true
}

// secureConfig is go-plugin's launch-time check of a pinned binary.
func secureConfig(b *Binary) (*plugin.SecureConfig, error) {
	if len(b.pins) == 0 {
		return nil, nil
	}
	sum, err := hex.DecodeString(b.pins[0].SHA256)
	if err != nil {
		return nil, fmt.Errorf("pin of %s: %w", b.Path, err)
	}
	return &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}, nil
}

// checksumMismatch describes a pinned binary whose digest no longer
// matches, with the digest it has now.
func checksumMismatch(b *Binary, why string) error {
	actual, err := fileSHA256(b.Path)
	if err != nil {
		actual = "unknown (" + err.Error() + ")"
	}
	p := b.pins[0]
	return &RefusedError{Path: b.Path, Reason: fmt.Sprintf(
		"sha256 mismatch: expected %s (pinned at %s), actual %s: %s", p.SHA256, p.Source, actual, why)}
}
