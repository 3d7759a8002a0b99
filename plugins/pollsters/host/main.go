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
		Name:        "host",
		Version:     version,
		Description: "This machine's CPU, load, memory, swap, disk, network and block I/O meters from /proc and statfs, named like Ceilometer's SNMP hardware meters.",
		Meters:      meters,
		Defaults: config{
			ProcRoot:       "/proc",
			ExcludeFSTypes: defaultExcludeFSTypes(),
			ExcludeIfaces:  []string{"lo"},
		},
		New: func(c config, log hclog.Logger) (pollster.Pollster, error) {
			return newHost(c, log)
		},
	}
}
