package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/internal/influx"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/listener"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"

	"github.com/altimeter/altimeter/internal/backoff"
)

const (
	formatInflux  = "influx"
	formatJSON    = "json"
	formatMsgpack = "msgpack"

	// maxUDPPayload is the largest datagram UDP can carry.
	maxUDPPayload = 65535
	// maxReadBuffer bounds read_buffer_size (1 GiB).
	maxReadBuffer = 1 << 30
	// warnEvery rate-limits warnings about bad input: the first, then every
	// warnEvery-th of each kind.
	warnEvery = 1000
)

type config struct {
	TCP    string `hcl:"tcp,optional" desc:"TCP listen address (host:port), e.g. \"127.0.0.1:8094\"; empty to not listen on TCP"`
	UDP    string `hcl:"udp,optional" desc:"UDP listen address (host:port); empty to not listen on UDP"`
	Format string `hcl:"format,optional" desc:"\"influx\" (line protocol), \"json\" (Ceilometer metering messages, one object or array per line or datagram) or \"msgpack\" (Ceilometer's udp publisher: one msgpack metering message per datagram; udp only)"`
	// The telemetry_secret attributes are named as the oslo listener's and
	// the udp and notifier publishers'; secret, secret_env and secret_file
	// are their aliases, kept for blocks written before.
	TelemetrySecret     string `hcl:"telemetry_secret,optional" desc:"when set, json and msgpack samples must carry a valid Ceilometer message_signature made with this secret (Ceilometer's telemetry_secret); others are counted and dropped"`
	TelemetrySecretEnv  string `hcl:"telemetry_secret_env,optional" desc:"environment variable holding the secret (instead of telemetry_secret)"`
	TelemetrySecretFile string `hcl:"telemetry_secret_file,optional" desc:"file holding the secret, trailing newline ignored (instead of telemetry_secret); read at start"`
	Secret              string `hcl:"secret,optional" desc:"alias of telemetry_secret"`
	SecretEnv           string `hcl:"secret_env,optional" desc:"alias of telemetry_secret_env"`
	SecretFile          string `hcl:"secret_file,optional" desc:"alias of telemetry_secret_file"`
	BatchSize           int    `hcl:"batch_size,optional" desc:"samples per emitted batch at most"`
	BatchTimeout        string `hcl:"batch_timeout,optional" desc:"how long a partial batch may wait before it is emitted (duration)"`
	MaxLineBytes        int    `hcl:"max_line_bytes,optional" desc:"longest accepted line (TCP) or datagram (UDP), in bytes"`
	Precision           string `hcl:"precision,optional" desc:"unit of Influx timestamps: ns, us, ms or s"`
	MaxInFlight         int    `hcl:"max_in_flight,optional" desc:"batches per connection waiting for the host's ack at once; reading stops beyond it (backpressure)"`
	// ReadBufferSize 0 keeps the kernel's default (net.core.rmem_default).
	ReadBufferSize int `hcl:"read_buffer_size,optional" desc:"UDP socket receive buffer in bytes (SO_RCVBUF); 0 keeps the system default; the kernel caps it at net.core.rmem_max; datagrams that find it full are dropped and counted as udp_kernel_drops"`
}

