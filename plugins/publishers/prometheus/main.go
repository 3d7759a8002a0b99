// Command altimeter-publisher-prometheus is the Prometheus remote write
// publisher plugin: samples to Prometheus, VictoriaMetrics, Mimir or
// Thanos over remote write 1.0.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/publisher"
)

var version = "dev"

func spec() publisher.Spec[config] {
	return publisher.Spec[config]{
		Name:        "prometheus",
		Version:     version,
		Description: "Writes samples to Prometheus remote write 1.0 receivers (snappy protobuf); retries on 5xx and 429.",
		Defaults:    defaultConfig(),
		New: func(c config, log hclog.Logger) (publisher.Publisher, error) {
			return newRemoteWrite(c, log)
		},
	}
}

func main() { publisher.Serve(spec()) }
