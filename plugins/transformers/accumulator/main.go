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
		Name:        "accumulator",
		Version:     version,
		Description: "Ceilometer's accumulator transformer: holds samples until it has size of them, then passes them all on.",
		Defaults:    config{Meters: []string{"*"}, Unmatched: "pass", Size: 1},
		New: func(c config, log hclog.Logger) (transformer.Transformer, error) {
			return newAccumulator(c, log)
		},
	}
}