// resolveSecret returns the secret c sets (none: "") and the attribute
// that sets it, taking each of telemetry_secret, telemetry_secret_env and
// telemetry_secret_file from its alias when the block uses that. Errors
// name an attribute the block sets, so the diagnostic points at it.
func resolveSecret(c config) (secret, attr string, err error) {
	forms := [...]struct{ name, alias, v, av string }{
		{"telemetry_secret", "secret", c.TelemetrySecret, c.Secret},
		{"telemetry_secret_env", "secret_env", c.TelemetrySecretEnv, c.SecretEnv},
		{"telemetry_secret_file", "secret_file", c.TelemetrySecretFile, c.SecretFile},
	}
	var (
		vals    [len(forms)]string
		set     []string // the attributes the block sets
		aliases int
		errs    []error
	)
	for i, f := range forms {
		switch {
		case f.v != "" && f.av != "":
			errs = append(errs, schema.AttrError(f.alias, "is an alias of "+f.name+", which is set too; set only "+f.name))
		case f.v != "":
			vals[i] = f.v
			set = append(set, f.name)
		case f.av != "":
			vals[i] = f.av
			set = append(set, f.alias)
			aliases++
		}
	}
	if len(errs) > 0 {
		return "", "", errors.Join(errs...)
	}
	if len(set) == 0 {
		return "", "", nil
	}
	// Errors in the words of the block: the aliases' names when it uses
	// only those.
	name := "telemetry_secret"
	if aliases == len(set) {
		name = "secret"
	}
	if len(set) > 1 {
		detail := "set at most one of " + name + ", " + name + "_env and " + name + "_file"
		if aliases > 0 && aliases < len(set) {
			detail += " (secret, secret_env and secret_file are aliases of the telemetry_secret attributes)"
		}
		return "", "", schema.AttrError(set[len(set)-1], detail)
	}
	secret, err = schema.Secret(name, vals[0], vals[1], vals[2])
	return secret, set[0], err
}

func defaultConfig() config {
	return config{Format: formatInflux, BatchSize: 1000, BatchTimeout: "200ms", MaxLineBytes: 64 << 10, Precision: "ns", MaxInFlight: 4}
}

// stats counts what the listener dropped and emitted. Safe for concurrent use.
type stats struct {
	samples       atomic.Uint64 // accepted by the host
	badLines      atomic.Uint64 // undecodable lines, datagrams or objects
	badSignatures atomic.Uint64 // signed, but not with the secret
	unsigned      atomic.Uint64 // no message_signature while a secret is set
	tooLong       atomic.Uint64
	rejected      atomic.Uint64 // samples the host rejected
	unencodable   atomic.Uint64 // samples that could not be sent alone
	datagrams     atomic.Uint64 // UDP datagrams read
	// listening counts the streams attached to the bound sockets, for tests.
	listening atomic.Int64
}

type socket struct {
	cfg       config
	secret    string // resolved from secret, secret_env or secret_file
	timeout   time.Duration
	precision time.Duration
	log       hclog.Logger
	stats     stats
	udp       udpDrops
	now       func() time.Time
	// slices recycles the sample slices of chunks and emitted batches.
	slices slicePool

	// The sockets belong to the listener, not to a stream: the first Bind
	// opens them and starts serving them, Close stops that and closes
	// them. A stream (Listen) only attaches the host's emit to them, so
	// when the host's stream ends (a config reload, an agent restarting
	// the stream) the port stays bound, connections stay open, and what
	// arrives meanwhile waits (in the kernel's queues, or in a batch
	// waiting for a stream) for the next stream instead of being refused.
	mu     sync.Mutex
	srv    *serving // nil before Bind and after Close
	closed bool
	host   hostLink
}

// serving is the bound sockets and the goroutines that read them.
type serving struct {
	tcp    net.Listener
	udp    net.PacketConn
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// hostLink is the emit of the stream currently attached, if any.
type hostLink struct {
	mu      sync.Mutex
	ctx     context.Context // the stream's
	emit    listener.Emit   // nil while no stream is attached
	gen     uint64          // counts attachments
	changed chan struct{}   // closed when a stream attaches or detaches
}

// attach makes emit (of the stream whose ctx is ctx) the current one until
// the returned detach is called, or the next stream attaches: the previous
// stream's Listen may see its end only after the next one attached, and
// its detach must not take the new one's place.
func (h *hostLink) attach(ctx context.Context, emit listener.Emit) (detach func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gen++
	gen := h.gen
	h.setLocked(ctx, emit)
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.gen == gen {
			h.setLocked(context.Background(), nil) // no stream: current() callers look at emit only
		}
	}
}

func (h *hostLink) setLocked(ctx context.Context, emit listener.Emit) {
	h.ctx, h.emit = ctx, emit
	if h.changed != nil {
		close(h.changed)
	}
	h.changed = make(chan struct{})
}

