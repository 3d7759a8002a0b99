package main

import (
	"testing"

	"github.com/altimeter/altimeter/internal/xform/xformtest"
)

// BenchmarkTransform is the transformer's own work, in this process, on
// xformtest's workload (1,000-sample batches of 100,000 series);
// bench/roundtrip's BenchmarkTransformerProcess runs the same through the
// plugin process.
func BenchmarkTransform(b *testing.B) {
	xformtest.BenchTransform(b, xformtest.New(b, spec(), xformtest.BenchConfigs["delta"]), "delta")
}
