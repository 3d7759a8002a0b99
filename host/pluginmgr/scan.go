package pluginmgr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/altimeter/altimeter/sdk"
	"github.com/altimeter/altimeter/sdk/base"
)

// FilePrefix starts the file name of every plugin executable:
// altimeter-<kind>-<name>.
const FilePrefix = "altimeter-"

// errDescribeTimeout is a Describe run that did not finish in time.
var errDescribeTimeout = errors.New("no answer")

type cacheEntry struct {
	size  int64
	mtime time.Time
	ino   uint64
	ctime time.Time
	sha   string
	bin   *Binary
	err   error // a bad binary stays bad until it changes
}

func (ce *cacheEntry) matches(c candidate) bool {
	ino, ctime := fileChanged(c.fi)
	return ce.size == c.fi.Size() && ce.mtime.Equal(c.fi.ModTime()) && ce.ino == ino && ce.ctime.Equal(ctime) &&
		(ce.bin == nil || ce.bin.Kind == c.kind && ce.bin.Name == c.name)
}

type candidate struct {
	path string
	kind base.Kind
	name string
	fi   os.FileInfo
	pins pinSet
}

// Scan lists the executables named altimeter-<kind>-<name> in the plugin
// directory and fingerprints each by running it without the magic cookie
// and parsing the Describe JSON it prints (DescribeTimeout each, in a
// process group of its own that is killed afterwards, so nothing it forked
// is left behind). Results are cached by path and file identity.
//
// Before anything runs, the policy (SetPolicy) is applied: the directory,
// the directories above it and each binary must not be changeable by a
// user other than root or the agent's, and a pinned binary (a Pin, or a
// line of ChecksumsFile) must have the pinned SHA-256 digest; a binary
// ChecksumsFile does not list is refused. A refused plugin is reported
// with a *RefusedError, which Describe and Launch then return for it too.
//
// A file that looks like a plugin but cannot be used is reported in the
// error slice and left out; other files are ignored. The returned binaries
// replace those of the previous Scan.
func (m *Manager) Scan(ctx context.Context) ([]*Binary, []error) {
	m.scanMu.Lock()
	defer m.scanMu.Unlock()
	m.mu.Lock()
	pol := m.policy
	m.mu.Unlock()

	refused, ignored := map[binKey]error{}, map[binKey]error{}
	bins, errs, dirErr := m.scan(ctx, pol, refused, ignored)
	if dirErr != nil {
		errs = append([]error{dirErr}, errs...)
	}
	for _, err := range errs {
		m.log.Warn("bad plugin binary", "error", err)
	}
	m.log.Debug("scanned plugin directory", "dir", m.opts.Dir, "plugins", len(bins), "bad", len(errs))
	byKey := make(map[binKey]*Binary, len(bins))
	for _, b := range bins {
		byKey[binKey{b.Kind, b.Name}] = b
	}
	m.mu.Lock()
	m.bins, m.refused, m.ignored, m.dirErr, m.scanned = byKey, refused, ignored, dirErr, true
	m.mu.Unlock()
	return bins, errs
}