// current returns the attached stream (emit nil if none) and a channel
// closed at the next change.
func (h *hostLink) current() (context.Context, listener.Emit, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.changed == nil {
		h.changed = make(chan struct{})
	}
	return h.ctx, h.emit, h.changed
}

// udpDrops keeps the kernel's drop counter of the UDP socket across the
// sockets successive Listen calls open.
type udpDrops struct {
	mu   sync.Mutex
	rc   syscall.RawConn // the open socket; nil when none
	base uint64          // drops of the sockets closed before
}

func (u *udpDrops) open(rc syscall.RawConn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.rc = rc
}

// close adds the socket's final count to the base; call it before closing
// the socket.
func (u *udpDrops) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.rc != nil {
		if n, err := udpKernelDrops(u.rc); err == nil {
			u.base += n
		}
		u.rc = nil
	}
}

func (u *udpDrops) total() uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := u.base
	if u.rc != nil {
		if d, err := udpKernelDrops(u.rc); err == nil {
			n += d
		}
	}
	return n
}

var _ listener.Listener = (*socket)(nil)

func newSocket(c config, log hclog.Logger) (*socket, error) {
	var errs []error
	if c.TCP == "" && c.UDP == "" {
		errs = append(errs, schema.AttrError("tcp", "set tcp, udp or both to a listen address such as \"127.0.0.1:8094\""))
	}
	for _, a := range []struct{ name, addr string }{{"tcp", c.TCP}, {"udp", c.UDP}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, schema.AttrError(a.name, fmt.Sprintf("must be host:port such as \"127.0.0.1:8094\" (%v)", err)))
		}
	}
	switch c.Format {
	case formatInflux, formatJSON:
	case formatMsgpack:
		if c.TCP != "" {
			errs = append(errs, schema.AttrError("tcp", "format = \"msgpack\" is read from udp datagrams only (as Ceilometer's udp publisher sends it)"))
		}
	default:
		errs = append(errs, schema.AttrError("format", "must be \"influx\", \"json\" or \"msgpack\""))
	}
	secret, secretAttr, err := resolveSecret(c)
	if err != nil {
		errs = append(errs, err)
	}
	if secret != "" && c.Format == formatInflux {
		errs = append(errs, schema.AttrError(secretAttr, "applies only to format = \"json\" or \"msgpack\" (line protocol carries no signature)"))
	}
	if c.BatchSize < 1 {
		errs = append(errs, schema.AttrError("batch_size", "must be at least 1"))
	}
	timeout, err := time.ParseDuration(c.BatchTimeout)
	if err != nil || timeout <= 0 {
		errs = append(errs, schema.AttrError("batch_timeout", "must be a positive duration such as \"200ms\""))
	}
	if c.MaxLineBytes < 16 || c.MaxLineBytes > 16<<20 {
		errs = append(errs, schema.AttrError("max_line_bytes", "must be between 16 and 16777216"))
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 64 {
		errs = append(errs, schema.AttrError("max_in_flight", "must be between 1 and 64"))
	}
	if c.ReadBufferSize < 0 || c.ReadBufferSize > maxReadBuffer {
		errs = append(errs, schema.AttrError("read_buffer_size", fmt.Sprintf("must be between 0 (the system default) and %d bytes", maxReadBuffer)))
	}
	if c.ReadBufferSize > 0 && c.UDP == "" {
		errs = append(errs, schema.AttrError("read_buffer_size", "applies only to udp"))
	}
	prec, err := influx.ParsePrecision(c.Precision)
	if err != nil {
		errs = append(errs, schema.AttrError("precision", "must be ns, us, ms or s"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &socket{cfg: c, secret: secret, timeout: timeout, precision: prec, log: log, now: time.Now}, nil
}

var (
	_ listener.Binder = (*socket)(nil)
	_ base.Closer     = (*socket)(nil)
)

// errClosed is Bind's error after Close.
var errClosed = errors.New("listener closed")

// Bind opens the configured sockets and starts serving them, unless an
// earlier stream's Bind already did: they stay bound across streams until
// Close. A port that cannot be bound is the error (net's own, which names
// the address).
func (s *socket) Bind(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errClosed
	case s.srv != nil:
		return nil
	}
	srv, err := s.open(ctx)
	if err != nil {
		return err
	}
	s.serve(srv)
	s.srv = srv
	return nil
}

func (s *socket) open(ctx context.Context) (*serving, error) {
	var (
		lc  net.ListenConfig
		b   serving
		err error
	)
	if s.cfg.TCP != "" {
		if b.tcp, err = lc.Listen(ctx, "tcp", s.cfg.TCP); err != nil {
			return nil, err
		}
		s.log.Info("listening", "network", "tcp", "address", b.tcp.Addr().String(), "format", s.cfg.Format)
	}
	if s.cfg.UDP != "" {
		if b.udp, err = lc.ListenPacket(ctx, "udp", s.cfg.UDP); err != nil {
			if b.tcp != nil {
				_ = b.tcp.Close()
			}
			return nil, err
		}
		s.log.Info("listening", "network", "udp", "address", b.udp.LocalAddr().String(), "format", s.cfg.Format)
	}
	return &b, nil
}

// serve starts reading srv's sockets; their goroutines run until Close.
func (s *socket) serve(srv *serving) {
	ctx, cancel := context.WithCancel(context.Background())
	srv.cancel = cancel
	emit := s.host.emitter()
	if srv.tcp != nil {
		tcp := srv.tcp
		context.AfterFunc(ctx, func() { _ = tcp.Close() })
		srv.wg.Go(func() { s.acceptLoop(ctx, tcp, emit, &srv.wg) })
	}
	if udp := srv.udp; udp != nil {
		s.setupUDP(udp)
		context.AfterFunc(ctx, func() {
			s.udp.close()
			_ = udp.Close()
		})
		srv.wg.Go(func() { s.serveUDP(ctx, udp, emit) })
	}
}

// Listen attaches the host's stream to the sockets Bind opened (binding
// them itself if no Bind came first) until ctx is done. The sockets stay
// bound after it returns, for the next stream; Close closes them.
func (s *socket) Listen(ctx context.Context, emit listener.Emit) error {
	if err := s.Bind(ctx); err != nil {
		return err
	}
	detach := s.host.attach(ctx, emit)
	defer detach()
	s.stats.listening.Add(1)
	defer s.stats.listening.Add(-1)
	<-ctx.Done()
	s.log.Debug("host stream ended; the sockets stay bound for the next")
	return nil
}

// Close stops serving and closes the sockets: connections are closed and
// batches not yet accepted by the host are dropped. It waits for the
// goroutines (or ctx).
func (s *socket) Close(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.srv, s.closed = nil, true
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	srv.cancel()
	done := make(chan struct{})
	go func() {
		srv.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("close: %w", ctx.Err())
	}
	s.log.Info("stopped", "samples", s.stats.samples.Load(), "bad_lines", s.stats.badLines.Load(),
		"bad_signatures", s.stats.badSignatures.Load(), "unsigned", s.stats.unsigned.Load(), "too_long", s.stats.tooLong.Load(), "rejected", s.stats.rejected.Load(),
		"udp_datagrams", s.stats.datagrams.Load(), "udp_kernel_drops", s.udp.total())
	return nil
}

// emitter returns an Emit that hands a batch to the attached stream,
// waiting for one while none is: a batch sent on a stream that ends before
// the host acknowledged it goes to the next stream (the host may then see
// it twice; the store keeps one). It returns ctx's error, or the host's
// answer (ErrRejected, ErrRetry) from a stream that still runs.
func (h *hostLink) emitter() listener.Emit {
	return func(ctx context.Context, b sample.Batch) error {
		for {
			sctx, emit, changed := h.current()
			if emit == nil {
				select {
				case <-changed:
					continue
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			ectx, cancel := context.WithCancel(ctx)
			stop := context.AfterFunc(sctx, cancel)
			err := emit(ectx, b)
			stop()
			cancel()
			if err == nil || errors.Is(err, listener.ErrRejected) || ctx.Err() != nil || sctx.Err() == nil {
				return err
			}
			// The stream ended under this batch: wait for it to detach.
			select {
			case <-changed:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// setupUDP sizes the UDP socket's receive buffer as configured, logs the
// size the kernel granted, and starts reading its drop counter.
func (s *socket) setupUDP(pc net.PacketConn) {
	uc, ok := pc.(*net.UDPConn)
	if !ok {
		return
	}
	want := s.cfg.ReadBufferSize
	if want > 0 {
		if err := uc.SetReadBuffer(want); err != nil {
			s.log.Warn("set udp receive buffer", "requested", want, "error", err)
		}
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		s.log.Warn("udp socket: kernel drops will not be counted", "error", err)
		return
	}
	s.udp.open(rc)
	got, err := udpReadBuffer(rc)
	if err != nil {
		s.log.Warn("read udp receive buffer size", "error", err)
		return
	}
	// Linux reports twice the size it granted (the other half is its
	// bookkeeping); the grant is the request capped at rmem_max.
	granted, rmax := got/2, rmemMax()
	if want > 0 && granted < want {
		s.log.Warn("udp receive buffer capped by the kernel; raise net.core.rmem_max to get more",
			"requested", want, "effective", granted, "rmem_max", rmax)
		return
	}
	s.log.Info("udp receive buffer", "requested", want, "effective", granted, "kernel_rcvbuf", got, "rmem_max", rmax)
}

func (s *socket) acceptLoop(ctx context.Context, l net.Listener, emit listener.Emit, wg *sync.WaitGroup) {
	bo := backoff.Exp{Min: 5 * time.Millisecond, Max: time.Second}
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait, then try again.
			wait := bo.Next()
			s.log.Warn("accept connection", "error", err, "retry_in", wait)
			if !backoff.Sleep(ctx, wait) {
				return
			}
			continue
		}
		bo.Reset()
		wg.Go(func() { s.serveConn(ctx, conn, emit) })
	}
}

// serveConn reads lines from one TCP connection. A reader goroutine decodes
// what each read brings (every whole line it buffered) and hands the
// samples over an unbuffered channel, one chunk per read rather than per
// line; while a batch is being emitted nobody receives, so reading stops
// and TCP pushes back.
func (s *socket) serveConn(ctx context.Context, conn net.Conn, emit listener.Emit) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer func() { _ = conn.Close() }()
	log := s.log.With("remote", conn.RemoteAddr().String())
	log.Debug("connection opened")

	chunks := make(chan []sample.Sample)
	go func() {
		defer close(chunks)
		r := bufio.NewReaderSize(conn, s.cfg.MaxLineBytes)
		for {
			got, err := s.readChunk(log, r, s.slices.get())
			if len(got) > 0 {
				select {
				case chunks <- got:
				case <-ctx.Done():
					return
				}
			} else {
				s.slices.put(got)
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && ctx.Err() == nil {
					log.Debug("read connection", "error", err)
				}
				return
			}
		}
	}()
	s.batchLoop(ctx, chunks, emit, log)
	cancel()
	for range chunks { // let the reader see ctx and end
	}
	log.Debug("connection closed")
}

// maxBlockBytes bounds the lines decoded in one go, so a chunk stays near
// batch_size samples even with a large max_line_bytes.
const maxBlockBytes = 64 << 10

// readChunk appends to dst (returned) the next line (waiting for it, the only read it may
// make) and decodes it with every further whole line r already holds, up to
// about batch_size samples: one clock read, one decoder and one hand-over
// per chunk instead of per line. A line longer than r's buffer is skipped
// and counted. err (io.EOF at the end) comes with the samples of the last
// lines, if any.
func (s *socket) readChunk(log hclog.Logger, r *bufio.Reader, dst []sample.Sample) ([]sample.Sample, error) {
	out := dst
	line, err := readLine(r)
	if errors.Is(err, bufio.ErrBufferFull) {
		s.bad(log, &s.stats.tooLong, 1, "line too long", fmt.Errorf("line longer than %d bytes", s.cfg.MaxLineBytes))
		err = nil
	}
	if len(line) > 0 {
		out = s.appendLines(log, out, line)
	}
	if err != nil {
		return out, err
	}
	for len(out)-len(dst) < s.cfg.BatchSize && r.Buffered() > 0 {
		buf, _ := r.Peek(r.Buffered()) // no read: what is buffered
		end := bytes.LastIndexByte(buf[:min(len(buf), maxBlockBytes)], '\n')
		if end < 0 {
			// No whole line in the first maxBlockBytes: one long line, or
			// the start of one still on its way.
			if end = bytes.IndexByte(buf, '\n'); end < 0 {
				break
			}
		}
		out = s.appendLines(log, out, buf[:end+1])
		_, _ = r.Discard(end + 1)
	}
	return out, nil
}

// appendLines appends the samples of lines (one or more, each but the last
// ending in a newline) to dst, counting what it drops. Influx lines are
// decoded in one go; JSON line by line, so a bad line loses only itself.
func (s *socket) appendLines(log hclog.Logger, dst []sample.Sample, lines []byte) []sample.Sample {
	if s.cfg.Format == formatInflux {
		return s.appendInflux(log, dst, lines)
	}
	for len(lines) > 0 {
		line := lines
		if i := bytes.IndexByte(lines, '\n'); i >= 0 {
			line, lines = lines[:i], lines[i+1:]
		} else {
			lines = nil
		}
		if line = bytes.TrimRight(line, "\r"); len(line) > 0 {
			dst = s.decode(log, dst, line)
		}
	}
	return dst
}

// readLine returns the next line without its line ending. A line longer than
// the reader's buffer is skipped to its end and reported as
// bufio.ErrBufferFull. err is set (io.EOF at the end) with the last,
// unterminated line, if any.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.ReadSlice('\n')
		}
		if err != nil {
			return nil, err
		}
		return nil, bufio.ErrBufferFull
	}
	return bytes.TrimRight(line, "\r\n"), err
}

func (s *socket) serveUDP(ctx context.Context, pc net.PacketConn, emit listener.Emit) {
	log := s.log.With("network", "udp")
	chunks := make(chan []sample.Sample)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.batchLoop(ctx, chunks, emit, log)
	}()
	defer func() {
		close(chunks)
		<-done
	}()
	buf := make([]byte, maxUDPPayload+1)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			log.Warn("read datagram", "error", err)
			continue
		}
		s.stats.datagrams.Add(1)
		if n > s.cfg.MaxLineBytes {
			s.bad(log, &s.stats.tooLong, 1, "datagram too long", fmt.Errorf("%d bytes, more than %d", n, s.cfg.MaxLineBytes))
			continue
		}
		got := s.decode(log, s.slices.get(), buf[:n])
		if len(got) == 0 {
			s.slices.put(got)
			continue
		}
		select {
		case chunks <- got:
		case <-ctx.Done():
			return
		}
	}
}

