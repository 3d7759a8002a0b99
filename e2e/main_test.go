package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
)

// binDir holds altimeter and plugins/altimeter-<kind>-<name>, built once.
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "altimeter-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	err = build(dir)
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
	} else {
		code = m.Run()
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles the agent and every plugin in as few go builds as
// possible (parallel compiles), then names the plugins as the plugin
// manager expects. go build -o DIR/ names a binary after its package
// directory, so plugins of different kinds that share a name (pollster and
// publisher "http") go to separate builds.
func build(dir string) error {
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	mains, err := filepath.Glob(filepath.Join(root, "plugins", "*", "*", "main.go"))
	if err != nil {
		return err
	}
	type batch struct {
		pkgs  []string
		names map[string]string // short name -> plugin binary name
	}
	batches := []*batch{{pkgs: []string{"./cmd/altimeter", "./e2e/testdata/plugins/crashy"}, names: map[string]string{"crashy": "altimeter-publisher-crashy"}}}
	for _, m := range mains {
		rel, _ := filepath.Rel(root, filepath.Dir(m))
		parts := strings.Split(rel, string(filepath.Separator)) // plugins/<kinds>/<name>
		full := "altimeter-" + strings.TrimSuffix(parts[1], "s") + "-" + parts[2]
		i := 0
		for ; i < len(batches); i++ {
			if _, taken := batches[i].names[parts[2]]; !taken {
				break
			}
		}
		if i == len(batches) {
			batches = append(batches, &batch{names: map[string]string{}})
		}
		batches[i].pkgs = append(batches[i].pkgs, "./"+rel)
		batches[i].names[parts[2]] = full
	}
	if err := os.MkdirAll(filepath.Join(dir, "plugins"), 0o755); err != nil {
		return err
	}
	for i, b := range batches {
		out := filepath.Join(dir, fmt.Sprintf("out%d", i))
		cmd := exec.Command("go", append([]string{"build", "-o", out + "/"}, b.pkgs...)...)
		cmd.Dir = root
		if o, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s", err, o)
		}
		if i == 0 {
			if err := os.Rename(filepath.Join(out, "altimeter"), filepath.Join(dir, "altimeter")); err != nil {
				return err
			}
		}
		for short, full := range b.names {
			if err := os.Rename(filepath.Join(out, short), filepath.Join(dir, "plugins", full)); err != nil {
				return err
			}
		}
	}
	return nil
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs real processes; run without -short")
	}
}

// freePort is a port for an agent to bind later: peer.FreePort picks it
// below the kernel's ephemeral range, where no outgoing connection of a
// busy machine takes it in between (nor while a member restarts on it).
func freePort(t *testing.T) int {
	t.Helper()
	p, err := peer.FreePort("tcp")
	require.NoError(t, err)
	return p
}

// agentProc is a running bin/altimeter agent.
type agentProc struct {
	t       *testing.T
	cmd     *exec.Cmd
	dir     string
	cfgPath string
	data    string // the data dir: dir/data unless startAgentData says otherwise
	api     string
	log     *syncBuffer
	exited  chan struct{}
	seen    map[int]bool // every plugin pid seen, to be sure none outlives the test
	// https, when set, is the client of an agent whose API serves TLS.
	https *http.Client
}

// startAgent writes cfg (with {{API}}, {{DATA}} and {{PLUGINS}} filled in)
// and runs the agent on it until /healthz answers.
func startAgent(t *testing.T, cfg string) *agentProc {
	t.Helper()
	return startAgentData(t, cfg, "")
}

// startAgentData is startAgent with the data dir at data (dir/data when
// empty).
func startAgentData(t *testing.T, cfg, data string) *agentProc {
	t.Helper()
	return startAgentWith(t, cfg, data, nil)
}

// startAgentWith is startAgentData for an agent whose API serves TLS, that
// https (when set) trusts.
func startAgentWith(t *testing.T, cfg, data string, https *http.Client) *agentProc {
	t.Helper()
	dir := t.TempDir()
	if data == "" {
		data = filepath.Join(dir, "data")
	}
	a := &agentProc{t: t, dir: dir, cfgPath: filepath.Join(dir, "pipelines.hcl"), data: data,
		api: fmt.Sprintf("127.0.0.1:%d", freePort(t)), log: &syncBuffer{}, seen: map[int]bool{}, https: https}
	a.writeConfig(cfg)
	a.run()
	t.Cleanup(a.stop)
	return a
}

// restart starts the agent again on the same directory, config and API
// address, after the previous process ended (stop or kill).
func (a *agentProc) restart() {
	a.t.Helper()
	<-a.exited
	a.run()
}

// run starts the agent process and waits for /healthz.
func (a *agentProc) run() {
	a.t.Helper()
	a.launch()
	a.waitHealthy()
}

