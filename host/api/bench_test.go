package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/sample"
)

// cpuTime is the process's user and system CPU time: on a shared machine
// it varies far less than wall time, which waits for other processes.
func cpuTime() time.Duration { return peer.SelfCPU() }

// reportCPU reports the CPU time per op since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkPostSamples posts batches of 1,000 samples with message ids (as
// a client that wants retries to be safe) through the real store: the
// POST /v2/meters path of the crash test. It reports samples/s.
func BenchmarkPostSamples(b *testing.B) { benchPost(b, tokAdmin) }

// BenchmarkPostSamplesMember is BenchmarkPostSamples with a member token:
// the write checks that the project owns the resources it names.
func BenchmarkPostSamplesMember(b *testing.B) { benchPost(b, tokA) }

func benchPost(b *testing.B, token string) {
	srv := realStoreServer(b)
	bodies := postBodies(b.N)
	b.ResetTimer()
	cpu := cpuTime()
	for n := 0; n < b.N; n++ {
		req := httptest.NewRequest("POST", "/v2/meters/bench", bytes.NewReader(bodies[n]))
		req.Header.Set(TokenHeader, token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("POST: %d %s", rec.Code, rec.Body.String())
		}
	}
	reportCPU(b, cpu)
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "samples/s")
}

// postBodies are count bodies of 1,000 samples each with distinct message
// ids and timestamps, 50 resources, metadata.
func postBodies(count int) [][]byte {
	ts := time.Now().Add(-time.Hour)
	bodies := make([][]byte, count)
	for n := range bodies {
		items := make([]map[string]any, 1000)
		for i := range items {
			items[i] = map[string]any{
				"counter_name": "bench", "counter_type": "gauge", "counter_unit": "req", "counter_volume": float64(i),
				"resource_id": fmt.Sprintf("r-%d", i%50), "project_id": projectA, "user_id": "u",
				"message_id":        fmt.Sprintf("50000000-0000-4000-8000-%012d", n*1000+i),
				"timestamp":         ts.Add(time.Duration(n*1000+i) * time.Microsecond).UTC().Format("2006-01-02T15:04:05.000000"),
				"resource_metadata": map[string]string{"tier": "web"},
			}
		}
		bodies[n], _ = json.Marshal(items)
	}
	return bodies
}

// BenchmarkPostSamplesHTTP is BenchmarkPostSamples over real HTTP on
// loopback: four clients, each on its own keep-alive connection, post
// the batches at once and read the answers (issue 14's goal: 100k
// samples/s). Its samples/s against BenchmarkPostSamples' in the same run
// is the cost of HTTP and of the clients sharing the machine.
func BenchmarkPostSamplesHTTP(b *testing.B) {
	const clients = 4
	srv := realStoreServer(b)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	bodies := postBodies(b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	b.ResetTimer()
	cpu := cpuTime()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer c.CloseIdleConnections()
			for n := int(next.Add(1) - 1); n < len(bodies); n = int(next.Add(1) - 1) {
				if err := postOnce(c, hs.URL+"/v2/meters/bench", bodies[n]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	reportCPU(b, cpu)
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "samples/s")
}

// postOnce posts body as the admin and reads the answer, a 201.
func postOnce(c *http.Client, url string, body []byte) error {
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("new request: %w", err)
	}
	req.Header.Set(TokenHeader, tokAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("POST: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST: %d %s", resp.StatusCode, answer)
	}
	return nil
}

// benchStore is a real store (clock t0+1h) holding 50 resources x 2,000
// samples of meter "bench", 100 ms apart, with metadata.
func benchStore(b *testing.B) *store.Store {
	b.Helper()
	st, err := store.Open(b.Context(), b.TempDir(), store.Options{Logger: hclog.NewNullLogger(), Now: func() time.Time { return t0.Add(time.Hour) }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	batch := make([]sample.Sample, 0, 1000)
	for r := range 50 {
		md := map[string]string{"tier": fmt.Sprint("t", r%5), "host": fmt.Sprint("h", r%10), "flavor.name": "m1.small"}
		for i := range 2000 {
			batch = append(batch, sample.Sample{Name: "bench", Type: sample.Gauge, Unit: "req", Volume: float64(i),
				ResourceID: fmt.Sprint("r-", r), ProjectID: projectA, UserID: "u", Source: "openstack",
				Timestamp: t0.Add(time.Duration(i) * 100 * time.Millisecond), Metadata: md,
				MessageID: fmt.Sprintf("60000000-0000-4000-8000-%012d", r*2000+i)})
			if len(batch) == cap(batch) {
				if err := st.Write(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	return st
}

// BenchmarkStatistics asks GET /v2/meters/bench/statistics of 100,000
// samples: one bucket per minute from the series engine, grouped by
// resource (50 groups), and grouped by metadata (raw samples, 5 groups).
func BenchmarkStatistics(b *testing.B) {
	st := benchStore(b)
	srv := New(Options{Store: st, Writer: st, Auth: testAuth})
	b.ResetTimer()
	for _, tc := range []struct{ name, query string }{
		{"period", "period=60"},
		{"groupby=resource", "period=60&groupby=resource_id"},
		{"groupby=metadata", "groupby=metadata.tier"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cpu := cpuTime()
			for n := 0; n < b.N; n++ {
				rec := call(b, srv, "GET", "/v2/meters/bench/statistics?"+tc.query, tokAdmin, "")
				if rec.Code != http.StatusOK {
					b.Fatalf("GET: %d %s", rec.Code, rec.Body.String())
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkListSamples lists the newest 1,000 of 100,000 samples, with
// their metadata.
func BenchmarkListSamples(b *testing.B) {
	st := benchStore(b)
	srv := New(Options{Store: st, Writer: st, Auth: testAuth})
	b.ResetTimer()
	cpu := cpuTime()
	for n := 0; n < b.N; n++ {
		rec := call(b, srv, "GET", "/v2/samples?limit=1000", tokAdmin, "")
		if rec.Code != http.StatusOK {
			b.Fatalf("GET: %d %s", rec.Code, rec.Body.String())
		}
	}
	reportCPU(b, cpu)
}
