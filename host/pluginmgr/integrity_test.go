package pluginmgr

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/base"
)

// logBuffer is an hclog logger whose output the test can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func bufferLogger(b *logBuffer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: b, Level: hclog.Debug})
}

// echoCopy writes a copy (not a link: its mode and owner are its own) of
// the echo plugin as dir/name with mode.
func echoCopy(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	copyFile(t, echoBin, p, mode)
	require.NoError(t, os.Chmod(p, mode)) // past the umask
	return p
}

func errStrings(errs []error) string {
	var s []string
	for _, e := range errs {
		s = append(s, e.Error())
	}
	return strings.Join(s, "\n")
}

func TestScanRefusesLoosePermissions(t *testing.T) {
	linuxOnly(t)
	t.Parallel()
	type setup func(t *testing.T, root string) (dir string)
	plainDir := func(t *testing.T, root string) string {
		dir := filepath.Join(root, "plugins")
		require.NoError(t, os.Mkdir(dir, 0o755))
		echoCopy(t, dir, "altimeter-publisher-echo", 0o755)
		return dir
	}
	cases := []struct {
		name  string
		setup setup
		// refused is what the refusal says; "" for no refusal.
		refused string
		// dirRefused: the whole directory is refused, not one binary.
		dirRefused bool
	}{{
		name:  "safe",
		setup: plainDir,
	}, {
		name: "world-writable directory",
		setup: func(t *testing.T, root string) string {
			dir := plainDir(t, root)
			require.NoError(t, os.Chmod(dir, 0o777))
			return dir
		},
		refused: "plugins is writable by others (mode drwxrwxrwx)", dirRefused: true,
	}, {
		name: "group-writable parent directory",
		setup: func(t *testing.T, root string) string {
			parent := filepath.Join(root, "opt")
			require.NoError(t, os.Mkdir(parent, 0o755))
			require.NoError(t, os.Chmod(parent, 0o775))
			return plainDir(t, parent)
		},
		refused: "opt is writable by its group (mode drwxrwxr-x)", dirRefused: true,
	}, {
		name: "world-writable parent with the sticky bit (as /tmp)",
		setup: func(t *testing.T, root string) string {
			parent := filepath.Join(root, "tmp")
			require.NoError(t, os.Mkdir(parent, 0o755))
			require.NoError(t, os.Chmod(parent, 0o777|os.ModeSticky))
			return plainDir(t, parent)
		},
	}, {
		name: "group-writable binary",
		setup: func(t *testing.T, root string) string {
			dir := plainDir(t, root)
			echoCopy(t, dir, "altimeter-publisher-echo", 0o775)
			return dir
		},
		refused: "altimeter-publisher-echo is writable by its group (mode -rwxrwxr-x)",
	}, {
		name: "world-writable binary",
		setup: func(t *testing.T, root string) string {
			dir := plainDir(t, root)
			echoCopy(t, dir, "altimeter-publisher-echo", 0o757)
			return dir
		},
		refused: "altimeter-publisher-echo is writable by others (mode -rwxr-xrwx)",
	}, {
		name: "symlink to a binary in a world-writable directory",
		setup: func(t *testing.T, root string) string {
			dir := filepath.Join(root, "plugins")
			require.NoError(t, os.Mkdir(dir, 0o755))
			loose := filepath.Join(root, "loose")
			require.NoError(t, os.Mkdir(loose, 0o755))
			target := echoCopy(t, loose, "echo", 0o755)
			require.NoError(t, os.Chmod(loose, 0o777))
			require.NoError(t, os.Symlink(target, filepath.Join(dir, "altimeter-publisher-echo")))
			return dir
		},
		refused: "loose is writable by others (mode drwxrwxrwx)",
	}}
	if os.Geteuid() == 0 {
		cases = append(cases, struct {
			name       string
			setup      setup
			refused    string
			dirRefused bool
		}{
			name: "binary owned by another user",
			setup: func(t *testing.T, root string) string {
				dir := plainDir(t, root)
				require.NoError(t, os.Chown(filepath.Join(dir, "altimeter-publisher-echo"), 65534, 65534))
				return dir
			},
			refused: "altimeter-publisher-echo is owned by uid 65534, neither root nor the agent's user (uid 0)",
		})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := tc.setup(t, t.TempDir())
			m := newManager(t, Options{Dir: dir})
			bins, errs := m.Scan(t.Context())
			if tc.refused == "" {
				require.Empty(t, errs)
				require.Len(t, bins, 1)
				return
			}
			require.Empty(t, bins)
			require.Len(t, errs, 1, errStrings(errs))
			var re *RefusedError
			require.ErrorAs(t, errs[0], &re)
			require.Contains(t, re.Error(), tc.refused)
			require.Contains(t, re.Error(), "strict_plugin_permissions = false")
			if tc.dirRefused {
				require.Equal(t, dir, re.Path)
			} else {
				require.Equal(t, filepath.Join(dir, "altimeter-publisher-echo"), re.Path)
			}
			_, err := m.Describe(t.Context(), base.Publisher, "echo")
			require.ErrorIs(t, err, ErrRefused)
			require.Contains(t, err.Error(), tc.refused)
			_, err = m.Launch(t.Context(), "publisher.echo.x", base.Publisher, "echo", []byte(`{}`))
			require.ErrorIs(t, err, ErrRefused)

			// Allowed explicitly: it runs, with a warning naming the problem.
			var logs logBuffer
			m2 := newManager(t, Options{Dir: dir, Logger: bufferLogger(&logs)})
			m2.SetPolicy(Policy{AllowInsecurePermissions: true})
			bins, errs = m2.Scan(t.Context())
			require.Empty(t, errs)
			require.Len(t, bins, 1)
			require.Contains(t, logs.String(), "[WARN]  pluginmgr: plugin")
			require.Contains(t, logs.String(), "anyway as configured")
			mustPublish(t, launch(t, m2, "publisher.echo.x", "echo", `{}`))
		})
	}
}

