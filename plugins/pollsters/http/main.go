package main

import (
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/pollster"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { pollster.Serve(spec()) }

// spec declares the plugin; tests run the same value over gRPC. Its meters
// are defined in configuration (meter blocks), so Spec.Meters is empty.
func spec() pollster.Spec[config] {
	return pollster.Spec[config]{
		Name: "http",
		// Every meter of this plugin is defined in config.
		DynamicMeters: true,
		Version:       version,
		Description:   "Ceilometer's dynamic pollsters: meters read from any HTTP JSON or text API, each defined by a meter block (URL, paths to entries, value, IDs and metadata).",
		Discovery: []base.Discovery{{
			Name:        discoveryMethod,
			Description: "One resource per meter block (ID = the block's name), for the host's resource-ownership hook; the parameter, if any, is a glob on names.",
		}},
		Defaults: defaultConfig(),
		New: func(c config, log hclog.Logger) (pollster.Pollster, error) {
			return newPoller(c, log, os.Getenv)
		},
	}
}
