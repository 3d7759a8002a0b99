package e2e

import "fmt"

// forwarder is the config of an agent that takes Influx lines on a socket
// listener at 127.0.0.1:port (batches of at most batchSize samples) and
// publishes them through sink "out" with publish, an HCL publish block.
func forwarder(port, batchSize int, publish string) string {
	return fmt.Sprintf(`
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}

listener "socket" "in" {
  tcp           = "127.0.0.1:%d"
  batch_size    = %d
  batch_timeout = "20ms"
  sinks         = ["out"]
}

sink "out" {
%s
}
`, port, batchSize, publish)
}
