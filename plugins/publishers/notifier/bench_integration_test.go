package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/internal/pubbench"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// BenchmarkIntegrationPublish publishes signed oslo notifications of 100
// samples each, with publisher confirms, to a private RabbitMQ broker
// (whose queue keeps them).
func BenchmarkIntegrationPublish(b *testing.B) {
	rmq := peer.NeedPrivateRabbitMQ(b)
	sf := filepath.Join(b.TempDir(), "secret")
	if err := os.WriteFile(sf, []byte(secret), 0o600); err != nil {
		b.Fatal(err)
	}
	c := sdktest.Publisher(b, spec(), fmt.Sprintf("transport_url = %q\ntelemetry_secret_file = %q\n", rmq.URL(""), sf))
	pubbench.Run(b, c, rmq.PID(), nil)
}