// batchLoop groups chunks into batches of at most batch_size samples and
// emits a batch once it is full or batch_timeout after its first sample.
// Up to max_in_flight batches wait for the host's ack at once, so one
// connection keeps every stage of the pipeline busy; beyond that the loop
// (and so the reading of the connection) waits. It returns when chunks is
// closed (after emitting what it holds and waiting for the acks) or ctx is
// done (dropping it: the host is gone).
func (s *socket) batchLoop(ctx context.Context, chunks <-chan []sample.Sample, emit listener.Emit, log hclog.Logger) {
	size := s.cfg.BatchSize
	batch := make([]sample.Sample, 0, min(size, 4096))
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	slots := make(chan struct{}, s.cfg.MaxInFlight)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	flush := func(n int) {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		out := append(s.slices.get(), batch[:n]...)
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			defer func() { <-slots }()
			s.emit(ctx, emit, out, log)
			s.slices.put(out) // the host has it encoded
		}()
		rest := copy(batch, batch[n:])
		clear(batch[rest:])
		batch = batch[:rest]
	}
	for {
		select {
		case got, ok := <-chunks:
			if !ok {
				for len(batch) > 0 && ctx.Err() == nil {
					flush(min(len(batch), size))
				}
				return
			}
			if len(batch) == 0 {
				timer.Reset(s.timeout)
			}
			batch = append(batch, got...)
			s.slices.put(got)
			for len(batch) >= size && ctx.Err() == nil {
				flush(size)
			}
			if len(batch) == 0 {
				timer.Stop()
			}
		case <-timer.C:
			for len(batch) > 0 && ctx.Err() == nil {
				flush(min(len(batch), size))
			}
		case <-ctx.Done():
			if len(batch) > 0 {
				log.Debug("dropping partial batch at shutdown", "samples", len(batch))
			}
			return
		}
	}
}

