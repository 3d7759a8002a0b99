package peer

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync/atomic"
)

// The ports FreePort hands out lie below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range, 32768-60999 by default). A test picks a
// port, releases it and gives it to a process that binds it later; a port
// from the ephemeral range (what binding :0 returns) can be taken in
// between by any outgoing connection on a busy machine, which makes the
// later bind fail with "address already in use". Below the range only a
// process binding that very number can take it.
const (
	portRangeLow      = 20000
	ephemeralLowDflt  = 32768
	portTries         = 500
	minNonEphemeral   = 1000 // fewer free numbers than this: fall back to :0
	ephemeralRangeSys = "/proc/sys/net/ipv4/ip_local_port_range"
)

// nextPort walks the range from a random start, so that one test process
// does not hand out a port twice while its first taker has not bound it
// yet, and two test processes start far apart. Process-wide on purpose:
// the ports are a machine-wide resource.
var nextPort = func() *atomic.Uint32 {
	var n atomic.Uint32
	n.Store(rand.Uint32N(1 << 16))
	return &n
}()

// FreePort returns a port on 127.0.0.1 that is free for both tcp and udp
// (network only names the caller's use), chosen below the kernel's
// ephemeral range where the machine allows it.
func FreePort(network string) (int, error) {
	if hi := ephemeralLow(); hi-portRangeLow >= minNonEphemeral {
		n := uint32(hi - portRangeLow)
		for range portTries {
			p := portRangeLow + int(nextPort.Add(1)%n)
			if bindable(p) {
				return p, nil
			}
		}
	}
	return ephemeralPort(network)
}

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile(ephemeralRangeSys)
	if err != nil {
		return ephemeralLowDflt
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil || lo <= 0 {
		return ephemeralLowDflt
	}
	return lo
}

// bindable tells whether 127.0.0.1:port can be bound for tcp and udp now.
func bindable(port int) bool {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer func() { _ = l.Close() }()
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	return c.Close() == nil
}

// ephemeralPort is a port the kernel picks for a bind to :0.
func ephemeralPort(network string) (int, error) {
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer func() { _ = c.Close() }()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer func() { _ = l.Close() }()
		return l.Addr().(*net.TCPAddr).Port, nil
	}
}
