// Command altimeter-publisher-notifier is the notifier publisher plugin:
// samples as oslo.messaging "sample" notifications on RabbitMQ, as
// Ceilometer's notifier:// publisher sends them.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/publisher"
)

var version = "dev"

func spec() publisher.Spec[config] {
	return publisher.Spec[config]{
		Name:        "notifier",
		Version:     version,
		Description: "Publishes samples as oslo.messaging sample notifications (event_type metering) on RabbitMQ, with publisher confirms.",
		Defaults:    defaultConfig(),
		New: func(c config, log hclog.Logger) (publisher.Publisher, error) {
			return newNotifier(c, log)
		},
	}
}

func main() { publisher.Serve(spec()) }
