package main

import (
	"context"
	"testing"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/internal/pubbench"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// BenchmarkIntegrationPublish remote-writes batches of 1,000 samples to a
// real Prometheus 2.42 and a real VictoriaMetrics 1.79.
func BenchmarkIntegrationPublish(b *testing.B) {
	peer.Need(b)
	ctx := context.Background()
	b.Run("peer=prometheus", func(b *testing.B) {
		prom, err := peer.StartPrometheus(ctx, b.TempDir(), peer.PrometheusOptions{RemoteWriteReceiver: true, NoScrape: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(prom.Stop)
		c := sdktest.Publisher(b, spec(), `url = "`+prom.URL+`/api/v1/write"`)
		pubbench.Run(b, c, prom.PID(), nil)
	})
	b.Run("peer=victoriametrics", func(b *testing.B) {
		vm, err := peer.StartVictoriaMetrics(ctx, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(vm.Stop)
		c := sdktest.Publisher(b, spec(), `url = "`+vm.URL+`/api/v1/write"`)
		pubbench.Run(b, c, vm.PID(), nil)
	})
}
