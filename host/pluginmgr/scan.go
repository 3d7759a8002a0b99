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

var errDescribeTimeout = fmt.Errorf("no answer within %s", describeTimeout)

type cacheEntry struct {
	size  int64
	mtime time.Time
	bin   *Binary
	err   error // a bad binary stays bad until it changes
}

type candidate struct {
	path string
	kind base.Kind
	name string
	fi   os.FileInfo
}

// Scan lists the executables named altimeter-<kind>-<name> in the plugin
// directory and fingerprints each by running it without the magic cookie
// and parsing the Describe JSON it prints (5 s timeout each). Results are
// cached by path, size and modification time. A file that looks like a
// plugin but cannot be fingerprinted is reported in the error slice and left
// out; other files are ignored. The returned binaries replace those of the
// previous Scan.
func (m *Manager) Scan(ctx context.Context) ([]*Binary, []error) {
	m.scanMu.Lock()
	defer m.scanMu.Unlock()

	entries, err := os.ReadDir(m.opts.Dir)
	if err != nil {
		return nil, []error{fmt.Errorf("scan plugin directory: %w", err)}
	}
	var (
		errs  []error
		cands []candidate
	)
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
		if fi.Mode().Perm()&0o111 == 0 {
			errs = append(errs, fmt.Errorf("plugin %s: not executable (mode %s)", path, fi.Mode().Perm()))
			continue
		}
		cands = append(cands, candidate{path: path, kind: kind, name: name, fi: fi})
	}

	results := make([]*Binary, len(cands))
	candErrs := make([]error, len(cands))
	transient := make([]bool, len(cands)) // timeouts and cancellation: retry next Scan
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for n, c := range cands {
		if ce, ok := m.cache[c.path]; ok && ce.size == c.fi.Size() && ce.mtime.Equal(c.fi.ModTime()) &&
			(ce.bin == nil || ce.bin.Kind == c.kind && ce.bin.Name == c.name) {
			results[n], candErrs[n] = ce.bin, ce.err
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			b, err := m.fingerprint(ctx, c)
			if err != nil && ctx.Err() != nil {
				err = ctx.Err() // the caller gave up: not the binary's fault
			}
			transient[n] = errors.Is(err, errDescribeTimeout) || ctx.Err() != nil
			if err != nil {
				candErrs[n] = fmt.Errorf("plugin %s: %w", c.path, err)
				return
			}
			results[n] = b
		})
	}
	wg.Wait()

	bins := make([]*Binary, 0, len(cands))
	byKey := make(map[binKey]*Binary, len(cands))
	for n, c := range cands {
		b := results[n]
		if transient[n] {
			delete(m.cache, c.path)
		} else {
			m.cache[c.path] = cacheEntry{size: c.fi.Size(), mtime: c.fi.ModTime(), bin: b, err: candErrs[n]}
		}
		if candErrs[n] != nil {
			errs = append(errs, candErrs[n])
			continue
		}
		bins = append(bins, b)
		byKey[binKey{b.Kind, b.Name}] = b
	}
	sortBinaries(bins)
	for _, err := range errs {
		m.log.Warn("bad plugin binary", "error", err)
	}
	m.log.Debug("scanned plugin directory", "dir", m.opts.Dir, "plugins", len(bins), "bad", len(errs))

	m.mu.Lock()
	m.bins, m.scanned = byKey, true
	m.mu.Unlock()
	return bins, errs
}

func (m *Manager) fingerprint(ctx context.Context, c candidate) (*Binary, error) {
	ctx, cancel := context.WithTimeout(ctx, describeTimeout)
	defer cancel()
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = 4<<20, 4<<10
	cmd := exec.CommandContext(ctx, c.path)
	cmd.Env = withoutEnv(os.Environ(), sdk.Handshake.MagicCookieKey)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	setSysProcAttr(cmd)
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("describe: %w", errDescribeTimeout)
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
	sum, err := fileSHA256(c.path)
	if err != nil {
		return nil, err
	}
	return &Binary{Kind: c.kind, Name: c.name, Path: c.path, SHA256: sum, Info: info}, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("checksum: %w", err)
	}
	defer f.Close()
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
