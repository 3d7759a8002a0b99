package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/pollster"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { pollster.Serve(spec()) }

// spec declares the plugin; tests run the same value over gRPC.
func spec() pollster.Spec[config] {
	return pollster.Spec[config]{
		Name:        "snmp",
		Version:     version,
		Description: "Ceilometer's hardware.* meters over SNMP v1/v2c/v3 from the agents named by snmp:// resources; meters are declarative and operators add their own.",
		Meters:      meterInfos(),
		// Operators add meters in config: the host sends the polling
		// block's patterns and selects the meters they match.
		DynamicMeters: true,
		Defaults:      defaultConfig(),
		New: func(c config, log hclog.Logger) (pollster.Pollster, error) {
			return newSNMP(c, log)
		},
	}
}
