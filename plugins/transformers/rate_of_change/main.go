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
		Name:        "rate_of_change",
		Version:     version,
		Description: "Ceilometer's rate_of_change transformer: the per-second rate of change of each series, scaled, renamed, re-united and re-typed (cpu_util from cpu, disk and network rates).",
		Defaults:    config{Meters: []string{"*"}, Unmatched: "pass", IdleExpiry: "1h", MaxSeries: 100_000},
		New: func(c config, log hclog.Logger) (transformer.Transformer, error) {
			return newRate(c, log)
		},
	}
}
