// Command pipeline is the end-to-end benchmark's load generator and its
// in-process baseline.
//
//	pipeline -mode agent    starts bin/altimeter on a socket -> unit_conversion -> file
//	                        pipeline on free loopback ports, sends the samples over TCP
//	                        and waits until the output file holds every one of them
//	pipeline -mode notify   starts a private RabbitMQ, preloads compute.instance.exists
//	                        notifications and times bin/altimeter's oslo listener with the
//	                        store publisher until every one is acked (notify.go)
//	pipeline -mode baseline does the same decode / scale / encode / write in this
//	                        process, with no process boundary
//
// Either way it verifies the output (every sample exactly once, scaled, in KB)
// and prints one JSON object with the figures; scripts/bench.sh collects them.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/altimeter/altimeter/bench/internal/gen"
	"github.com/altimeter/altimeter/internal/influx"
	"github.com/altimeter/altimeter/internal/scale"
	"github.com/altimeter/altimeter/sdk/sample"
)

const scaleExpr = "volume / 1024"

func main() {
	var (
		mode      = flag.String("mode", "agent", "agent or baseline")
		n         = flag.Int("samples", 2_000_000, "samples to send")
		resources = flag.Int("resources", 2000, "distinct resources")
		conns     = flag.Int("conns", 2, "TCP connections")
		batch     = flag.Int("batch", 1000, "listener batch_size (and the baseline's batch)")
		bin       = flag.String("bin", "bin/altimeter", "agent binary")
		plugins   = flag.String("plugins", "bin/plugins", "plugin directory")
		workdir   = flag.String("workdir", "", "scratch directory (default: a new temp dir, removed afterwards)")
		timeout   = flag.Duration("timeout", 5*time.Minute, "give up after this long")
		msgID     = flag.Bool("msgid", false, "baseline: also give each sample a random UUID message_id, as the socket listener does")
		perfOut   = flag.String("perf", "", "agent: record the agent and plugins with perf into this file (profiling run; figures are not representative)")
		keepLog   = flag.String("agent-log", "", "agent: copy the agent's log here")
		queue     = flag.String("queue", "disk", "agent: the file publisher's queue: disk (fsync per batch, the default), disk-interval (sync_interval = \"1s\") or memory")
		notes     = flag.Int("notifications", 100_000, "notify: notifications preloaded on the broker")
		nbatch    = flag.Int("notify-batch", 500, "notify: the oslo listener's batch_size")
		publisher = flag.String("publisher", "store", "notify: store or file")
	)
	flag.Parse()
	if *mode == "notify" {
		if err := runNotify(*notes, *nbatch, *publisher, *bin, *plugins, *workdir, *timeout, *perfOut, *keepLog); err != nil {
			fmt.Fprintln(os.Stderr, "pipeline:", err)
			os.Exit(1)
		}
		return
	}
	qblock, ok := queueBlocks[*queue]
	if !ok {
		fmt.Fprintf(os.Stderr, "pipeline: -queue must be disk, disk-interval or memory\n")
		os.Exit(2)
	}
	if err := run(*mode, gen.Shape{N: *n, Resources: *resources}, *conns, *batch, *bin, *plugins, *workdir, *timeout, *msgID, *perfOut, *keepLog, qblock); err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
}

// queueBlocks are the file publisher's queue blocks by -queue.
var queueBlocks = map[string]string{
	"disk":          "",
	"disk-interval": "queue {\n      sync_interval = \"1s\"\n    }",
	"memory":        "queue {\n      type = \"memory\"\n    }",
}

func run(mode string, shape gen.Shape, conns, batch int, bin, plugins, workdir string, timeout time.Duration, msgID bool, perfOut, keepLog, qblock string) error {
	if workdir == "" {
		d, err := os.MkdirTemp("", "altimeter-bench-")
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(d) }()
		workdir = d
	}
	chunks := shape.Chunks(conns)
	out := filepath.Join(workdir, "out.lp")
	var res *gen.Run
	var err error
	switch mode {
	case "agent":
		res, err = runAgent(shape, chunks, batch, bin, plugins, workdir, out, timeout, perfOut, keepLog, qblock)
	case "baseline":
		res, err = runBaseline(shape, chunks, batch, out, msgID)
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		return err
	}
	res.Samples, res.BatchSize = shape.N, batch
	res.SamplesPerSecond = float64(shape.N) / res.Seconds
	res.CPUPerMillion = res.CPUSeconds / (float64(shape.N) / 1e6)
	v, err := shape.Verify(out)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	res.Verify = v
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return err
	}
	if !v.OK {
		return fmt.Errorf("output check failed: %+v", v)
	}
	if mode == "agent" && res.PublisherOutSamples != float64(shape.N) {
		return fmt.Errorf("altimeter_publisher_out_samples_total = %v, want %d", res.PublisherOutSamples, shape.N)
	}
	return nil
}

