package cluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/cluster/fsm"
)

// rpcConn opens a member RPC connection to addr and sends the head of a
// POST /v1/apply announcing a body of size bytes, and sent bytes of it.
func rpcConn(t *testing.T, addr string, size, sent int) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	head := fmt.Sprintf("%cPOST /v1/apply HTTP/1.1\r\nHost: member\r\nContent-Length: %d\r\n\r\n", connRPC, size)
	_, err = c.Write(append([]byte(head), make([]byte, sent)...))
	require.NoError(t, err)
	return c
}

// Without mTLS anyone reaching the member port can call the member RPC. A
// flood of slow senders of large bodies takes at most maxRPCInFlight
// handlers (each reading at most maxRPCBody); every further request is
// answered 503 "busy" at once, its body unread, and the member keeps
// committing commands (raft has its own connections). Once the senders go,
// the slots are free again.
func TestIntegrationMemberRPCFlood(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	m := newMember(t, "n1")
	waitFor(t, 10*time.Second, "n1 leads", m.node.IsLeader)
	addr := m.node.Address()

	// Slow senders: each announces a full-size command, sends a little of
	// it and stalls, holding its handler in the body read.
	slow := make([]net.Conn, 0, maxRPCInFlight)
	for range maxRPCInFlight {
		slow = append(slow, rpcConn(t, addr, maxRPCBody, 1<<10))
	}
	waitFor(t, 10*time.Second, "every member RPC slot taken", func() bool {
		return len(m.node.rpcSlots) == maxRPCInFlight
	})

	// Many more, concurrently: each is answered busy well before any read
	// timeout, without the member waiting for its body.
	const extra = 4 * maxRPCInFlight
	var wg sync.WaitGroup
	errs := make(chan error, extra)
	for range extra {
		c := rpcConn(t, addr, maxRPCBody, 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
					return err
				}
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					return fmt.Errorf("read answer: %w", err)
				}
				defer func() { _ = resp.Body.Close() }()
				var e rpcError
				if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
					return fmt.Errorf("decode answer: %w", err)
				}
				if resp.StatusCode != http.StatusServiceUnavailable || e.Code != "busy" || !resp.Close {
					return fmt.Errorf("answer: HTTP %d code %q close %v", resp.StatusCode, e.Code, resp.Close)
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.LessOrEqual(t, len(m.node.rpcSlots), maxRPCInFlight)

	// A member's own call sees ErrBusy (leaderDo asks again until its ctx
	// ends); the member itself still commits and applies.
	err := m.node.call(ctx, addr, http.MethodPost, "/v1/barrier", nil, nil)
	require.ErrorIs(t, err, ErrBusy)
	require.NoError(t, m.node.Apply(ctx, fsm.MemberUpsert{Member: fsm.Member{ID: "x1", RaftAddress: "127.0.0.1:1"}}))

	for _, c := range slow {
		require.NoError(t, c.Close())
	}
	waitFor(t, 10*time.Second, "the slots freed", func() bool { return len(m.node.rpcSlots) == 0 })
	var out rpcError
	require.NoError(t, m.node.call(ctx, addr, http.MethodPost, "/v1/barrier", nil, &out))
	require.NotZero(t, out.Index)
}
