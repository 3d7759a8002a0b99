package main

import (
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/transformer"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { transformer.Serve(spec(time.Now)) }

// spec declares the plugin; tests run the same value over gRPC, with their
// own clock.
func spec(now func() time.Time) transformer.Spec[config] {
	return transformer.Spec[config]{
		Name:        "aggregator",
		Version:     version,
		Description: "Ceilometer's aggregator transformer: one sample per resource and meter (and project or user) over size samples or retention_time.",
		Defaults:    config{Meters: []string{"*"}, Unmatched: "pass", ResourceMetadata: "last", Timestamp: "first", MaxGroups: 100_000},
		New: func(c config, log hclog.Logger) (transformer.Transformer, error) {
			return newAggregator(c, log, now)
		},
	}
}