// ---- in-process baseline ----

func runBaseline(shape gen.Shape, chunks [][]byte, batch int, out string, msgID bool) (*gen.Run, error) {
	sc, err := scale.Compile(scaleExpr)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var (
		enc     influx.Encoder
		samples []sample.Sample
		buf     []byte
		opts    = influx.Options{Precision: time.Nanosecond}
		unit    = "KB"
	)
	cpu0 := selfCPU()
	t0 := time.Now()
	for _, data := range chunks {
		for len(data) > 0 {
			// Cut one batch of whole lines, as the listener does.
			end, lines := 0, 0
			for lines < batch && end < len(data) {
				k := bytes.IndexByte(data[end:], '\n')
				if k < 0 {
					end = len(data)
					break
				}
				end += k + 1
				lines++
			}
			var errs []error
			samples, errs = influx.AppendDecode(samples[:0], data[:end], opts)
			if len(errs) > 0 {
				return nil, fmt.Errorf("decode: %v", errs[0])
			}
			data = data[end:]
			buf = buf[:0]
			for i := range samples {
				s := &samples[i]
				if msgID {
					s.MessageID = sample.NewMessageID()
				}
				v, err := sc.Eval(s)
				if err != nil {
					return nil, err
				}
				s.Volume = v
				s.Unit = unit
				buf = enc.Append(buf, s)
			}
			if _, err := f.Write(buf); err != nil {
				return nil, err
			}
		}
	}
	elapsed := time.Since(t0)
	cpu := selfCPU() - cpu0
	m := "baseline"
	if msgID {
		m = "baseline+msgid"
	}
	return &gen.Run{Mode: m, Seconds: elapsed.Seconds(), CPUSeconds: cpu}, f.Close()
}

// ---- the agent ----

type pluginInfo struct {
	ID    string `json:"id"`
	State string `json:"state"`
	PID   int    `json:"pid"`
}

