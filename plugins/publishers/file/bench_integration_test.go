package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/altimeter/altimeter/internal/pubbench"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// BenchmarkIntegrationPublish is the baseline of the publishers'
// benchmarks (scripts/bench.sh): the same batches over the same gRPC path
// into a local file, no peer.
func BenchmarkIntegrationPublish(b *testing.B) {
	c := sdktest.Publisher(b, spec(), fmt.Sprintf("path = %q\nmax_bytes = 0\n", filepath.Join(b.TempDir(), "out.jsonl")))
	pubbench.Run(b, c, 0, nil)
}
