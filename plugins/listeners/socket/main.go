// Command altimeter-listener-socket is the socket listener plugin: samples in
// Influx line protocol or Ceilometer JSON over TCP and UDP, and Ceilometer's
// signed msgpack datagrams over UDP.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/listener"
)

var version = "dev"

func spec() listener.Spec[config] {
	return listener.Spec[config]{
		Name:        "socket",
		Version:     version,
		Description: "Receives samples as Influx line protocol or Ceilometer JSON over TCP and UDP, and Ceilometer's signed msgpack datagrams over UDP.",
		Defaults:    defaultConfig(),
		New: func(c config, log hclog.Logger) (listener.Listener, error) {
			return newSocket(c, log)
		},
	}
}

func main() { listener.Serve(spec()) }