func runAgent(shape gen.Shape, chunks [][]byte, batch int, bin, plugins, workdir, out string, timeout time.Duration, perfOut, keepLog, qblock string) (*gen.Run, error) {
	absBin, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	absPlugins, err := filepath.Abs(plugins)
	if err != nil {
		return nil, err
	}
	apiAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	tcpAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`agent {
  data_dir   = %q
  plugin_dir = %q
  log_level  = "warn"
  api {
    address = %q
  }
}

listener "socket" "bench" {
  tcp        = %q
  batch_size = %d
  sinks      = ["bench"]
}

sink "bench" {
  transform "unit_conversion" {
    meters = ["*"]
    scale  = %q
    unit   = "KB"
  }
  publish "file" {
    path      = %q
    format    = "influx"
    max_bytes = 0
    %s
  }
}
`, filepath.Join(workdir, "data"), absPlugins, apiAddr, tcpAddr, batch, scaleExpr, out, qblock)
	cfgPath := filepath.Join(workdir, "bench.hcl")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	logPath := filepath.Join(workdir, "agent.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer func() { _ = logf.Close() }()
	cmd := exec.Command(absBin, "agent", "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	agentPID := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var pluginPIDs []pluginInfo
	defer func() {
		stopAgent(cmd, exited, pluginPIDs)
		if keepLog != "" {
			if b, err := os.ReadFile(logPath); err == nil {
				_ = os.WriteFile(keepLog, b, 0o644)
			}
		}
	}()
	fail := func(err error) (*gen.Run, error) {
		b, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%w\nagent log:\n%s", err, tail(b, 30))
	}

	// Wait for the API, all three plugins running, and the socket.
	client := &http.Client{Timeout: 5 * time.Second}
	api := "http://" + apiAddr
	deadline := time.Now().Add(30 * time.Second)
	var lastErr error // why the agent is not ready yet, for the timeout's message
	for {
		select {
		case err := <-exited:
			exited <- err
			return fail(fmt.Errorf("agent exited during startup: %v", err))
		default:
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("agent not ready within 30s: %v", lastErr))
		}
		ps, err := getPlugins(client, api, filepath.Join(workdir, "data", "admin-token"))
		switch {
		case err != nil:
			lastErr = err
		case len(ps) != 3 || !allRunning(ps):
			lastErr = fmt.Errorf("plugins not all running: %+v", ps)
		default:
			c, err := net.DialTimeout("tcp", tcpAddr, time.Second)
			if err != nil {
				lastErr = fmt.Errorf("socket listener: %w", err)
				break
			}
			_ = c.Close()
			pluginPIDs = ps
		}
		if pluginPIDs != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	pids := map[string]int{"agent": agentPID}
	for _, p := range pluginPIDs {
		pids[p.ID] = p.PID
	}
	var perf *exec.Cmd
	if perfOut != "" {
		var list []string
		for _, pid := range pids {
			list = append(list, strconv.Itoa(pid))
		}
		perf = exec.Command("perf", "record", "-q", "-F", "499", "-g", "-o", perfOut, "-p", strings.Join(list, ","))
		perf.Stdout, perf.Stderr = os.Stderr, os.Stderr
		if err := perf.Start(); err != nil {
			return fail(fmt.Errorf("perf: %w", err))
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Connect first, so the clock starts at the first byte sent.
	cs := make([]*net.TCPConn, len(chunks))
	for i := range chunks {
		c, err := net.Dial("tcp", tcpAddr)
		if err != nil {
			return fail(err)
		}
		defer func() { _ = c.Close() }()
		cs[i] = c.(*net.TCPConn)
	}
	cpu0 := map[string]float64{}
	for id, pid := range pids {
		if cpu0[id], err = procCPU(pid); err != nil {
			return fail(err)
		}
	}
	var cs0 int64
	for _, pid := range pids {
		cs0 += ctxSwitches(pid)
	}
	self0 := selfCPU()
	t0 := time.Now()
	sent := make(chan error, len(cs))
	for i, c := range cs {
		go func() {
			_, err := c.Write(chunks[i])
			if err == nil {
				err = c.CloseWrite()
			}
			sent <- err
		}()
	}

	// Watch the output file until it holds N lines.
	var (
		lines, size  int64
		sendDone     time.Time
		pending      = len(cs)
		buf          = make([]byte, 1<<20)
		f            *os.File
		end          time.Time
		lastProgress = time.Now()
	)
	for end.IsZero() {
		select {
		case err := <-sent:
			if err != nil {
				return fail(fmt.Errorf("send: %w", err))
			}
			if pending--; pending == 0 {
				sendDone = time.Now()
			}
			continue
		case err := <-exited:
			exited <- err
			return fail(fmt.Errorf("agent exited during the run: %v", err))
		case <-time.After(5 * time.Millisecond):
		}
		if f == nil {
			if f, err = os.Open(out); err != nil {
				f = nil
				if time.Since(t0) > 30*time.Second {
					return fail(errors.New("no output file after 30s"))
				}
				continue
			}
			defer func() { _ = f.Close() }()
		}
		for {
			k, err := f.Read(buf)
			lines += int64(bytes.Count(buf[:k], []byte{'\n'}))
			size += int64(k)
			if k > 0 {
				lastProgress = time.Now()
			}
			if err == io.EOF || k == 0 {
				break
			}
			if err != nil {
				return fail(err)
			}
		}
		if lines >= int64(shape.N) {
			end = time.Now()
			// The last write's time, if the file system recorded one in the window.
			if st, err := f.Stat(); err == nil && st.ModTime().After(t0) && st.ModTime().Before(end) {
				end = st.ModTime()
			}
			break
		}
		if time.Since(lastProgress) > 30*time.Second || time.Since(t0) > timeout {
			return fail(fmt.Errorf("stalled: %d of %d lines after %s", lines, shape.N, time.Since(t0).Round(time.Millisecond)))
		}
	}
	res := &gen.Run{Mode: "agent", Conns: len(cs), Seconds: end.Sub(t0).Seconds(), CPUByProcess: map[string]float64{}, PeakRSSByProcess: map[string]float64{}}
	for id, pid := range pids {
		c, err := procCPU(pid)
		if err != nil {
			return fail(err)
		}
		res.CPUByProcess[id] = c - cpu0[id]
		res.CPUSeconds += c - cpu0[id]
	}
	res.LoadgenCPUSeconds = selfCPU() - self0
	for _, pid := range pids {
		res.ContextSwitches += ctxSwitches(pid)
	}
	res.ContextSwitches -= cs0
	if !sendDone.IsZero() {
		res.SendSeconds = sendDone.Sub(t0).Seconds()
	}
	for id, pid := range pids {
		kb, err := procHWM(pid)
		if err != nil {
			return fail(err)
		}
		res.PeakRSSByProcess[id] = kb / 1024
		res.PeakRSSMiB += kb / 1024
	}
	if perf != nil {
		_ = perf.Process.Signal(syscall.SIGINT)
		_ = perf.Wait()
	}
	// The publisher's counter is bumped after the write is acknowledged:
	// give it a moment to catch up, then cross-check.
	for wait := time.Now().Add(10 * time.Second); ; {
		m, err := getMetrics(client, api)
		if err == nil {
			res.PublisherOutSamples = m["altimeter_publisher_out_samples_total"]
			res.SourceSamples = m["altimeter_source_samples_total"]
		}
		if res.PublisherOutSamples >= float64(shape.N) || time.Now().After(wait) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return res, nil
}

func allRunning(ps []pluginInfo) bool {
	for _, p := range ps {
		if p.State != "running" || p.PID <= 0 {
			return false
		}
	}
	return true
}

// stopAgent sends SIGTERM to the agent (which stops its plugins), waits, and
// kills by PID whatever is left: the agent, then any plugin still alive.
func stopAgent(cmd *exec.Cmd, exited chan error, plugins []pluginInfo) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited: //nolint:errcheck // its exit status after SIGTERM or SIGKILL is of no use here
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-exited //nolint:errcheck // as above
	}
	for _, p := range plugins {
		if p.PID > 0 && syscall.Kill(p.PID, 0) == nil {
			// Still there after its agent is gone: ours to end.
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID)); err == nil && bytes.Contains(b, []byte("altimeter-")) {
				_ = syscall.Kill(p.PID, syscall.SIGKILL)
			}
		}
	}
}

