package main

import (
	"runtime"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/xform/xformtest"
)

// BenchmarkTransform is rate_of_change's own work, in this process:
// cpu_util from 1,000-sample batches with 100,000 series in its cache.
// bench/roundtrip's BenchmarkTransformerProcess runs the same workload
// through the plugin process.
//
//	go test -run '^$' -bench Transform -benchmem ./plugins/transformers/rate_of_change/
func BenchmarkTransform(b *testing.B) {
	xformtest.BenchTransform(b, xformtest.New(b, spec(), xformtest.BenchConfigs["rate_of_change"]), "rate_of_change")
}

// TestMemoryPerSeries measures the heap a cached series costs (the cache
// entry and its share of the index), with the benchmark's 100,000 series.
func TestMemoryPerSeries(t *testing.T) {
	r, err := newRate(defaults(), hclog.NewNullLogger())
	require.NoError(t, err)
	batch, batches := xformtest.BenchWorkload("rate_of_change")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for k := range batches {
		_, err := r.Transform(t.Context(), batch(k, 0))
		require.NoError(t, err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	require.Equal(t, xformtest.BenchSeries, r.series.Cache.Len())
	per := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / xformtest.BenchSeries
	t.Logf("%.0f bytes of heap per cached series (%d series)", per, r.series.Cache.Len())
	// A bound, not a timing: past it the cache grew.
	require.Less(t, per, 200.0)
	runtime.KeepAlive(r)
}

// BenchmarkTransformRaw is BenchmarkTransform through TransformRaw: the
// batches in their wire form, as the plugin's SDK hands them over.
func BenchmarkTransformRaw(b *testing.B) {
	xformtest.BenchTransformRaw(b, xformtest.New(b, spec(), xformtest.BenchConfigs["rate_of_change"]), "rate_of_change")
}
