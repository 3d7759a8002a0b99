// Package listener is the listener plugin kind: a long-running source that
// streams deliveries (batches of samples and events) to the host and learns,
// per delivery, once every sink has handled it, so it can ack its broker
// then (end-to-end acknowledgement).
package listener

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/altimeter/altimeter/sdk"
	"github.com/altimeter/altimeter/sdk/base"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/wire"
)

// Emit hands a delivery to the host and waits until every sink has handled
// it. It returns nil when the delivery was accepted, an error wrapping
// ErrRejected when it never will be (dead-letter it): the host refused it,
// or it cannot be sent at all (a string that is not valid UTF-8, or more
// than sdk.MaxMessageBytes encoded), which ends neither the stream nor
// other deliveries; an error wrapping
// ErrRetry when the host could not take it now (requeue it), or ctx's error.
// Emit may be called from several goroutines; at most Spec.MaxInFlight
// deliveries are outstanding at once, and further calls wait (backpressure).
type Emit func(ctx context.Context, b sample.Batch) error

// Listener runs until ctx is done, emitting what it receives. Listen is
// called once per stream; a returned error ends the stream and the host
// restarts it with backoff.
type Listener interface {
	Listen(ctx context.Context, emit Emit) error
}

// Binder is optional: a listener that opens something before it can
// receive (binds a port) does it in Bind, which the SDK calls before each
// Listen. A Bind error ends the stream before the host counts the listener
// as started, so a listener that cannot bind fails the agent's start or
// reload instead of retrying in the background. Resources Bind opens belong
// either to the Listen call that follows (the SDK always makes it, with a
// done ctx if the stream ended in between; Bind must then wait for the
// previous Listen's to be released), or to the listener value until its
// Close: then Bind opens them once and later streams reuse them, so when the
// host ends a stream and opens the next (a config reload) the port stays
// bound and senders are neither refused nor lose data in between (the
// socket listener does this).
type Binder interface {
	Bind(ctx context.Context) error
}

// ErrRejected and ErrRetry classify Emit's errors (errors.Is);
// ErrUnencodable comes with ErrRejected when the delivery cannot be sent
// at all (not valid UTF-8, or too large), so the listener can count it
// apart or send its parts alone.
var (
	ErrRejected    = errors.New("delivery rejected")
	ErrRetry       = errors.New("delivery not handled; retry")
	ErrUnencodable = errors.New("delivery cannot be encoded")
)

// DefaultMaxInFlight bounds outstanding deliveries when a Spec leaves it zero.
const DefaultMaxInFlight = 16

// Spec declares a listener plugin; C is its config struct (hcl tags).
type Spec[C any] struct {
	Name        string
	Version     string
	Description string
	// Meters the listener can produce, for routing and validation.
	Meters      []sample.MeterInfo
	Defaults    C
	MaxInFlight int
	New         func(c C, log hclog.Logger) (Listener, error)
}

// Info returns what the plugin reports in Describe.
func (s Spec[C]) Info() base.Info {
	i := base.NewInfo(base.Listener, s.Name, s.Version, s.Description, s.Defaults)
	i.Meters = s.Meters
	return i
}

// Register returns the function that adds this plugin's services to a gRPC server.
func (s Spec[C]) Register() func(*grpc.Server, hclog.Logger) {
	info := s.Info()
	window := s.MaxInFlight
	if window <= 0 {
		window = DefaultMaxInFlight
	}
	return func(g *grpc.Server, log hclog.Logger) {
		b := base.NewServer(info, base.Build(info.Schema, s.Defaults, s.New), log)
		pb.RegisterBaseServer(g, b)
		pb.RegisterListenerServer(g, &server{base: b, window: window, log: log})
	}
}

// Serve runs the plugin; call it from main.
func Serve[C any](s Spec[C]) {
	base.Serve(s.Info(), base.NewLogger(s.Name, nil), s.Register())
}

type server struct {
	pb.UnimplementedListenerServer
	base   *base.Server[Listener]
	window int
	log    hclog.Logger
	codec  wire.Codec // encodes deliveries before they are sent
}

// encodeDelivery encodes delivery id of b as the plugin server's codec
// would, refusing what gRPC would refuse to send.
func encodeDelivery(c *wire.Codec, id uint64, b *sample.Batch) (wire.Encoded, error) {
	data, err := c.Marshal(&wire.Delivery{ID: id, Batch: b})
	if err != nil {
		return nil, fmt.Errorf("encode delivery: %w", err)
	}
	if n := data.Len(); n > sdk.MaxMessageBytes {
		data.Free()
		return nil, fmt.Errorf("encode delivery: %d bytes, more than the %d a message may have", n, sdk.MaxMessageBytes)
	}
	return wire.Encoded(data), nil
}

// refusals logs deliveries that cannot be sent once per episode: the first
// of a run, then how many there were when one is sent again. A listener
// that keeps emitting the same bad batch does not flood the host's log.
type refusals struct {
	mu sync.Mutex
	n  int
}

func (r *refusals) add(log hclog.Logger, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.n == 1 {
		log.Warn("delivery refused: cannot be sent to the host", "error", err)
	}
}

func (r *refusals) reset(log hclog.Logger) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n > 0 {
		log.Info("deliveries sent again after refusals", "refused", r.n)
		r.n = 0
	}
}

type ackResult struct {
	outcome base.Outcome
	reason  string
}