// launch starts the agent process and returns at once.
func (a *agentProc) launch() {
	t := a.t
	t.Helper()
	dir := a.dir
	a.exited = make(chan struct{})
	a.cmd = exec.Command(filepath.Join(binDir, "altimeter"), "agent", "-config", a.cfgPath, "-log-level", "debug")
	a.cmd.Dir = dir
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	require.NoError(t, a.cmd.Start())
	cmd, exited := a.cmd, a.exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
}

// waitHealthy waits until the launched agent answers /healthz 200.
func (a *agentProc) waitHealthy() {
	t := a.t
	t.Helper()
	waitFor(t, 20*time.Second, "agent /healthz", func() bool {
		select {
		case <-a.exited:
			t.Fatalf("agent exited during startup:\n%s", a.log.String())
		default:
		}
		hc, base := http.DefaultClient, "http://"+a.api
		if a.https != nil {
			hc, base = a.https, "https://"+a.api
		}
		resp, err := hc.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// syncBuffer is the agent's output: written by exec's copier while the test
// reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (a *agentProc) writeConfig(cfg string) {
	r := strings.NewReplacer("{{API}}", a.api, "{{DATA}}", a.data, "{{PLUGINS}}", filepath.Join(binDir, "plugins"))
	require.NoError(a.t, os.WriteFile(a.cfgPath, []byte(r.Replace(cfg)), 0o644))
}

func (a *agentProc) path(name string) string { return filepath.Join(a.data, name) }

// stop ends the agent (SIGTERM, then SIGKILL) and kills by PID any plugin
// that outlived it. It logs the agent's output if the test failed.
func (a *agentProc) stop() {
	a.pluginPIDs()
	select {
	case <-a.exited:
	default:
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.exited:
		case <-time.After(15 * time.Second):
			a.t.Errorf("agent did not stop within 15s of SIGTERM")
			_ = a.cmd.Process.Kill()
			<-a.exited
		}
	}
	// Plugins exit within 5 s of their host, however it ended.
	deadline := time.Now().Add(5 * time.Second)
	for pid := range a.seen {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(pid) {
			a.t.Errorf("plugin pid %d outlived the agent by 5s", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if a.t.Failed() {
		a.t.Logf("agent output:\n%s", a.log.String())
	}
}

type plugin struct {
	ID         string   `json:"id"`
	Kind       string   `json:"kind"`
	State      string   `json:"state"`
	PID        int      `json:"pid"`
	Restarts   int      `json:"restarts"`
	LastError  string   `json:"last_error"`
	StderrTail []string `json:"stderr_tail"`
	Meters     []string `json:"meters"`
	Queue      *struct {
		Type             string  `json:"type"`
		Samples          int     `json:"samples"`
		Bytes            int     `json:"bytes"`
		OldestAgeSeconds float64 `json:"oldest_age_seconds"`
		MaxBytes         int64   `json:"max_bytes"`
		Full             string  `json:"full"`
	} `json:"queue"`
}

func (a *agentProc) plugins() map[string]plugin {
	a.t.Helper()
	resp, err := a.getPlugins(a.adminToken())
	require.NoError(a.t, err)
	defer resp.Body.Close()
	require.Equal(a.t, http.StatusOK, resp.StatusCode)
	var ps []plugin
	require.NoError(a.t, json.NewDecoder(resp.Body).Decode(&ps))
	out := map[string]plugin{}
	for _, p := range ps {
		out[p.ID] = p
		if p.PID > 0 {
			a.seen[p.PID] = true
		}
	}
	return out
}

// getPlugins asks for /v2/plugins (admin only) with token.
func (a *agentProc) getPlugins(token string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+a.api+"/v2/plugins", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Auth-Token", token)
	return http.DefaultClient.Do(req)
}

func (a *agentProc) pluginPIDs() []int {
	tok, err := os.ReadFile(a.path("admin-token"))
	if err != nil {
		return nil
	}
	resp, err := a.getPlugins(strings.TrimSpace(string(tok)))
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var ps []plugin
	if json.NewDecoder(resp.Body).Decode(&ps) != nil {
		return nil
	}
	var pids []int
	for _, p := range ps {
		if p.PID > 0 {
			a.seen[p.PID] = true
			pids = append(pids, p.PID)
		}
	}
	return pids
}

func (a *agentProc) metrics() string {
	a.t.Helper()
	resp, err := http.Get("http://" + a.api + "/metrics")
	require.NoError(a.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	return string(b)
}

// metric returns the value of the exposition line that starts with series
// (name and labels as exposed), or -1.
func metric(exposition, series string) float64 {
	sc := bufio.NewScanner(strings.NewReader(exposition))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// sumMetric sums every exposition line of the metric name, whatever its
// labels.
func sumMetric(exposition, name string) float64 {
	sum := 0.0
	sc := bufio.NewScanner(strings.NewReader(exposition))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			if f, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				sum += f
			}
		}
	}
	return sum
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// state is the field after the parenthesised command name
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	return bytes.Count(b, []byte("\n"))
}

// waitFor polls cond every 50 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
