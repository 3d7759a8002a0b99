// Command altimeter-publisher-gnocchi is the gnocchi publisher plugin:
// samples as Gnocchi measures on resources of Ceilometer's resource types.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/publisher"
)

var version = "dev"

func spec() publisher.Spec[config] {
	return publisher.Spec[config]{
		Name:        "gnocchi",
		Version:     version,
		Description: "Posts samples to Gnocchi as measures (batch endpoint, create_metrics) on resources of Ceilometer's types (gnocchi_resources.yaml).",
		Defaults:    defaultConfig(),
		New: func(c config, log hclog.Logger) (publisher.Publisher, error) {
			return newGnocchi(c, log)
		},
	}
}

func main() { publisher.Serve(spec()) }