func TestPinnedDigests(t *testing.T) {
	linuxOnly(t)
	t.Parallel()
	good, err := fileSHA256(echoBin)
	require.NoError(t, err)
	bad := strings.Repeat("ab", 32)

	t.Run("pin in config", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		echoCopy(t, dir, "altimeter-publisher-echo", 0o755)
		echoCopy(t, dir, "altimeter-publisher-other", 0o755)
		// Run for Describe, this binary would leave a mark: a pinned
		// binary that does not match must never run.
		mark := filepath.Join(t.TempDir(), "ran")
		script := "#!/bin/sh\ntouch '" + mark + "'\nexit 1\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, "altimeter-publisher-evil"), []byte(script), 0o755))

		m := newManager(t, Options{Dir: dir})
		m.SetPolicy(Policy{Pins: []Pin{
			{Kind: base.Publisher, Name: "echo", SHA256: good, Source: "pipelines.hcl:3:12"},
			{Kind: base.Publisher, Name: "evil", SHA256: bad, Source: "pipelines.hcl:6:12"},
			{Kind: base.Publisher, Name: "gone", SHA256: bad, Source: "pipelines.hcl:9:12"},
		}})
		bins, errs := m.Scan(t.Context())
		require.Len(t, bins, 2, errStrings(errs))
		require.True(t, bins[0].Pinned(), bins[0].Name)
		require.False(t, bins[1].Pinned(), bins[1].Name)
		require.Len(t, errs, 2, errStrings(errs))
		evil := filepath.Join(dir, "altimeter-publisher-evil")
		require.Contains(t, errStrings(errs), evil+": sha256 mismatch: expected "+bad+" (pinned at pipelines.hcl:6:12), actual ")
		require.Contains(t, errStrings(errs), `pinned plugin publisher "gone" (at pipelines.hcl:9:12): no binary altimeter-publisher-gone in `)
		require.NoFileExists(t, mark, "a binary that fails its pin was run")
		_, err := m.Describe(t.Context(), base.Publisher, "evil")
		require.ErrorIs(t, err, ErrRefused)
		require.Contains(t, err.Error(), "sha256 mismatch")

		// Launch checks the digest again (go-plugin's SecureConfig): a
		// binary replaced after the scan is refused.
		i := launch(t, m, "publisher.echo.a", "echo", `{}`)
		mustPublish(t, i)
		replaced := filepath.Join(dir, "altimeter-publisher-echo")
		tmp := replaced + ".new"
		require.NoError(t, os.WriteFile(tmp, []byte("#!/bin/sh\nexit 0\n"), 0o755))
		require.NoError(t, os.Rename(tmp, replaced))
		sum, err := fileSHA256(replaced)
		require.NoError(t, err)
		_, err = m.Launch(t.Context(), "publisher.echo.b", base.Publisher, "echo", []byte(`{}`))
		require.ErrorIs(t, err, ErrRefused)
		require.Contains(t, err.Error(), replaced+": sha256 mismatch: expected "+good+" (pinned at pipelines.hcl:3:12), actual "+sum+
			": the binary changed since the plugin directory was scanned")

		// So is a restart after a crash.
		pid := i.Status().PID
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		waitFor(t, 20*time.Second, "instance failed", func() bool { return i.Status().State == StateFailed })
		require.Contains(t, i.Status().LastError, "sha256 mismatch")

		// The next Scan refuses it.
		_, errs = m.Scan(t.Context())
		require.Contains(t, errStrings(errs), replaced+": sha256 mismatch")
	})

	t.Run("checksums file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		echoCopy(t, dir, "altimeter-publisher-echo", 0o755)
		echoCopy(t, dir, "altimeter-publisher-wrong", 0o755)
		echoCopy(t, dir, "altimeter-publisher-unlisted", 0o755)
		sums := good + "  altimeter-publisher-echo\n" +
			"not a digest  altimeter-publisher-x\n" +
			bad + " *altimeter-publisher-wrong\n" +
			good + "  README.md\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, ChecksumsFile), []byte(sums), 0o644))
		m := newManager(t, Options{Dir: dir})
		bins, errs := m.Scan(t.Context())
		require.Len(t, bins, 1, errStrings(errs))
		require.Equal(t, "echo", bins[0].Name)
		require.True(t, bins[0].Pinned())
		all := errStrings(errs)
		require.Len(t, errs, 3, all)
		file := filepath.Join(dir, ChecksumsFile)
		require.Contains(t, all, file+`:2: want "<sha256 digest>  <file name>" as sha256sum prints it`)
		require.Contains(t, all, filepath.Join(dir, "altimeter-publisher-wrong")+": sha256 mismatch: expected "+bad+" (pinned at "+file+":3), actual "+good)
		require.Contains(t, all, filepath.Join(dir, "altimeter-publisher-unlisted")+": not listed in "+file)
		mustPublish(t, launch(t, m, "publisher.echo.a", "echo", `{}`))

		// A checksums file others can rewrite vouches for nothing.
		require.NoError(t, os.Chmod(file, 0o666))
		bins, errs = m.Scan(t.Context())
		require.Empty(t, bins)
		require.Contains(t, errStrings(errs), "checksums file refused: "+file+" is writable by others")
	})
}

func TestRefusedErrorSummary(t *testing.T) {
	t.Parallel()
	var err error = &RefusedError{Path: "/p", Reason: "sha256 mismatch"}
	err = errors.Join(errors.New("x"), err)
	require.ErrorIs(t, err, ErrRefused)
	var s interface{ Summary() string }
	require.ErrorAs(t, err, &s)
	require.Equal(t, "Plugin binary refused", s.Summary())
}
