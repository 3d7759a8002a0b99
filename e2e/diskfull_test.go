package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
)

// diskFullTmpl is storeTmpl with the store's minimum free space set for a
// small file system.
const diskFullTmpl = storeTmpl + `
store {
  min_free_mb = 8
}
`

// chaosClients posts batches of samples with unique message ids from four
// clients, as a well-behaved client does: a batch answered 503 (or lost to
// a dead agent) is posted again, unchanged, after a short pause; a batch
// answered 201 is acknowledged.
type chaosClients struct {
	base, token string
	stop        chan struct{}
	stopOnce    sync.Once
	wg          sync.WaitGroup

	mu       sync.Mutex
	acked    map[string]bool
	inFlight int // batches posted at least once and not acknowledged

	ok, unavailable, down atomic.Int64
	other                 atomic.Value // first unexpected answer
}

const chaosBatch = 500

func startChaos(t *testing.T, base, token string) *chaosClients {
	c := &chaosClients{base: base, token: token, stop: make(chan struct{}), acked: map[string]bool{}}
	ts := time.Now().Add(-10 * time.Minute)
	for w := range 4 {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			hc := &http.Client{Timeout: 20 * time.Second}
			for n := 0; ; n++ {
				ids := make([]string, chaosBatch)
				body := make([]map[string]any, chaosBatch)
				for i := range body {
					k := n*chaosBatch + i
					ids[i] = fmt.Sprintf("70000000-0000-4000-8%03d-%012d", w, k)
					body[i] = oldSample("chaos.m", fmt.Sprintf("r-%d-%d", w, i%20), "p-chaos", ids[i], float64(k),
						ts.Add(time.Duration(k)*time.Millisecond))
				}
				raw, _ := json.Marshal(body)
				c.mu.Lock()
				c.inFlight++
				c.mu.Unlock()
				for {
					select {
					case <-c.stop:
						return
					default:
					}
					code := c.post(hc, raw)
					if code == http.StatusCreated {
						c.ok.Add(1)
						c.mu.Lock()
						for _, id := range ids {
							c.acked[id] = true
						}
						c.inFlight--
						c.mu.Unlock()
						break
					}
					switch code {
					case http.StatusServiceUnavailable:
						c.unavailable.Add(1)
					case 0:
						c.down.Add(1)
					default:
						c.other.CompareAndSwap(nil, fmt.Sprintf("POST answered %d", code))
					}
					select {
					case <-c.stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
		}()
	}
	return c
}

// post sends one batch; 0 means no answer (the agent is down).
func (c *chaosClients) post(hc *http.Client, raw []byte) int {
	req, _ := http.NewRequest("POST", c.base+"/v2/meters/chaos.m", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", c.token)
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
		c.other.CompareAndSwap(nil, "503 without Retry-After")
	}
	return resp.StatusCode
}

func (c *chaosClients) halt() {
	c.stopOnce.Do(func() { close(c.stop) })
	c.wg.Wait()
}

// samplesOf lists every sample of meter, a page of 1,000 at a time.
func samplesOf(c *client, meter string) []map[string]any {
	var all []map[string]any
	marker := ""
	for {
		page := c.list(fmt.Sprintf("/v2/meters/%s?limit=1000&marker=%s", meter, marker))
		all = append(all, page...)
		if len(page) < 1000 {
			return all
		}
		marker = page[len(page)-1]["message_id"].(string)
	}
}

// TestIntegrationStoreDiskFull is issue 9's chaos test: four clients post
// batches while the agent's data dir sits on a 64 MiB tmpfs that a filler
// file has nearly filled. The disk fills: posts are answered 503 with
// Retry-After, logged once, counted in /metrics, and the agent stays up.
// The agent is SIGKILLed while the disk is full and started again on the
// full disk; then the filler is removed and writing resumes by itself.
// Every acknowledged sample is stored exactly once, the agent never exits
// by itself, and SIGTERM during a query ends it cleanly.
func TestIntegrationStoreDiskFull(t *testing.T) {
	skipShort(t)
	mnt := peer.Tmpfs(t, 64)
	filler := peer.Fill(t, mnt, peer.Free(t, mnt)-14<<20) // 14 MiB for the agent, 8 of them kept free
	a := startAgentData(t, diskFullTmpl, filepath.Join(mnt, "data"))
	admin := &client{t: t, base: "http://" + a.api, token: a.adminToken()}
	c := startChaos(t, admin.base, admin.token)
	defer c.halt()
	alive := func() {
		t.Helper()
		select {
		case <-a.exited:
			t.Fatalf("the agent exited by itself:\n%s", a.log.String())
		default:
		}
	}

	// The disk fills up: writes are refused, the agent stays up.
	// (Compactions free some space now and then: writes resume and the
	// disk fills again, each time with one line logged.)
	waitFor(t, 45*time.Second, "posts answered 503", func() bool { alive(); return c.unavailable.Load() >= 40 })
	require.Nil(t, c.other.Load())
	waitFor(t, 10*time.Second, "the disk full gauge", func() bool { return metric(a.metrics(), "altimeter_store_disk_full") == 1 })
	require.Positive(t, metric(a.metrics(), `altimeter_store_writes_refused_total{reason="min_free"}`))
	episodes := strings.Count(a.log.String(), "disk full: store writes refused")
	require.GreaterOrEqual(t, episodes, 1)
	require.Less(t, int64(episodes)*4, c.unavailable.Load(), "one log line per episode, not one per request")
	require.NotContains(t, a.log.String(), "request failed", "503s are not logged per request")
	rows := admin.list("/v2/meters/chaos.m?limit=5")
	require.Len(t, rows, 5, "reads go on while the disk is full")

	// SIGKILL while the disk is full; the agent starts again on it.
	a.pluginPIDs()
	require.NoError(t, a.cmd.Process.Kill())
	a.restart()
	refused := c.unavailable.Load()
	waitFor(t, 20*time.Second, "posts answered 503 after the restart", func() bool {
		alive()
		return c.unavailable.Load() > refused && metric(a.metrics(), "altimeter_store_disk_full") == 1
	})

	// Space comes back: writing resumes by itself.
	require.NoError(t, os.Remove(filler))
	okBefore := c.ok.Load()
	waitFor(t, 30*time.Second, "writes resume", func() bool { alive(); return c.ok.Load() >= okBefore+20 })
	require.Equal(t, 0.0, metric(a.metrics(), "altimeter_store_disk_full"))
	require.Contains(t, a.log.String(), "disk space back: store writes resume")
	c.halt()
	require.Nil(t, c.other.Load())
	alive()
	t.Logf("acknowledged %d samples; %d posts answered 503, %d unanswered (agent down)", len(c.acked), c.unavailable.Load(), c.down.Load())

	// Every acknowledged sample is stored, exactly once.
	stats := admin.list("/v2/meters/chaos.m/statistics")
	require.Len(t, stats, 1)
	count := int(stats[0]["count"].(float64))
	require.GreaterOrEqual(t, count, len(c.acked), "every acknowledged sample is stored")
	require.LessOrEqual(t, count, len(c.acked)+c.inFlight*chaosBatch, "only batches never acknowledged may be stored beyond them")
	stored := map[string]bool{}
	for _, row := range samplesOf(admin, "chaos.m") {
		id := row["message_id"].(string)
		require.False(t, stored[id], "sample %s stored twice", id)
		stored[id] = true
	}
	require.Len(t, stored, count)
	for id := range c.acked {
		require.True(t, stored[id], "acknowledged sample %s is missing", id)
	}

	// SIGTERM while queries run: the store waits for them (or cancels
	// them) before it closes; the agent ends cleanly.
	var qwg sync.WaitGroup
	for range 4 {
		qwg.Add(1)
		go func() {
			defer qwg.Done()
			hc := &http.Client{Timeout: 20 * time.Second}
			for i := 0; ; i++ {
				req, _ := http.NewRequest("GET", admin.base+"/v2/meters/chaos.m/statistics?period=1&groupby=resource_id", nil)
				req.Header.Set("X-Auth-Token", admin.token)
				resp, err := hc.Do(req)
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // queries in flight
	a.pluginPIDs()
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-a.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the agent did not stop within 20 s of SIGTERM")
	}
	qwg.Wait()
	require.Equal(t, 0, a.cmd.ProcessState.ExitCode(), a.log.String())
	require.NotContains(t, a.log.String(), "panic")
}
