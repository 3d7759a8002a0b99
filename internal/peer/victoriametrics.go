package peer

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// VictoriaMetrics is a private single-node VictoriaMetrics (Debian's
// victoria-metrics 1.79) on 127.0.0.1, started by StartVictoriaMetrics,
// its data in its own directory. It takes remote write on
// URL+"/api/v1/write" and answers the Prometheus query API. Stop it with
// Stop (by PID, safe twice).
type VictoriaMetrics struct {
	*Process
	Addr, URL string
}

const victoriaBin = "victoria-metrics"

// StartVictoriaMetrics starts VictoriaMetrics on a free port with its data
// under dir/data and waits (at most 30 s) until /health answers. Reads see
// writes after FlushVictoriaMetrics, without the query cache and latency
// offset that would hide fresh samples.
func StartVictoriaMetrics(ctx context.Context, dir string) (*VictoriaMetrics, error) {
	port, err := FreePort("tcp")
	if err != nil {
		return nil, fmt.Errorf("start victoria-metrics: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, fmt.Errorf("start victoria-metrics: %w", err)
	}
	p, err := Start("victoria-metrics", dir, nil, victoriaBin,
		"-storageDataPath="+data, "-httpListenAddr="+addr, "-retentionPeriod=1d",
		"-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=WARN")
	if err != nil {
		return nil, err
	}
	vm := &VictoriaMetrics{Process: p, Addr: addr, URL: "http://" + addr}
	client := &http.Client{Timeout: 2 * time.Second}
	if err := p.WaitFor(ctx, 30*time.Second, func(ctx context.Context) error {
		return getOK(ctx, client, vm.URL+"/health")
	}); err != nil {
		p.Stop()
		return nil, fmt.Errorf("start victoria-metrics: %w", err)
	}
	return vm, nil
}

// Flush makes what was written searchable (GET /internal/force_flush).
func (vm *VictoriaMetrics) Flush(ctx context.Context) error {
	return getOK(ctx, &http.Client{Timeout: 5 * time.Second}, vm.URL+"/internal/force_flush")
}

func getOK(ctx context.Context, c *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}
