package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/listener"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// procUDPDrops reads the drops column of the /proc/net/udp line of the
// socket bound to 127.0.0.1:port.
func procUDPDrops(t *testing.T, port int) uint64 {
	t.Helper()
	f, err := os.Open("/proc/self/net/udp")
	require.NoError(t, err)
	defer f.Close()
	local := fmt.Sprintf("0100007F:%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 13 && fields[1] == local {
			n, err := strconv.ParseUint(fields[len(fields)-1], 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no /proc/net/udp line for %s", local)
	return 0
}

// TestUDPKernelDrops overflows a small receive buffer on loopback while
// the listener is held up by backpressure (nobody acks its batches), then
// checks, over the plugin's Counters RPC, that every datagram sent is
// either read or counted as a kernel drop, and that the drop count is the
// one /proc/net/udp shows for the socket.
func TestUDPKernelDrops(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only: SO_MEMINFO and /proc/net/udp")
	}
	addr := freeAddr(t, "udp")
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	var impl atomic.Pointer[socket]
	sp := capturing(&impl)
	p := sdktest.Start(t, sp.Info(), sp.Register())
	diags := p.Configure(t, fmt.Sprintf("udp = %q\nread_buffer_size = 4096\nbatch_size = 1\nmax_in_flight = 1\nbatch_timeout = \"10ms\"\n", addr))
	require.False(t, diags.HasErrors(), diags.Error())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := listener.NewClient(p.Conn).Listen(ctx)
	require.NoError(t, err)
	waitFor(t, "bind", func() bool { return impl.Load() != nil && impl.Load().stats.listening.Load() > 0 })

	counters := func() map[string]uint64 {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		c, err := p.Base.Counters(cctx)
		require.NoError(t, err)
		return c
	}
	require.Zero(t, counters()["udp_kernel_drops"])

	// Nothing is acked yet: the listener reads a datagram or two, then
	// waits for the host, and the 4 KiB buffer overflows.
	const sent = 2000
	conn := dial(t, "udp", addr)
	for i := range sent {
		_, err := conn.Write([]byte(fmt.Sprintf("udp%d value=%d\n", i, i)))
		require.NoError(t, err)
	}

	// Ack everything that comes, until every datagram is accounted for.
	var delivered atomic.Int64
	go func() {
		for {
			id, b, err := stream.Recv()
			if err != nil {
				return
			}
			delivered.Add(int64(len(b.Samples)))
			if stream.Ack(id, base.Accepted, "") != nil {
				return
			}
		}
	}()
	var c map[string]uint64
	deadline := time.Now().Add(30 * time.Second)
	for {
		c = counters()
		// samples_accepted counts once the plugin has read the last ack,
		// a moment after the test sent it.
		if c["udp_datagrams"]+c["udp_kernel_drops"] == sent && int64(c["udp_datagrams"]) == delivered.Load() &&
			c["samples_accepted"] == c["udp_datagrams"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sent %d, but read %d + dropped %d, delivered %d, accepted %d",
				sent, c["udp_datagrams"], c["udp_kernel_drops"], delivered.Load(), c["samples_accepted"])
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("sent %d datagrams: %d read, %d dropped by the kernel", sent, c["udp_datagrams"], c["udp_kernel_drops"])
	require.NotZero(t, c["udp_kernel_drops"])
	require.Equal(t, c["udp_kernel_drops"], procUDPDrops(t, port))
	require.Equal(t, c["udp_datagrams"], c["samples_accepted"])

	// The count outlives the socket: after Listen ends it is kept.
	cancel()
	waitFor(t, "listen end", func() bool { return impl.Load().stats.listening.Load() == 0 })
	require.Equal(t, c["udp_kernel_drops"], counters()["udp_kernel_drops"])
}

func TestUDPReadBufferConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ src, want string }{
		{"udp = \"127.0.0.1:0\"\nread_buffer_size = -1", "read_buffer_size"},
		{"udp = \"127.0.0.1:0\"\nread_buffer_size = 2147483648", "between 0 (the system default) and 1073741824"},
		{"tcp = \"127.0.0.1:0\"\nread_buffer_size = 65536", "applies only to udp"},
	} {
		sp := spec()
		p := sdktest.Start(t, sp.Info(), sp.Register())
		diags := p.Configure(t, tc.src)
		require.True(t, diags.HasErrors(), tc.src)
		require.Contains(t, sdktest.Text(diags), tc.want)
	}
}
