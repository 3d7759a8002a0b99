package peer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// Prometheus is a private Prometheus server on 127.0.0.1, started by
// StartPrometheus. It scrapes itself (job "prometheus", instance Addr) every
// ScrapeInterval and keeps its TSDB in its own directory. Stop it with Stop
// (by PID, safe twice).
type Prometheus struct {
	*Process
	// Addr is host:port of the HTTP API ("127.0.0.1:NNNNN").
	Addr string
	// URL is the API's base URL ("http://127.0.0.1:NNNNN").
	URL string
	// ScrapeInterval is how often it scrapes itself.
	ScrapeInterval time.Duration
}

// PrometheusOptions tunes StartPrometheus. The zero value is fine.
type PrometheusOptions struct {
	// Port is the TCP port to listen on; 0 picks a free one.
	Port int
	// ScrapeInterval of the self-scrape; 0 means 1 s, so a test has data
	// quickly.
	ScrapeInterval time.Duration
	// RemoteWriteReceiver enables POST /api/v1/write.
	RemoteWriteReceiver bool
	// NoScrape leaves the self-scrape out, so the head's time follows
	// what is remote-written (it refuses samples an hour older than its
	// newest one); StartPrometheus then waits for /-/ready instead of a
	// first sample.
	NoScrape bool
}

// prometheusBin is the server binary Debian installs.
const prometheusBin = "prometheus"

// StartPrometheus writes a config scraping the server itself into dir and
// starts Prometheus on a free 127.0.0.1 port with its TSDB under dir/data,
// then waits until the HTTP API answers and `up` has a sample (the first
// self-scrape landed), at most 30 s.
func StartPrometheus(ctx context.Context, dir string, opt PrometheusOptions) (*Prometheus, error) {
	if _, err := exec.LookPath(prometheusBin); err != nil {
		return nil, fmt.Errorf("start prometheus: %w (%s)", err, InstallHint)
	}
	port := opt.Port
	if port == 0 {
		p, err := FreePort("tcp")
		if err != nil {
			return nil, fmt.Errorf("start prometheus: %w", err)
		}
		port = p
	}
	iv := opt.ScrapeInterval
	if iv <= 0 {
		iv = time.Second
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	conf := filepath.Join(dir, "prometheus.yml")
	yml := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: [%q]
`, promDuration(iv), promDuration(iv), addr)
	if opt.NoScrape {
		yml = fmt.Sprintf("global:\n  scrape_interval: %s\nscrape_configs: []\n", promDuration(iv))
	}
	if err := os.WriteFile(conf, []byte(yml), 0o644); err != nil {
		return nil, fmt.Errorf("start prometheus: %w", err)
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, fmt.Errorf("start prometheus: %w", err)
	}
	argv := []string{prometheusBin,
		"--config.file=" + conf,
		"--storage.tsdb.path=" + data,
		"--web.listen-address=" + addr,
		"--web.console.templates=" + filepath.Join(dir, "consoles"),
		"--web.console.libraries=" + filepath.Join(dir, "console_libraries"),
		"--log.level=warn",
	}
	if opt.RemoteWriteReceiver {
		argv = append(argv, "--web.enable-remote-write-receiver")
	}
	p, err := Start("prometheus", dir, nil, argv...)
	if err != nil {
		return nil, err
	}
	pr := &Prometheus{Process: p, Addr: addr, URL: "http://" + addr, ScrapeInterval: iv}
	client := &http.Client{Timeout: 2 * time.Second}
	if err := p.WaitFor(ctx, 30*time.Second, func(ctx context.Context) error {
		if opt.NoScrape {
			return pr.probeReady(ctx, client)
		}
		return pr.probeUp(ctx, client)
	}); err != nil {
		p.Stop()
		return nil, fmt.Errorf("start prometheus: %w", err)
	}
	return pr, nil
}

// probeUp succeeds once /api/v1/query?query=up returns at least one sample.
func (p *Prometheus) probeUp(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/api/v1/query?query=up", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("query up: HTTP %d", resp.StatusCode)
	}
	var r struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("query up: %w", err)
	}
	if len(r.Data.Result) == 0 {
		return errors.New("query up: no sample yet")
	}
	return nil
}

// probeReady succeeds once /-/ready answers 200.
func (p *Prometheus) probeReady(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/-/ready", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ready: HTTP %d", resp.StatusCode)
	}
	return nil
}

// promDuration renders d in Prometheus' duration syntax (whole
// milliseconds at least).
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(max(int64(d/time.Millisecond), 1), 10) + "ms"
}
