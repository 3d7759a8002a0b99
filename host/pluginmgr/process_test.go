package pluginmgr

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/pollster"
)

// runHelperHost is what this test binary does when TestHostKilledPluginsExit
// re-executes it as a mini host (TestMain sees $ALTIMETER_PLUGINMGR_HELPER_DIR):
// it launches the echo plugin from dir, prints its pid and blocks until killed.
func runHelperHost(dir string) int {
	m := New(Options{Dir: dir})
	if _, errs := m.Scan(context.Background()); len(errs) > 0 {
		fmt.Fprintln(os.Stderr, errs)
		return 1
	}
	i, err := m.Launch(context.Background(), "publisher.echo.orphan", base.Publisher, "echo", []byte(`{}`))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("PLUGINPID %d\n", i.Status().PID)
	time.Sleep(time.Minute) // the parent test SIGKILLs us long before
	fmt.Fprintln(os.Stderr, "helper host was not killed")
	return 1
}

// setSubreaper makes this test process the reaper of orphaned descendants,
// so the plugin orphaned by the killed mini host can be reaped here rather
// than left to a container init that may not reap.
func setSubreaper(t *testing.T) {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Logf("PR_SET_CHILD_SUBREAPER: %v (orphan reaping left to init)", errno)
	}
}

func TestHostKilledPluginsExit(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only: Pdeathsig, /proc and PR_SET_CHILD_SUBREAPER do not exist on " + runtime.GOOS)
	}
	t.Parallel()
	setSubreaper(t)
	dir := pluginDir(t, "altimeter-publisher-echo")
	host := exec.Command(os.Args[0])
	host.Env = append(os.Environ(), helperEnv+"="+dir)
	host.Stderr = os.Stderr
	out, err := host.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, host.Start())
	hostPID := host.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(hostPID, syscall.SIGKILL)
		_ = host.Wait()
	})

	pidCh := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "PLUGINPID "); ok {
				pid, _ := strconv.Atoi(v)
				pidCh <- pid
			}
		}
		close(pidCh)
	}()
	var pid int
	select {
	case pid = <-pidCh:
	case <-time.After(20 * time.Second):
		t.Fatal("mini host printed no plugin pid")
	}
	require.Positive(t, pid)
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	require.True(t, alive(pid))

	require.NoError(t, syscall.Kill(hostPID, syscall.SIGKILL))
	killed := time.Now()
	_ = host.Wait()

	// Poll /proc every 100ms; reap the plugin if it was re-parented to us.
	tk := time.NewTicker(100 * time.Millisecond)
	defer tk.Stop()
	for {
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil || !alive(pid) {
			break
		}
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("plugin %d still alive 5s after its host was SIGKILLed", pid)
		}
		<-tk.C
	}
	t.Logf("orphaned plugin gone %s after host SIGKILL", time.Since(killed))
}

const thirdPartyMain = `package main

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
)

type config struct {
	Value float64 ` + "`hcl:\"value,optional\"`" + `
}

type poller struct{ v float64 }

func (p *poller) Poll(_ context.Context, req pollster.Request) ([]sample.Sample, error) {
	return []sample.Sample{{
		Name: "thirdparty.value", Type: sample.Gauge, Unit: "1", Volume: p.v,
		ResourceID: "r1", Timestamp: time.Now(),
	}}, nil
}

func main() {
	pollster.Serve(pollster.Spec[config]{
		Name:        "thirdparty",
		Version:     "0.0.1",
		Description: "A pollster built outside the altimeter repository.",
		Meters:      []sample.MeterInfo{{Name: "thirdparty.value", Type: sample.Gauge, Unit: "1"}},
		Defaults:    config{Value: 42},
		New: func(c config, _ hclog.Logger) (pollster.Pollster, error) {
			return &poller{v: c.Value}, nil
		},
	})
}
`

// TestThirdPartyPlugin builds a pollster in its own module outside the
// repository against the sdk (replace => ./sdk), then scans, launches and
// polls it.
func TestThirdPartyPlugin(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	sdkDir := filepath.Join(root, "sdk")
	src := t.TempDir()
	gomod := "module example.com/thirdparty\n\ngo 1.26.0\n\n" +
		"require github.com/altimeter/altimeter/sdk v0.0.0\n\n" +
		"replace github.com/altimeter/altimeter/sdk => " + sdkDir + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(src, "go.mod"), []byte(gomod), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(src, "main.go"), []byte(thirdPartyMain), 0o644))
	copyFile(t, filepath.Join(sdkDir, "go.sum"), filepath.Join(src, "go.sum"), 0o644)

	dir := t.TempDir()
	bin := filepath.Join(dir, "altimeter-pollster-thirdparty")
	start := time.Now()
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = src
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build third-party plugin:\n%s", out)
	t.Logf("built third-party plugin in %s", time.Since(start).Round(time.Millisecond))

	m := newManager(t, Options{Dir: dir})
	bins := scan(t, m)
	require.Len(t, bins, 1)
	require.Equal(t, base.Pollster, bins[0].Kind)
	require.Equal(t, "thirdparty", bins[0].Name)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	i, err := m.Launch(ctx, "pollster.thirdparty.host", base.Pollster, "thirdparty", []byte(`{"value":7}`))
	require.NoError(t, err)
	require.Equal(t, []string{"thirdparty.value"}, i.Status().Meters)
	conn, err := i.Conn(ctx)
	require.NoError(t, err)
	res, err := pollster.NewClient(conn).Poll(ctx, pollster.Request{Meters: []string{"thirdparty.value"}})
	require.NoError(t, i.Err(err))
	require.Len(t, res.Samples, 1)
	require.Equal(t, "thirdparty.value", res.Samples[0].Name)
	require.Equal(t, 7.0, res.Samples[0].Volume)
}
