// Command altimeter-publisher-http is the http publisher plugin: sample
// batches posted to another agent's POST /v2/meters/{name}, idempotently
// (message ids), with retries on 5xx and timeouts.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/publisher"
)

var version = "dev"

func spec() publisher.Spec[config] {
	return publisher.Spec[config]{
		Name:        "http",
		Version:     version,
		Description: "Posts samples to an Altimeter API (POST /v2/meters/{name}) with message ids; retries on 5xx and timeouts.",
		Defaults:    defaultConfig(),
		New: func(c config, log hclog.Logger) (publisher.Publisher, error) {
			return newHTTP(c, log)
		},
	}
}

func main() { publisher.Serve(spec()) }
