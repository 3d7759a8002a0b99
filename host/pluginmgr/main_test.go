package pluginmgr

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
)

// helperEnv makes the test binary act as a mini host (TestHelperHost).
const helperEnv = "ALTIMETER_PLUGINMGR_HELPER_DIR"

// echoBin is the test publisher built once by TestMain.
var echoBin string

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(runHelperHost(dir))
	}
	dir, err := os.MkdirTemp("", "pluginmgr-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	echoBin = filepath.Join(dir, "altimeter-publisher-echo")
	start := time.Now()
	build := exec.Command("go", "build", "-o", echoBin, "./testdata/plugins/echo")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build test plugin:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "built test plugin in %s\n", time.Since(start).Round(time.Millisecond))
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// testLogger returns an hclog logger writing to t.Log until the test ends.
func testLogger(t testing.TB) hclog.Logger {
	t.Helper()
	w := &testWriter{t: t}
	t.Cleanup(w.close) // registered first, so it runs after every other cleanup
	return hclog.New(&hclog.LoggerOptions{Name: "test", Output: w, Level: hclog.Debug})
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
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
	w.done = true
	w.mu.Unlock()
}

// pluginDir returns a fresh plugin directory holding the echo binary under
// each of the given file names.
func pluginDir(t testing.TB, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	// Copies, not hard links: linking and unlinking the shared binary from
	// parallel tests changes its ctime, which the scan cache rightly treats
	// as a changed file.
	for _, n := range names {
		copyFile(t, echoBin, filepath.Join(dir, n), 0o755)
	}
	return dir
}

func copyFile(t testing.TB, src, dst string, mode os.FileMode) {
	t.Helper()
	raw, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, raw, mode))
}

// newManager returns a Manager over dir that is shut down, with every
// process it started killed by PID, when the test ends.
func newManager(t testing.TB, o Options) *Manager {
	t.Helper()
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	m := New(o)
	var (
		mu   sync.Mutex
		pids = map[int]bool{}
	)
	// Track every PID the manager ever reports so cleanup can kill them
	// even if Shutdown is broken.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			for _, i := range m.Instances() {
				if pid := i.Status().PID; pid > 0 {
					mu.Lock()
					pids[pid] = true
					mu.Unlock()
				}
			}
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	})
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Shutdown(ctx)
		mu.Lock()
		defer mu.Unlock()
		for pid := range pids {
			if alive(pid) {
				t.Errorf("plugin pid %d still running after Shutdown", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return m
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) S ...; comm may contain spaces and parentheses.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// waitFor polls cond every 10ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tk.C:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
	return time.Since(start)
}

func scan(t testing.TB, m *Manager) []*Binary {
	t.Helper()
	bins, errs := m.Scan(t.Context())
	require.Empty(t, errs)
	return bins
}

func launch(t testing.TB, m *Manager, id, name, config string) *Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	i, err := m.Launch(ctx, id, base.Publisher, name, []byte(config))
	require.NoError(t, err)
	return i
}

func testBatch() *sample.Batch {
	return &sample.Batch{Samples: []sample.Sample{{
		Name: "cpu", Type: sample.Gauge, Unit: "ns", Volume: 1, ResourceID: "r1", Timestamp: time.Now(),
	}}}
}

func publish(ctx context.Context, conn *grpc.ClientConn) (publisher.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return publisher.NewClient(conn).Publish(ctx, testBatch())
}

func mustPublish(t testing.TB, i *Instance) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := i.Conn(ctx)
	require.NoError(t, err)
	r, err := publish(ctx, conn)
	require.NoError(t, i.Err(err))
	require.Equal(t, base.Accepted, r.Outcome)
}