// slicePool recycles sample slices, sparing the allocation (and the
// garbage) of a chunk and of a batch per read and per emit. Safe for
// concurrent use; the zero value is ready.
type slicePool struct{ p sync.Pool }

// maxPooledSamples bounds the slices kept: those of outsized batches go.
const maxPooledSamples = 1 << 16

// get returns an empty slice, with room for samples if a recycled one.
func (p *slicePool) get() []sample.Sample {
	if v, ok := p.p.Get().(*[]sample.Sample); ok {
		return *v
	}
	return nil
}

// put recycles s, which nothing may use any more; its samples are cleared
// so it holds on to no strings or maps.
func (p *slicePool) put(s []sample.Sample) {
	if cap(s) == 0 || cap(s) > maxPooledSamples {
		return
	}
	clear(s)
	s = s[:0]
	p.p.Put(&s)
}

// emit hands one batch to the host. A batch the host asks to retry is
// emitted again with backoff (holding up this source: backpressure) until it
// is accepted, rejected, or ctx is done; there is no sender to requeue to.
// A batch the SDK cannot send at all (ErrUnencodable: over the message
// limit, as a whole or for one of its samples) is sent again in halves, so
// that only a sample that cannot be sent alone is dropped (counted in
// samples_unencodable), as the oslo listener dead-letters only such a
// notification.
func (s *socket) emit(ctx context.Context, emit listener.Emit, samples []sample.Sample, log hclog.Logger) {
	bo := backoff.Exp{Min: 50 * time.Millisecond, Max: 5 * time.Second}
	for {
		err := emit(ctx, sample.Batch{Samples: samples})
		switch {
		case err == nil:
			s.stats.samples.Add(uint64(len(samples)))
			return
		case errors.Is(err, listener.ErrUnencodable) && len(samples) > 1:
			log.Debug("batch cannot be sent; sending it in halves", "samples", len(samples), "error", err)
			half := len(samples) / 2
			s.emit(ctx, emit, samples[:half], log)
			s.emit(ctx, emit, samples[half:], log)
			return
		case errors.Is(err, listener.ErrUnencodable):
			s.bad(log, &s.stats.unencodable, len(samples), "sample cannot be sent to the host", err)
			return
		case errors.Is(err, listener.ErrRejected):
			s.bad(log, &s.stats.rejected, len(samples), "host rejected batch", err)
			return
		case ctx.Err() != nil:
			return
		}
		wait := bo.Next()
		log.Debug("host asked to retry batch", "samples", len(samples), "retry_in", wait, "error", err)
		if !backoff.Sleep(ctx, wait) {
			return
		}
	}
}

