package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/transformer"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { transformer.Serve(spec()) }

// spec declares the plugin; tests run the same value over gRPC.
func spec() transformer.Spec[config] {
	return transformer.Spec[config]{
		Name:        "delta",
		Version:     version,
		Description: "Ceilometer's delta transformer: the difference between consecutive samples of each series, as a delta sample (cpu.delta from cpu).",
		Defaults:    config{Meters: []string{"*"}, Unmatched: "pass", IdleExpiry: "1h", MaxSeries: 100_000},
		New: func(c config, log hclog.Logger) (transformer.Transformer, error) {
			return newDelta(c, log)
		},
	}
}
