// Command altimeter-publisher-udp is the udp publisher plugin: one msgpack
// datagram per sample, as Ceilometer's udp:// publisher sends, signed with
// the telemetry secret.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/publisher"
)

var version = "dev"

func spec() publisher.Spec[config] {
	return publisher.Spec[config]{
		Name:        "udp",
		Version:     version,
		Description: "Sends each sample as a signed msgpack datagram, as Ceilometer's udp publisher does.",
		Defaults:    defaultConfig(),
		New: func(c config, log hclog.Logger) (publisher.Publisher, error) {
			return newUDP(c, log)
		},
	}
}

func main() { publisher.Serve(spec()) }
