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
		Name:        "unit_conversion",
		Version:     version,
		Description: "Ceilometer's unit_conversion transformer: renames, re-units, re-types and rescales the samples of the meters it applies to.",
		Defaults:    config{Meters: []string{"*"}},
		New: func(c config, log hclog.Logger) (transformer.Transformer, error) {
			return newConverter(c, log)
		},
	}
}
