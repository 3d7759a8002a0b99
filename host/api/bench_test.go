package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkPostSamples posts batches of 1,000 samples with message ids (as
// a client that wants retries to be safe) through the real store: the
// POST /v2/meters path of the crash test. It reports samples/s.
func BenchmarkPostSamples(b *testing.B) { benchPost(b, tokAdmin) }

// BenchmarkPostSamplesMember is BenchmarkPostSamples with a member token:
// the write checks that the project owns the resources it names.
func BenchmarkPostSamplesMember(b *testing.B) { benchPost(b, tokA) }

func benchPost(b *testing.B, token string) {
	srv := realStoreServer(b)
	ts := time.Now().Add(-time.Hour)
	bodies := make([][]byte, b.N)
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
	b.ResetTimer()
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
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "samples/s")
}