// scan is Scan without the bookkeeping. dirErr is set when no plugin of the
// directory can be used. refused gets the binaries a policy refused, ignored
// why other binaries named for a kind and name cannot be used.
func (m *Manager) scan(ctx context.Context, pol Policy, refused, ignored map[binKey]error) (bins []*Binary, errs []error, dirErr error) {
	if err := m.checkDir(m.opts.Dir, pol); err != nil {
		return nil, nil, err
	}
	real, err := filepath.EvalSymlinks(m.opts.Dir)
	if err != nil {
		return nil, nil, fmt.Errorf("scan plugin directory: %w", err)
	}
	m.realDir, _ = filepath.Abs(real)
	entries, err := os.ReadDir(m.opts.Dir)
	if err != nil {
		return nil, nil, fmt.Errorf("scan plugin directory: %w", err)
	}
	sums, errs := m.readChecksums(m.opts.Dir, pol)
	pins := pinsByBinary(pol.Pins, sums)
	var cands []candidate
	found := map[binKey]bool{}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), FilePrefix)
		if !ok {
			continue
		}
		path := filepath.Join(m.opts.Dir, e.Name())
		kindStr, name, ok := strings.Cut(rest, "-")
		if !ok || name == "" {
			m.log.Debug("ignore file in plugin directory", "path", path)
			continue
		}
		fi, err := os.Stat(path) // follows symlinks
		if err != nil {
			errs = append(errs, fmt.Errorf("plugin %s: %w", path, err))
			continue
		}
		if !fi.Mode().IsRegular() {
			m.log.Debug("ignore non-regular file in plugin directory", "path", path)
			continue
		}
		kind, err := base.ParseKind(kindStr)
		if err != nil {
			errs = append(errs, fmt.Errorf("plugin %s: %w", path, err))
			continue
		}
		key := binKey{kind, name}
		found[key] = true
		refuse := func(err error) {
			refused[key] = err
			errs = append(errs, fmt.Errorf("plugin %w", err))
		}
		if fi.Mode().Perm()&0o111 == 0 {
			err := fmt.Errorf("plugin %s: not executable (mode %s)", path, fi.Mode().Perm())
			ignored[key] = err
			errs = append(errs, err)
			continue
		}
		if err := m.checkPerms(path, fi, "plugin binary", pol); err != nil {
			refuse(err)
			continue
		}
		if _, listed := sums[e.Name()]; sums != nil && !listed {
			refuse(&RefusedError{Path: path, Reason: fmt.Sprintf(
				"not listed in %s: a binary nobody vouched for is not run (add its line: sha256sum %s >> %s)",
				filepath.Join(m.opts.Dir, ChecksumsFile), e.Name(), ChecksumsFile)})
			continue
		}
		cands = append(cands, candidate{path: path, kind: kind, name: name, fi: fi, pins: pins[key]})
	}
	for k, ps := range pins {
		if !found[k] {
			errs = append(errs, fmt.Errorf("pinned plugin %s %q (at %s): no binary %s%s-%s in %s",
				k.kind, k.name, ps[0].Source, FilePrefix, k.kind, k.name, m.opts.Dir))
		}
	}

	results := make([]*Binary, len(cands))
	candErrs := make([]error, len(cands))
	shas := make([]string, len(cands))
	transient := make([]bool, len(cands)) // timeouts and cancellation: retry next Scan
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for n, c := range cands {
		ce, cached := m.cache[c.path]
		cached = cached && ce.matches(c)
		if cached && len(c.pins) == 0 {
			results[n], candErrs[n], shas[n] = ce.bin, ce.err, ce.sha
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			// The digest comes first: a pinned binary that does not match
			// is never run, not even for Describe.
			sum, err := fileSHA256(c.path)
			if err != nil {
				candErrs[n] = fmt.Errorf("plugin %s: %w", c.path, err)
				return
			}
			shas[n] = sum
			if err := c.pins.check(c.path, sum); err != nil {
				candErrs[n] = fmt.Errorf("plugin %w", err)
				return
			}
			if cached && ce.sha == sum {
				results[n], candErrs[n] = ce.bin, ce.err
				return
			}
			b, err := m.fingerprint(ctx, c)
			if err != nil && ctx.Err() != nil {
				err = ctx.Err() // the caller gave up: not the binary's fault
			}
			transient[n] = errors.Is(err, errDescribeTimeout) || ctx.Err() != nil
			if err != nil {
				candErrs[n] = fmt.Errorf("plugin %s: %w", c.path, err)
				return
			}
			b.SHA256 = sum
			results[n] = b
		})
	}
	wg.Wait()

	bins = make([]*Binary, 0, len(cands))
	for n, c := range cands {
		b := results[n]
		switch {
		case errors.Is(candErrs[n], ErrRefused):
			// Refused by a pin, which may change: the cache keeps what it
			// knows of the binary.
			refused[binKey{c.kind, c.name}] = candErrs[n]
		case transient[n]:
			delete(m.cache, c.path)
		default:
			ino, ctime := fileChanged(c.fi)
			m.cache[c.path] = cacheEntry{size: c.fi.Size(), mtime: c.fi.ModTime(), ino: ino, ctime: ctime,
				sha: shas[n], bin: b, err: candErrs[n]}
		}
		if candErrs[n] != nil {
			if !errors.Is(candErrs[n], ErrRefused) {
				ignored[binKey{c.kind, c.name}] = candErrs[n]
			}
			errs = append(errs, candErrs[n])
			continue
		}
		if len(c.pins) > 0 {
			pinned := *b
			pinned.pins = c.pins
			b = &pinned
		}
		bins = append(bins, b)
	}
	sortBinaries(bins)
	return bins, errs, nil
}

func (m *Manager) fingerprint(ctx context.Context, c candidate) (*Binary, error) {
	ctx, cancel := context.WithTimeout(ctx, m.opts.DescribeTimeout)
	defer cancel()
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = 4<<20, 4<<10
	cmd := exec.CommandContext(ctx, c.path)
	cmd.Env = withoutEnv(os.Environ(), sdk.Handshake.MagicCookieKey)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	pidfd := setSysProcAttr(cmd)
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	err := cmd.Start()
	if err == nil {
		pid := cmd.Process.Pid
		// Once the binary exits, what it forked goes too: a child holding
		// stdout would keep Wait waiting, and would be left an orphan.
		if !watchLeader(*pidfd, func() { _ = killGroup(pid) }) {
			defer func() { _ = killGroup(pid) }()
		}
		err = cmd.Wait()
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("describe: %w within %s", errDescribeTimeout, m.opts.DescribeTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("describe: %w%s", err, stderrSuffix(stderr.String()))
	}
	info, err := base.DescribeFromJSON(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("not an altimeter plugin: %w%s", err, stderrSuffix(stderr.String()))
	}
	if info.Kind != c.kind || info.Name != c.name {
		return nil, fmt.Errorf("file name says %s %q but the plugin describes itself as %s %q", c.kind, c.name, info.Kind, info.Name)
	}
	if _, ok := base.PluginSets()[int(info.ProtocolVersion)]; !ok {
		return nil, fmt.Errorf("plugin speaks protocol version %d, host speaks %d (rebuild the plugin against a matching sdk)", info.ProtocolVersion, sdk.ProtocolVersion)
	}
	return &Binary{Kind: c.kind, Name: c.name, Path: c.path, Info: info}, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("checksum: %w", err)
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("checksum: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func withoutEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func stderrSuffix(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	return " (stderr: " + s + ")"
}

func sortBinaries(bs []*Binary) {
	sort.Slice(bs, func(a, b int) bool {
		if bs[a].Kind != bs[b].Kind {
			return bs[a].Kind < bs[b].Kind
		}
		return bs[a].Name < bs[b].Name
	})
}

// limitedBuffer keeps the first max bytes written to it and drops the rest.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
