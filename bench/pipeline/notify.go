package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/altimeter/altimeter/internal/peer"
)

// notifyRun is what -mode notify prints: the whole notification path,
// RabbitMQ -> oslo listener plugin -> agent -> store (or file) publisher,
// on notifications preloaded on a private broker.
type notifyRun struct {
	Mode          string  `json:"mode"`
	Publisher     string  `json:"publisher"`
	Notifications int     `json:"notifications"`
	BatchSize     int     `json:"batch_size"`
	Seconds       float64 `json:"seconds"`
	PerSecond     float64 `json:"notifications_per_second"`
	// CPU seconds in the measured window, by process: "agent", the
	// plugin's id, and "broker" (RabbitMQ's Erlang VM), which is reported
	// apart and not in CPUSeconds.
	CPUByProcess map[string]float64 `json:"cpu_s_by_process"`
	CPUSeconds   float64            `json:"cpu_s"`
	// CPUPer100k is CPUSeconds (ours: agent and plugin) per 100k
	// notifications; BrokerCPUPer100k the broker's.
	CPUPer100k       float64            `json:"cpu_s_per_100k"`
	CPUPer100kByProc map[string]float64 `json:"cpu_s_per_100k_by_process"`
	BrokerCPUPer100k float64            `json:"broker_cpu_s_per_100k"`
	PeakRSSByProcess map[string]float64 `json:"peak_rss_mib_by_process"`
	// What the agent and the broker say afterwards.
	SamplesStored float64 `json:"samples_accepted"`
	EventsStored  int     `json:"events_stored"`
	MemoryCount   float64 `json:"memory_samples_stored"`
	DeadLettered  float64 `json:"dead_lettered"`
	QueueLeft     string  `json:"queue_left"`
}

const notifyPool = "altimeter"