// bad counts n dropped inputs and warns about the first and about every
// warnEvery-th of its kind.
func (s *socket) bad(log hclog.Logger, c *atomic.Uint64, n int, msg string, err error) {
	after := c.Add(uint64(n))
	if before := after - uint64(n); before == 0 || before/warnEvery != after/warnEvery {
		log.Warn(msg, "count", after, "error", err)
	}
}

// decode appends to dst the samples of one line or datagram, counting what
// it drops.
//
// A sample keeps the message_id it came with (Ceilometer JSON has one) and
// otherwise has none: Influx lines carry no id, and a random one would
// make a line sent twice two samples. The store gives such a sample the
// canonical id of its series and timestamp, so a repeated line is stored
// once.
func (s *socket) decode(log hclog.Logger, dst []sample.Sample, data []byte) []sample.Sample {
	if s.cfg.Format == formatInflux {
		return s.appendInflux(log, dst, data)
	}
	if s.cfg.Format == formatMsgpack {
		return s.decodeMsgpack(log, dst, data)
	}
	return s.decodeJSON(log, dst, data)
}

// appendInflux appends the samples of Influx lines to dst, counting the
// lines it drops.
func (s *socket) appendInflux(log hclog.Logger, dst []sample.Sample, data []byte) []sample.Sample {
	out, errs := influx.AppendDecode(dst, data, influx.Options{Precision: s.precision, Now: s.now})
	for _, err := range errs {
		s.bad(log, &s.stats.badLines, 1, "dropped bad line", err)
	}
	return out
}