func (s *server) Listen(stream pb.Listener_ListenServer) error {
	impl, err := s.base.Impl()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	if b, ok := impl.(Binder); ok {
		if err := b.Bind(ctx); err != nil {
			// The listener's own error names what failed (net's says
			// "listen tcp ADDR: bind: ..."): no prefix, so it reads once.
			return status.Error(codes.Internal, err.Error())
		}
	}
	// The ready marker (id 0, no batch) tells the host the listener is
	// bound: Client.Listen returns once it arrives.
	if err := stream.Send(&pb.Delivery{}); err != nil {
		// Listen releases what Bind opened; with ctx done it returns at once.
		cancel()
		_ = impl.Listen(ctx, func(context.Context, sample.Batch) error { return ErrRetry })
		return err
	}

	var (
		refused refusals
		mu      sync.Mutex
		sendMu  sync.Mutex
		nextID  uint64
		pending = map[uint64]chan ackResult{}
		slots   = make(chan struct{}, s.window)
	)
	recvDone := make(chan error, 1)
	go func() {
		for {
			a, err := stream.Recv()
			if err != nil {
				recvDone <- err
				cancel()
				return
			}
			mu.Lock()
			ch, ok := pending[a.GetId()]
			delete(pending, a.GetId())
			mu.Unlock()
			if ok {
				ch <- ackResult{outcome: base.OutcomeFromProto(a.GetOutcome()), reason: a.GetReason()}
			}
		}
	}()

	emit := func(ectx context.Context, b sample.Batch) error {
		select {
		case slots <- struct{}{}:
		case <-ectx.Done():
			return ectx.Err()
		case <-ctx.Done():
			return fmt.Errorf("host stream closed: %w", ErrRetry)
		}
		defer func() { <-slots }()
		ch := make(chan ackResult, 1)
		mu.Lock()
		nextID++
		id := nextID
		mu.Unlock()
		// Encoded here, not by SendMsg: gRPC ends the stream when a message
		// cannot be marshalled or is too large, and a listener that retried
		// such a delivery would end every stream it opened.
		data, err := encodeDelivery(&s.codec, id, &b)
		if err != nil {
			refused.add(s.log, err)
			return fmt.Errorf("%w: %w: %w", err, ErrUnencodable, ErrRejected)
		}
		refused.reset(s.log)
		mu.Lock()
		pending[id] = ch
		mu.Unlock()
		forget := func() {
			mu.Lock()
			delete(pending, id)
			mu.Unlock()
		}
		sendMu.Lock()
		err = stream.SendMsg(data)
		sendMu.Unlock()
		if err != nil {
			forget()
			return fmt.Errorf("send delivery: %v: %w", err, ErrRetry)
		}
		select {
		case r := <-ch:
			switch r.outcome {
			case base.Accepted:
				return nil
			case base.Rejected:
				return fmt.Errorf("%s: %w", r.reason, ErrRejected)
			default:
				return fmt.Errorf("%s: %w", r.reason, ErrRetry)
			}
		case <-ectx.Done():
			forget()
			return ectx.Err()
		case <-ctx.Done():
			forget()
			return fmt.Errorf("host stream closed: %w", ErrRetry)
		}
	}
	err = impl.Listen(ctx, emit)
	if err != nil && ctx.Err() == nil {
		return base.StatusError("listen", err)
	}
	return nil
}

// Client is the host's view of a listener plugin.
type Client struct {
	*base.Client
	c pb.ListenerClient
}

// NewClient wraps a connection to a listener plugin.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{Client: base.NewClient(conn), c: pb.NewListenerClient(conn)}
}

// Stream is one Listen call seen from the host: Recv deliveries, Ack each.
type Stream struct {
	s     pb.Listener_ListenClient
	first *pb.Delivery // a delivery read while waiting for the ready marker
	mu    sync.Mutex
}

// Listen opens the stream and returns once the listener is ready (bound):
// a listener that cannot bind makes Listen return its error. It ends when
// ctx is done or the plugin stops. A plugin built before the ready marker
// existed never sends it: Listen then returns with its first delivery.
func (c *Client) Listen(ctx context.Context) (*Stream, error) {
	s, err := c.c.Listen(ctx)
	if err != nil {
		return nil, err
	}
	d, err := s.Recv()
	if err != nil {
		return nil, err
	}
	st := &Stream{s: s}
	if d.GetId() != 0 || d.GetBatch() != nil {
		st.first = d
	}
	return st, nil
}

func (s *Stream) recv() (*pb.Delivery, error) {
	if d := s.first; d != nil {
		s.first = nil
		return d, nil
	}
	return s.s.Recv()
}

// Recv waits for the next delivery.
func (s *Stream) Recv() (uint64, sample.Batch, error) {
	d, err := s.recv()
	if err != nil {
		return 0, sample.Batch{}, err
	}
	return d.GetId(), wire.BatchFromProto(d.GetBatch()), nil
}

// RecvProto is Recv on the wire form, for a host that forwards batches
// without decoding them.
func (s *Stream) RecvProto() (uint64, *pb.Batch, error) {
	d, err := s.recv()
	if err != nil {
		return 0, nil, err
	}
	return d.GetId(), d.GetBatch(), nil
}

// Ack tells the listener how delivery id was handled. Safe for concurrent use.
func (s *Stream) Ack(id uint64, o base.Outcome, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.s.Send(&pb.Ack{Id: id, Outcome: o.ToProto(), Reason: reason})
}

// CloseSend ends the host's side of the stream.
func (s *Stream) CloseSend() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.s.CloseSend()
}