// runNotify starts a private RabbitMQ, lets a first agent declare the
// listener's topology and stops it, preloads n compute.instance.exists
// notifications, then starts the agent again and times it until its
// listener has acked every one (the plugin counts a notification once the
// host accepted its samples and event, and acks it then). The clock starts
// when the queue first holds fewer than n ready messages; CPU is read from
// /proc at that moment and at the end. Afterwards it checks through the
// API that every notification left one event and one memory sample, and
// through rabbitmqctl that the queue is empty with nothing unacked.
func runNotify(n, batch int, publisher, bin, plugins, workdir string, timeout time.Duration, perfOut, keepLog string) error {
	if workdir == "" {
		d, err := os.MkdirTemp("", "altimeter-notify-bench-")
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(d) }()
		workdir = d
	}
	absBin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	absPlugins, err := filepath.Abs(plugins)
	if err != nil {
		return err
	}
	ctx := context.Background()
	rdir := filepath.Join(workdir, "rabbit")
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		return err
	}
	rmq, err := peer.StartRabbitMQ(ctx, rdir)
	if err != nil {
		return err
	}
	defer rmq.Stop()
	url := rmq.URL("")

	var pub string
	switch publisher {
	case "store":
		pub = `publish "store" {}`
	case "file":
		pub = fmt.Sprintf("publish \"file\" {\n    path = %q\n    max_bytes = 0\n  }", filepath.Join(workdir, "out.json"))
	default:
		return fmt.Errorf("-publisher must be store or file, not %q", publisher)
	}
	apiAddr, err := freePort()
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf(`agent {
  data_dir   = %q
  plugin_dir = %q
  log_level  = "warn"
  api {
    address = %q
  }
}

listener "oslo" "openstack" {
  transport_urls = [%q]
  exchanges      = ["nova"]
  pool           = %q
  batch_size     = %d
  sinks          = ["bus"]
}

sink "bus" {
  %s
}
`, filepath.Join(workdir, "data"), absPlugins, apiAddr, url, notifyPool, batch, pub)
	cfgPath := filepath.Join(workdir, "notify.hcl")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	api := "http://" + apiAddr
	client := &http.Client{Timeout: 10 * time.Second}

	// First start: the listener declares its exchange, queue and dead
	// letters exactly as it does in production; then it is stopped.
	a, err := startNotifyAgent(absBin, cfgPath, workdir, client, api)
	if err != nil {
		return err
	}
	declared := func() (amqp.Queue, error) {
		conn, err := amqp.Dial(url)
		if err != nil {
			return amqp.Queue{}, err
		}
		defer func() { _ = conn.Close() }()
		ch, err := conn.Channel()
		if err != nil {
			return amqp.Queue{}, err
		}
		return ch.QueueDeclarePassive(notifyPool, false, false, false, false, nil)
	}
	// Consuming, not only declared: the listener binds the queue after
	// declaring it, and an agent stopped in between left a queue without
	// its binding, so the preload below was dropped as unroutable (2 of
	// about 40 runs: "preloaded queue: ... Messages:0").
	for deadline := time.Now().Add(30 * time.Second); ; {
		if q, err := declared(); err == nil && q.Consumers > 0 {
			break
		}
		if time.Now().After(deadline) {
			a.stop()
			return a.fail(errors.New("the listener was not consuming its queue within 30s"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.stop()
	// Nobody may consume while the queue is filled.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		q, err := declared()
		if err == nil && q.Consumers == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("queue %s still consumed (%+v, %v) 30s after the first agent stopped", notifyPool, q, err)
		}
	}

	if err := preload(ctx, url, notifyBodies(n)); err != nil {
		return err
	}
	if q, err := declared(); err != nil || q.Messages != n || q.Consumers != 0 {
		return fmt.Errorf("preloaded queue: %+v (%v), want %d messages and no consumer", q, err, n)
	}

	// Second start: the measured run.
	conn, err := amqp.Dial(url)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	brokerPID := rmq.PID()
	a, err = startNotifyAgent(absBin, cfgPath, workdir, client, api)
	if err != nil {
		return err
	}
	defer func() {
		a.stop()
		if keepLog != "" {
			if b, err := os.ReadFile(a.logPath); err == nil {
				_ = os.WriteFile(keepLog, b, 0o644)
			}
		}
	}()
	var t0 time.Time
	for t0.IsZero() {
		q, err := ch.QueueDeclarePassive(notifyPool, false, false, false, false, nil)
		if err != nil {
			return a.fail(err)
		}
		if q.Messages < n {
			t0 = time.Now()
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	pids := map[string]int{"agent": a.cmd.Process.Pid, "broker": brokerPID}
	for _, c := range childPIDs(a.cmd.Process.Pid) {
		pids[pluginName(c)] = c
	}
	cpu0 := map[string]float64{}
	for id, pid := range pids {
		if cpu0[id], err = procCPU(pid); err != nil {
			return a.fail(err)
		}
	}
	var perf *exec.Cmd
	if perfOut != "" {
		var list []string
		for id, pid := range pids {
			if id != "broker" {
				list = append(list, strconv.Itoa(pid))
			}
		}
		perf = exec.Command("perf", "record", "-q", "-F", "499", "-g", "-o", perfOut, "-p", strings.Join(list, ","))
		perf.Stdout, perf.Stderr = os.Stderr, os.Stderr
		if err := perf.Start(); err != nil {
			return a.fail(fmt.Errorf("perf: %w", err))
		}
	}
	acked := func() float64 {
		m, err := getMetrics(client, api)
		if err != nil {
			return -1
		}
		return m[`altimeter_plugin_events_total{event="notifications",plugin="listener.oslo.openstack"}`]
	}
	var end time.Time
	for last, lastT := -1.0, time.Now(); end.IsZero(); {
		// Each look costs the agent a /metrics scrape and the plugin a
		// Counters call: 100 ms is at most a few percent of a run.
		time.Sleep(100 * time.Millisecond)
		k := acked()
		if k >= float64(n) {
			end = time.Now()
			break
		}
		if k > last {
			last, lastT = k, time.Now()
		}
		if time.Since(lastT) > 30*time.Second || time.Since(t0) > timeout {
			m, _ := getMetrics(client, api)
			var counters []string
			for k, v := range m {
				if strings.HasPrefix(k, "altimeter_plugin_events_total{") {
					counters = append(counters, fmt.Sprintf("%s %v", k, v))
				}
			}
			return a.fail(fmt.Errorf("stalled: %v of %d notifications acked after %s; plugin counters: %v", last, n, time.Since(t0).Round(time.Millisecond), counters))
		}
	}
	res := notifyRun{
		Mode: "notify", Publisher: publisher, Notifications: n, BatchSize: batch, Seconds: end.Sub(t0).Seconds(),
		CPUByProcess: map[string]float64{}, CPUPer100kByProc: map[string]float64{}, PeakRSSByProcess: map[string]float64{},
	}
	per100k := 100000 / float64(n)
	for id, pid := range pids {
		c, err := procCPU(pid)
		if err != nil {
			return a.fail(err)
		}
		d := c - cpu0[id]
		res.CPUByProcess[id] = d
		res.CPUPer100kByProc[id] = d * per100k
		if id == "broker" {
			res.BrokerCPUPer100k = d * per100k
			continue
		}
		res.CPUSeconds += d
		if kb, err := procHWM(pid); err == nil {
			res.PeakRSSByProcess[id] = kb / 1024
		}
	}
	if perf != nil {
		_ = perf.Process.Signal(os.Interrupt)
		_ = perf.Wait()
	}
	res.PerSecond = float64(n) / res.Seconds
	res.CPUPer100k = res.CPUSeconds * per100k

	// Checks, outside the measured window.
	m, err := getMetrics(client, api)
	if err != nil {
		return a.fail(err)
	}
	res.SamplesStored = m[`altimeter_plugin_events_total{event="samples_accepted",plugin="listener.oslo.openstack"}`]
	for k, v := range m {
		if strings.HasPrefix(k, `altimeter_plugin_events_total{event="dead_lettered_`) {
			res.DeadLettered += v
		}
	}
	out, err := rmq.Ctl(ctx, "list_queues", "-q", "name", "messages_ready", "messages_unacknowledged")
	if err != nil {
		return a.fail(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == notifyPool {
			res.QueueLeft = f[1] + " ready, " + f[2] + " unacked"
		}
	}
	var problems []string
	if res.QueueLeft != "0 ready, 0 unacked" {
		problems = append(problems, "queue not drained: "+res.QueueLeft)
	}
	if res.DeadLettered != 0 {
		problems = append(problems, fmt.Sprintf("%v dead-lettered", res.DeadLettered))
	}
	if publisher == "store" {
		tok, err := os.ReadFile(filepath.Join(workdir, "data", "admin-token"))
		if err != nil {
			return a.fail(err)
		}
		if res.EventsStored, err = countEvents(client, api, strings.TrimSpace(string(tok))); err != nil {
			return a.fail(err)
		}
		if res.MemoryCount, err = memoryCount(client, api, strings.TrimSpace(string(tok))); err != nil {
			return a.fail(err)
		}
		if res.EventsStored != n {
			problems = append(problems, fmt.Sprintf("%d events stored, want %d", res.EventsStored, n))
		}
		if res.MemoryCount != float64(n) {
			problems = append(problems, fmt.Sprintf("%v memory samples stored, want %d", res.MemoryCount, n))
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("check failed: %s", strings.Join(problems, "; "))
	}
	return nil
}

// notifyAgent is one agent process of runNotify.
type notifyAgent struct {
	cmd     *exec.Cmd
	exited  chan error
	plugins []pluginInfo
	logPath string
}

func startNotifyAgent(bin, cfgPath, workdir string, client *http.Client, api string) (*notifyAgent, error) {
	a := &notifyAgent{logPath: filepath.Join(workdir, "agent.log"), exited: make(chan error, 1)}
	logf, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer func() { _ = logf.Close() }()
	a.cmd = exec.Command(bin, "agent", "-config", cfgPath)
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	if err := a.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { a.exited <- a.cmd.Wait() }()
	var lastErr error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-a.exited:
			a.exited <- err
			return nil, a.fail(fmt.Errorf("agent exited during startup: %v", err))
		default:
		}
		if time.Now().After(deadline) {
			a.stop()
			return nil, a.fail(fmt.Errorf("agent not ready within 30s: %v", lastErr))
		}
		ps, err := getPlugins(client, api, filepath.Join(workdir, "data", "admin-token"))
		switch {
		case err != nil:
			lastErr = err
		case len(ps) == 0 || !allRunning(ps):
			lastErr = fmt.Errorf("plugins not all running: %+v", ps)
		default:
			a.plugins = ps
			return a, nil
		}
	}
}

func (a *notifyAgent) stop() { stopAgent(a.cmd, a.exited, a.plugins) }

func (a *notifyAgent) fail(err error) error {
	b, _ := os.ReadFile(a.logPath)
	return fmt.Errorf("%w\nagent log:\n%s", err, tail(b, 30))
}

// childPIDs lists the children of pid (its plugins), from /proc.
func childPIDs(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// pluginName is the process name of pid (its comm), such as
// "altimeter-liste": the plugin's binary, cut to 15 bytes by the kernel.
func pluginName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "plugin-" + strconv.Itoa(pid)
	}
	argv0, _, _ := bytes.Cut(b, []byte{0})
	return filepath.Base(string(argv0))
}

// notifyBodies builds n compute.instance.exists notifications (oslo v2
// envelopes) from the shared fixture, as e2e's notifications does:
// distinct message ids and timestamps, 100 instances.
func notifyBodies(n int) [][]byte {
	raw, err := os.ReadFile(filepath.Join("internal", "notification", "testdata", "compute.instance.exists.json"))
	if err != nil {
		panic(fmt.Errorf("notification fixture (run from the repository root): %w", err))
	}
	base := time.Now().Add(-time.Hour).UTC()
	out := make([][]byte, n)
	for i := range out {
		var msg map[string]any
		if err := json.Unmarshal(raw, &msg); err != nil {
			panic(err)
		}
		msg["message_id"] = fmt.Sprintf("30000000-0000-4000-8000-%012d", i)
		msg["timestamp"] = base.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02 15:04:05.000000")
		msg["payload"].(map[string]any)["instance_id"] = fmt.Sprintf("40000000-0000-4000-8000-%012d", i%100)
		inner, err := json.Marshal(msg)
		if err != nil {
			panic(err)
		}
		if out[i], err = json.Marshal(map[string]any{"oslo.version": "2.0", "oslo.message": string(inner)}); err != nil {
			panic(err)
		}
	}
	return out
}

// preload publishes bodies to the nova exchange with publisher confirms.
func preload(ctx context.Context, url string, bodies [][]byte) error {
	conn, err := amqp.Dial(url)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	if err := ch.Confirm(false); err != nil {
		return err
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, len(bodies)))
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for _, b := range bodies {
		if err := ch.PublishWithContext(ctx, "nova", "notifications.info", false, false, amqp.Publishing{
			ContentType: "application/json", ContentEncoding: "utf-8", DeliveryMode: amqp.Persistent, Body: b,
		}); err != nil {
			return fmt.Errorf("preload: %w", err)
		}
	}
	for range bodies {
		select {
		case c := <-confirms:
			if !c.Ack {
				return errors.New("preload: the broker nacked a publish")
			}
		case <-ctx.Done():
			return errors.New("preload: no publisher confirms")
		}
	}
	return nil
}

// countEvents pages through the stored compute.instance.exists events and
// counts distinct message ids (an id seen twice is an error).
func countEvents(c *http.Client, api, token string) (int, error) {
	seen := map[string]bool{}
	marker := ""
	for {
		var evs []struct {
			MessageID string `json:"message_id"`
		}
		if err := getJSON(c, api+"/v2/events?q.field=event_type&q.op=eq&q.value=compute.instance.exists&limit=1000&marker="+marker, token, &evs); err != nil {
			return 0, err
		}
		for _, e := range evs {
			if seen[e.MessageID] {
				return 0, fmt.Errorf("event %s listed twice", e.MessageID)
			}
			seen[e.MessageID] = true
		}
		if len(evs) < 1000 {
			return len(seen), nil
		}
		marker = evs[len(evs)-1].MessageID
	}
}

// memoryCount is the count statistic of the memory meter.
func memoryCount(c *http.Client, api, token string) (float64, error) {
	var stats []struct {
		Count float64 `json:"count"`
	}
	if err := getJSON(c, api+"/v2/meters/memory/statistics", token, &stats); err != nil {
		return 0, err
	}
	if len(stats) != 1 {
		return 0, fmt.Errorf("memory statistics: %d periods, want 1", len(stats))
	}
	return stats[0].Count, nil
}

func getJSON(c *http.Client, url, token string, v any) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", token)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