// getPlugins lists the agent's plugins (admin only: with the token of the
// agent's admin-token file).
func getPlugins(c *http.Client, api, tokenFile string) ([]pluginInfo, error) {
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("admin token (the agent writes it at start): %w", err)
	}
	req, err := http.NewRequest(http.MethodGet, api+"/v2/plugins", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Auth-Token", strings.TrimSpace(string(tok)))
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v2/plugins: %s", resp.Status)
	}
	var ps []pluginInfo
	return ps, json.NewDecoder(resp.Body).Decode(&ps)
}

// getMetrics sums each metric family over its labels, and keeps each
// labelled series too, under its name with labels as exposed.
func getMetrics(c *http.Client, api string) (map[string]float64, error) {
	resp, err := c.Get(api + "/metrics")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		out[name] += v
		if name != line[:sp] {
			out[line[:sp]] = v
		}
	}
	return out, sc.Err()
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// ---- /proc ----

var clkTck = func() float64 {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}()

// procCPU is utime+stime of pid in seconds.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+2:]))
	// After "pid (comm) ": state is field 3, utime 14, stime 15.
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return (ut + st) / clkTck, nil
}

// selfCPU is this process's user+system CPU in seconds (getrusage, µs
// resolution).
func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// ctxSwitches sums voluntary and involuntary context switches over the
// threads of pid.
func ctxSwitches(pid int) int64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				v, _ := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
				n += v
			} else if rest, ok := strings.CutPrefix(line, "nonvoluntary_ctxt_switches:"); ok {
				v, _ := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
				n += v
			}
		}
	}
	return n
}

// procHWM is VmHWM of pid in kB.
func procHWM(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			return strconv.ParseFloat(f[0], 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM for %d", pid)
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