// decodeJSON appends to dst the samples of Ceilometer metering messages:
// JSON objects, or arrays of them, one after another.
func (s *socket) decodeJSON(log hclog.Logger, dst []sample.Sample, data []byte) []sample.Sample {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var (
		out = dst
		now time.Time
	)
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			s.bad(log, &s.stats.badLines, 1, "dropped bad json", fmt.Errorf("decode json: %w", err))
			return out
		}
		out = s.messages(log, v, out, &now)
	}
}

// decodeMsgpack appends to dst the samples of one datagram of Ceilometer's
// udp publisher: a msgpack metering message (or an array of them).
func (s *socket) decodeMsgpack(log hclog.Logger, dst []sample.Sample, data []byte) []sample.Sample {
	v, err := decodeMsgpack(data)
	if err != nil {
		s.bad(log, &s.stats.badLines, 1, "dropped bad msgpack datagram", err)
		return dst
	}
	var now time.Time
	return s.messages(log, v, dst, &now)
}

// messages appends to out the samples of v, one decoded metering message
// or an array of them, checking each signature when a secret is set. now
// is the arrival time given to samples without a timestamp, read once.
func (s *socket) messages(log hclog.Logger, v any, out []sample.Sample, now *time.Time) []sample.Sample {
	objs, ok := v.([]any)
	if !ok {
		objs = []any{v}
	}
	for _, o := range objs {
		m, ok := o.(map[string]any)
		if !ok {
			s.bad(log, &s.stats.badLines, 1, "dropped bad "+s.cfg.Format, fmt.Errorf("want a sample object, got %T", o))
			continue
		}
		if s.secret != "" && !sample.VerifySignature(m, s.secret) {
			if sig, _ := m[sample.CeilometerSignature].(string); sig == "" {
				s.bad(log, &s.stats.unsigned, 1, "dropped unsigned sample",
					fmt.Errorf("message_id %v: no message_signature", m[sample.CeilometerMessageID]))
				continue
			}
			s.bad(log, &s.stats.badSignatures, 1, "dropped sample with bad signature",
				fmt.Errorf("message_id %v: signature does not match", m[sample.CeilometerMessageID]))
			continue
		}
		smp, err := sample.FromCeilometer(m)
		if err != nil {
			s.bad(log, &s.stats.badLines, 1, "dropped bad "+s.cfg.Format, err)
			continue
		}
		if smp.Timestamp.IsZero() {
			if now.IsZero() {
				*now = s.now().UTC()
			}
			smp.Timestamp = *now
		}
		out = append(out, smp)
	}
	return out
}

// Counters implements base.CounterReporter: what the listener dropped, for
// the host's /metrics. With udp set it adds the datagrams read and those
// the kernel dropped before the listener could read them (receive buffer
// full): sent = udp_datagrams + udp_kernel_drops, on loopback.
func (s *socket) Counters() map[string]uint64 {
	c := map[string]uint64{
		"samples_accepted":    s.stats.samples.Load(),
		"bad_lines":           s.stats.badLines.Load(),
		"bad_signatures":      s.stats.badSignatures.Load(),
		"unsigned":            s.stats.unsigned.Load(),
		"too_long":            s.stats.tooLong.Load(),
		"samples_rejected":    s.stats.rejected.Load(),
		"samples_unencodable": s.stats.unencodable.Load(),
	}
	if s.cfg.UDP != "" {
		c["udp_datagrams"] = s.stats.datagrams.Load()
		c["udp_kernel_drops"] = s.udp.total()
	}
	return c
}
