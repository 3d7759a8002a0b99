package store

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/host/store/series"
	"github.com/altimeter/altimeter/sdk/sample"
)

// benchStatsStore holds bench/store's workload scaled down: resources x 3
// meters x 200 points at 60 s from an hour-aligned t0, written in time
// order in batches of 1,000 and compacted, under the "medium" policy.
func benchStatsStore(b *testing.B, resources int) *Store {
	b.Helper()
	o := Options{Logger: hclog.NewNullLogger(), Now: func() time.Time { return t0.Add(5 * time.Hour) }}
	o.Series.Policies = series.DefaultPolicies()
	o.Series.Rules = []series.Rule{{Pattern: "*", Policy: "medium"}}
	s, err := Open(b.Context(), b.TempDir(), o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	meters := []string{"cpu_util", "memory.usage", "disk.read.bytes"}
	batch := make([]sample.Sample, 0, 1000)
	for i := range 200 {
		for r := range resources {
			for _, m := range meters {
				batch = append(batch, sample.Sample{Name: m, Type: sample.Gauge, Unit: "u", Volume: float64(i + r),
					ResourceID: fmt.Sprintf("resource-%05d", r), ProjectID: fmt.Sprint("project-", r/100), UserID: fmt.Sprint("user-", r%37),
					Source: "bench", Timestamp: t0.Add(time.Duration(i) * time.Minute),
					Metadata: map[string]string{"flavor.name": "m1.small", "host": fmt.Sprint("compute-", r%20)}})
				if len(batch) == cap(batch) {
					if err := s.Write(b.Context(), batch); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
		}
	}
	if err := s.Write(b.Context(), batch); err != nil {
		b.Fatal(err)
	}
	if err := s.Compact(b.Context()); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkStatisticsResource is bench/store's Q1: hourly statistics of
// one meter of one resource over the whole range.
func BenchmarkStatisticsResource(b *testing.B) {
	const resources = 1000
	s := benchStatsStore(b, resources)
	rng := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		st, err := s.Statistics(b.Context(), StatsQuery{Filter: Filter{Meter: "cpu_util",
			ResourceID: fmt.Sprintf("resource-%05d", rng.IntN(resources)), Start: t0, End: t0.Add(4 * time.Hour)}, Period: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		if len(st) != 4 {
			b.Fatalf("%d rows, want 4", len(st))
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time: on a loaded machine
// it varies less than the wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStatisticsMeter is bench/store's Q3: hourly statistics of one
// meter over all resources, which the per-meter roll-ups answer.
func BenchmarkStatisticsMeter(b *testing.B) {
	s := benchStatsStore(b, 1000)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		st, err := s.Statistics(b.Context(), StatsQuery{Filter: Filter{Meter: "cpu_util", Start: t0, End: t0.Add(4 * time.Hour)}, Period: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		if len(st) != 4 {
			b.Fatalf("%d rows, want 4", len(st))
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
