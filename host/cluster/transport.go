package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// One listener serves both raft and the member RPC (forwarded applies,
// joins): a connection's first byte says which, as in Consul.
const (
	connRaft byte = 0x01
	connRPC  byte = 0x02
)

// firstByteTimeout bounds how long an accepted connection may take to say
// what it is.
const firstByteTimeout = 5 * time.Second

// mux demultiplexes one (optionally TLS) listener into raft and RPC
// connections.
type mux struct {
	ln     net.Listener
	tls    *tls.Config // client side; nil without TLS
	log    hclog.Logger
	raftCh chan net.Conn
	rpcCh  chan net.Conn
	done   chan struct{}
	once   sync.Once
}

func newMux(ln net.Listener, serverTLS, clientTLS *tls.Config, log hclog.Logger) *mux {
	if serverTLS != nil {
		ln = tls.NewListener(ln, serverTLS)
	}
	m := &mux{ln: ln, tls: clientTLS, log: log, raftCh: make(chan net.Conn), rpcCh: make(chan net.Conn), done: make(chan struct{})}
	go m.accept()
	return m
}

func (m *mux) accept() {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			m.log.Error("accept", "error", err)
			m.close()
			return
		}
		go m.route(c)
	}
}

func (m *mux) route(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(firstByteTimeout))
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		m.log.Debug("connection closed before its type byte", "remote", c.RemoteAddr(), "error", err)
		_ = c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	var ch chan net.Conn
	switch b[0] {
	case connRaft:
		ch = m.raftCh
	case connRPC:
		ch = m.rpcCh
	default:
		m.log.Warn("refusing connection of unknown type", "remote", c.RemoteAddr(), "type", b[0])
		_ = c.Close()
		return
	}
	select {
	case ch <- c:
	case <-m.done:
		_ = c.Close()
	}
}

func (m *mux) close() {
	m.once.Do(func() {
		close(m.done)
		_ = m.ln.Close()
	})
}

// dial opens a connection of type kind to addr.
func (m *mux) dial(ctx context.Context, addr string, kind byte) (net.Conn, error) {
	d := net.Dialer{}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if m.tls != nil {
		tc := tls.Client(c, m.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		c = tc
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetWriteDeadline(dl)
	}
	if _, err := c.Write([]byte{kind}); err != nil {
		_ = c.Close()
		return nil, err
	}
	_ = c.SetWriteDeadline(time.Time{})
	return c, nil
}

// chanListener is a net.Listener fed by the mux.
type chanListener struct {
	m  *mux
	ch chan net.Conn
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.m.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error   { l.m.close(); return nil }
func (l *chanListener) Addr() net.Addr { return l.m.ln.Addr() }

// raftLayer is the raft.StreamLayer over the mux.
type raftLayer struct {
	chanListener
	advertise net.Addr
}

var _ raft.StreamLayer = (*raftLayer)(nil)

func (l *raftLayer) Addr() net.Addr { return l.advertise }

func (l *raftLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return l.m.dial(ctx, string(addr), connRaft)
}
