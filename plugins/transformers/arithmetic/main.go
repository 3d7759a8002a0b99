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
		Name:        "arithmetic",
		Version:     version,
		Description: "Ceilometer's arithmetic transformer: a new sample per resource from an expression over several meters, e.g. $(memory.usage) / $(memory) * 100.",
		Defaults:    config{Unmatched: "pass", Window: "1m", MaxResources: 100_000},
		New: func(c config, log hclog.Logger) (transformer.Transformer, error) {
			return newArithmetic(c, log, now)
		},
	}
}
