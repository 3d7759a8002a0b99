package peer

import (
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFreePort: the ports lie below the kernel's ephemeral range (where no
// outgoing connection takes them), are bindable for tcp and udp, and one
// process is not handed the same port twice in a row.
func TestFreePort(t *testing.T) {
	t.Parallel()
	lo := ephemeralLow()
	seen := map[int]bool{}
	for range 50 {
		p, err := FreePort("tcp")
		require.NoError(t, err)
		if lo-portRangeLow >= minNonEphemeral {
			require.GreaterOrEqual(t, p, portRangeLow)
			require.Less(t, p, lo, "below the ephemeral range")
		}
		require.False(t, seen[p], "port %d handed out twice", p)
		seen[p] = true
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		require.NoError(t, err)
		c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		require.NoError(t, err)
		require.NoError(t, c.Close())
		require.NoError(t, l.Close())
	}
}
