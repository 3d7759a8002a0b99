package main

import (
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/altimeter/altimeter/internal/pubbench"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// BenchmarkIntegrationPublish sends signed msgpack datagrams to a UDP
// socket read in this process (its CPU counts in cpu-s/Msample); the
// benchmark ends when every datagram has been read, and reports the
// datagrams the kernel dropped, if any.
func BenchmarkIntegrationPublish(b *testing.B) {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pc.Close() })
	_ = pc.SetReadBuffer(8 << 20)
	var got atomic.Int64
	go func() {
		buf := make([]byte, 65535)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			got.Add(1)
		}
	}()
	c := sdktest.Publisher(b, spec(), fmt.Sprintf("address = %q\ntelemetry_secret_file = %q\n", pc.LocalAddr().String(), secretFile(b)))
	pubbench.Run(b, c, 0, func(sent int) error {
		deadline := time.Now().Add(10 * time.Second)
		for got.Load() < int64(sent) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		b.ReportMetric(float64(int64(sent)-got.Load()), "dropped")
		return nil
	})
}
