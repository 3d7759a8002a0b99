// Command altimeter-publisher-file is the file publisher plugin: samples
// appended to a local file as Ceilometer JSON lines or Influx line protocol.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/publisher"
)

var version = "dev"

func spec() publisher.Spec[config] {
	return publisher.Spec[config]{
		Name:        "file",
		Version:     version,
		Description: "Appends samples to a file as Ceilometer JSON lines or Influx line protocol, with size-based rotation.",
		Defaults:    defaultConfig(),
		New: func(c config, log hclog.Logger) (publisher.Publisher, error) {
			return newFile(c, log)
		},
	}
}

func main() { publisher.Serve(spec()) }
