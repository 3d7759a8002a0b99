package main

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/sample"
)

// benchSeries is the cache size the goal is stated for.
const benchSeries = 100_000

var benchT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// seriesBatch returns batch k (1,000 samples) of n series of libvirt-like
// cpu samples (one series per resource, a UUID each, the pollster's
// metadata), with fresh strings as a decoded batch has; round r is r*10 s
// later and 5e9 ns higher.
func seriesBatch(n, k, round int) []sample.Sample {
	md := map[string]string{"cpu_number": "2", "flavor.name": "m1.small", "host": "compute-1", "state": "running"}
	ts := benchT0.Add(time.Duration(round) * 10 * time.Second)
	b := make([]sample.Sample, 0, 1000)
	for i := k * 1000; i < min((k+1)*1000, n); i++ {
		b = append(b, sample.Sample{
			Name: "cpu", Type: sample.Cumulative, Unit: "ns", Volume: float64(round) * 5e9,
			ResourceID: fmt.Sprintf("%08x-1111-4222-8333-%012x", i, i),
			ProjectID:  "p", UserID: "u", Timestamp: ts, Source: "openstack",
			MessageID: fmt.Sprintf("%08x-%04x-4000-8000-%012x", i, round&0xffff, i), Metadata: md,
		})
	}
	return b
}

func benchRate(tb testing.TB) *rate {
	c := defaults()
	c.Meters, c.Name, c.Unit, c.Type = []string{"cpu"}, ptr("cpu_util"), ptr("%"), ptr("gauge")
	c.Scale = ptr("100.0 / (10**9 * (resource_metadata.cpu_number or 1))")
	c.MaxSeries = 2 * benchSeries
	r, err := newRate(c, hclog.NewNullLogger())
	require.NoError(tb, err)
	return r
}

func ptr(s string) *string { return &s }

// cpuTime is the CPU time this process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTransform is rate_of_change's own work, in this process, with
// 100,000 series in its cache: cpu_util from 1,000-sample batches.
//
//	go test -run '^$' -bench Transform -benchmem ./plugins/transformers/rate_of_change/
func BenchmarkTransform(b *testing.B) {
	r := benchRate(b)
	const batches = benchSeries / 1000
	src := make([][]sample.Sample, batches)
	for k := range src {
		src[k] = seriesBatch(benchSeries, k, 0)
		if _, err := r.Transform(b.Context(), append([]sample.Sample(nil), src[k]...)); err != nil { // fill the cache
			b.Fatal(err)
		}
	}
	work := make([]sample.Sample, 1000)
	b.ReportAllocs()
	cpu0 := cpuTime()
	i := 0
	for b.Loop() {
		// Each pass over the series is a poll 10 s after the previous one.
		round, k := 1+i/batches, i%batches
		copy(work, src[k])
		for j := range work {
			work[j].Timestamp = benchT0.Add(time.Duration(round) * 10 * time.Second)
			work[j].Volume = float64(round) * 5e9
		}
		out, err := r.Transform(b.Context(), work)
		if err != nil || len(out) != len(work) {
			b.Fatalf("%d samples out of %d: %v", len(out), len(work), err)
		}
		i++
	}
	// On a shared machine the wall clock counts other processes' turns;
	// the CPU time this process used per sample does not.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*1000), "cpu-ns/sample")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/sample")
	require.Equal(b, benchSeries, r.series.Cache.Len())
}

// TestMemoryPerSeries measures the heap a cached series costs: the cache
// entry, its share of the index map, and the key's strings (the resource id
// is the sample's own string, kept; the meter name is shared).
func TestMemoryPerSeries(t *testing.T) {
	r := benchRate(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for k := range benchSeries / 1000 {
		_, err := r.Transform(t.Context(), seriesBatch(benchSeries, k, 0))
		require.NoError(t, err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / benchSeries
	t.Logf("%.0f bytes of heap per cached series (%d series)", per, r.series.Cache.Len())
	// A bound, not a timing: past it the cache grew.
	require.Less(t, per, 400.0)
	runtime.KeepAlive(r)
}
