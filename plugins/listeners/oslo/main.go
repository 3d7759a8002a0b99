// Command altimeter-listener-oslo is the oslo listener plugin: OpenStack
// notifications from RabbitMQ, mapped to samples and events as Ceilometer's
// notification agent does.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/listener"
)

var version = "dev"

func spec() listener.Spec[config] {
	return listener.Spec[config]{
		Name:        "oslo",
		Version:     version,
		Description: "Consumes OpenStack (oslo.messaging) notifications from RabbitMQ and maps them to samples and events as Ceilometer's notification agent does.",
		Defaults:    defaultConfig(),
		MaxInFlight: 64,
		New: func(c config, log hclog.Logger) (listener.Listener, error) {
			return newOslo(c, log)
		},
	}
}

func main() { listener.Serve(spec()) }
