package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/sample"
)

// benchListStore holds 50 resources × 2,000 samples of one meter, every
// 100 ms over the same 200 s, so that a listing's newest rows come from
// every series and its bounded heap keeps replacing its worst row.
func benchListStore(b *testing.B) *Store {
	b.Helper()
	s, err := Open(b.Context(), b.TempDir(), Options{Logger: hclog.NewNullLogger(), Now: func() time.Time { return t0.Add(time.Hour) }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	batch := make([]sample.Sample, 0, 1000)
	for r := range 50 {
		md := map[string]string{"tier": fmt.Sprint("t", r%5), "host": fmt.Sprint("h", r%10)}
		for i := range 2000 {
			// The resources' timestamps interleave (r ms apart) rather than tie.
			batch = append(batch, sample.Sample{Name: "bench", Type: sample.Gauge, Unit: "req", Volume: float64(i),
				ResourceID: fmt.Sprint("r-", r), ProjectID: "p", UserID: "u", Source: "openstack",
				Timestamp: t0.Add(time.Duration(i)*100*time.Millisecond + time.Duration(r)*time.Millisecond), Metadata: md,
				MessageID: fmt.Sprintf("60000000-0000-4000-8000-%012d", r*2000+i)})
			if len(batch) == cap(batch) {
				if err := s.Write(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	return s
}

// BenchmarkSamples lists the newest rows of benchListStore's 100,000
// samples by the default order: the point path (no Match), and the row
// path (a Match predicate; "1 in 5" keeps one tier of five, so five times
// the rows are built for each kept).
func BenchmarkSamples(b *testing.B) {
	s := benchListStore(b)
	tier0 := func(row *Sample) bool { return row.Metadata["tier"] == "t0" }
	all := func(*Sample) bool { return true }
	for _, tc := range []struct {
		name  string
		limit int
		match func(*Sample) bool
	}{
		{"points/limit=100", 100, nil},
		{"points/limit=10000", 10000, nil},
		{"match/limit=100", 100, all},
		{"match/limit=10000", 10000, all},
		{"match_1in5/limit=1000", 1000, tier0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rows, err := s.Samples(b.Context(), Filter{Meter: "bench"}, ListOptions{Limit: tc.limit, Match: tc.match})
				if err != nil {
					b.Fatal(err)
				}
				if len(rows) != tc.limit {
					b.Fatalf("%d rows, want %d", len(rows), tc.limit)
				}
			}
		})
	}
}
