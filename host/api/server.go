package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/net/netutil"

	"github.com/altimeter/altimeter/internal/tlsconf"
)

// ServerLimits bound what one connection may hold of the server. A zero field
// takes its default (DefaultServerLimits).
type ServerLimits struct {
	// ReadHeaderTimeout bounds reading a request's headers (and the TLS
	// handshake): a client that sends them byte by byte is cut off.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the
	// end of its answer: a client that never reads the answer is cut off,
	// and so is an answer that takes longer to compute.
	WriteTimeout time.Duration
	// IdleTimeout is how long a kept-alive connection waits for its next
	// request.
	IdleTimeout time.Duration
	// MaxConns is the number of connections served at once; further
	// connections wait in the kernel's backlog until one closes.
	MaxConns int
}

// DefaultServerLimits are the limits of api {} without attributes.
var DefaultServerLimits = ServerLimits{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       time.Minute,
	WriteTimeout:      2 * time.Minute,
	IdleTimeout:       2 * time.Minute,
	MaxConns:          1024,
}

// withDefaults fills the zero fields of l from DefaultServerLimits.
func (l ServerLimits) withDefaults() ServerLimits {
	d := DefaultServerLimits
	if l.ReadHeaderTimeout > 0 {
		d.ReadHeaderTimeout = l.ReadHeaderTimeout
	}
	if l.ReadTimeout > 0 {
		d.ReadTimeout = l.ReadTimeout
	}
	if l.WriteTimeout > 0 {
		d.WriteTimeout = l.WriteTimeout
	}
	if l.IdleTimeout > 0 {
		d.IdleTimeout = l.IdleTimeout
	}
	if l.MaxConns > 0 {
		d.MaxConns = l.MaxConns
	}
	return d
}

// httpServer builds the http.Server of h with the configured limits.
func (s *Server) httpServer(h http.Handler) *http.Server {
	l := s.opts.ServerLimits.withDefaults()
	s.opts.ServerLimits = l
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		TLSConfig:         s.opts.TLS,
		// Handshake failures and cut-off connections are what hostile or
		// broken clients cause: debug, so that they cannot flood the log.
		ErrorLog: s.log.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
	}
}

// LoadTLS builds the server's TLS configuration from PEM files: the
// certificate chain and its key, and, when clientCAFile is set, the CAs a
// client certificate must chain to (mutual TLS: a client without one is
// refused during the handshake).
func LoadTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cfg, err := tlsconf.Server(certFile, keyFile, clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("load api tls: %w", err)
	}
	return cfg, nil
}

// Listen binds the address; Addr then reports it (useful with port 0).
// At most Limits.MaxConns connections are accepted at once.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.opts.Address)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.opts.Address, err)
	}
	s.ln = netutil.LimitListener(ln, s.opts.ServerLimits.MaxConns)
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the base URL of the API as this server is configured: PublicURL
// when set, else the scheme and the bound (or configured) address.
func (s *Server) URL() string {
	if s.opts.PublicURL != "" {
		return strings.TrimSuffix(s.opts.PublicURL, "/")
	}
	scheme := "http"
	if s.opts.TLS != nil {
		scheme = "https"
	}
	addr := s.opts.Address
	if s.ln != nil {
		addr = s.Addr()
	}
	return scheme + "://" + addr
}

// Serve serves until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	l := s.opts.ServerLimits
	s.log.Info("serving", "address", s.Addr(), "tls", s.opts.TLS != nil, "max_conns", l.MaxConns,
		"read_timeout", l.ReadTimeout, "write_timeout", l.WriteTimeout, "idle_timeout", l.IdleTimeout)
	errc := make(chan error, 1)
	go func() {
		if s.opts.TLS != nil {
			errc <- s.srv.ServeTLS(s.ln, "", "")
			return
		}
		errc <- s.srv.Serve(s.ln)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down http: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
