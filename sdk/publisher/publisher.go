// Package publisher is the publisher plugin kind: batch in, outcome out
// (accepted, retry later, or rejected; per sample where it can tell).
package publisher

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	"github.com/altimeter/altimeter/sdk/base"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/wire"
)

// Publisher sends a batch somewhere. Publish is never called concurrently on
// one value. A nil error means every item was accepted (durably, as far as
// the destination goes). Return Reject(err) when the batch can never be
// accepted, RejectItems for some samples only, and any other error (or
// Retry(err)) when the host should try again later.
type Publisher interface {
	Publish(ctx context.Context, b *sample.Batch) error
}

// Spec declares a publisher plugin; C is its config struct (hcl tags).
type Spec[C any] struct {
	Name        string
	Version     string
	Description string
	Defaults    C
	New         func(c C, log hclog.Logger) (Publisher, error)
}

// Info returns what the plugin reports in Describe.
func (s Spec[C]) Info() base.Info {
	return base.NewInfo(base.Publisher, s.Name, s.Version, s.Description, s.Defaults)
}

// Register returns the function that adds this plugin's services to a gRPC server.
func (s Spec[C]) Register() func(*grpc.Server, hclog.Logger) {
	info := s.Info()
	return func(g *grpc.Server, log hclog.Logger) {
		b := base.NewServer(info, base.Build(info.Schema, s.Defaults, s.New), log)
		pb.RegisterBaseServer(g, b)
		srv := &server{base: b}
		g.RegisterService(base.WithUnary(&pb.Publisher_ServiceDesc, "Publish",
			func() any { return &wire.BatchMessage{Decoder: &srv.dec} }, srv.publish), srv)
	}
}

// Serve runs the plugin; call it from main.
func Serve[C any](s Spec[C]) {
	base.Serve(s.Info(), base.NewLogger(s.Name, nil), s.Register())
}

type rejectError struct{ err error }

func (e *rejectError) Error() string { return e.err.Error() }
func (e *rejectError) Unwrap() error { return e.err }

// Reject marks err as permanent: the batch will never be accepted.
func Reject(err error) error { return &rejectError{err: err} }

type retryError struct{ err error }

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// Retry marks err as transient (the default for unmarked errors).
func Retry(err error) error { return &retryError{err: err} }

// ItemsError says which samples (by index in the batch) were rejected; the
// others were accepted.
type ItemsError struct {
	Rejected map[int]error
}

func (e *ItemsError) Error() string {
	return fmt.Sprintf("%d samples rejected", len(e.Rejected))
}

// RejectItems reports that the samples at these indexes were rejected and the
// rest of the batch accepted.
func RejectItems(rejected map[int]error) error { return &ItemsError{Rejected: rejected} }

// ItemOutcome is the fate of one sample that differs from its batch's.
type ItemOutcome struct {
	Index   int
	Outcome base.Outcome
	Reason  string
}

// Result is a publish's outcome as the host sees it.
type Result struct {
	Outcome base.Outcome
	Reason  string
	Items   []ItemOutcome
}

func resultOf(err error) Result {
	if err == nil {
		return Result{Outcome: base.Accepted}
	}
	var ie *ItemsError
	if errors.As(err, &ie) {
		r := Result{Outcome: base.Accepted, Reason: err.Error()}
		idx := make([]int, 0, len(ie.Rejected))
		for i := range ie.Rejected {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		for _, i := range idx {
			reason := "rejected"
			if e := ie.Rejected[i]; e != nil {
				reason = e.Error()
			}
			r.Items = append(r.Items, ItemOutcome{Index: i, Outcome: base.Rejected, Reason: reason})
		}
		return r
	}
	var re *rejectError
	if errors.As(err, &re) {
		return Result{Outcome: base.Rejected, Reason: err.Error()}
	}
	return Result{Outcome: base.Retry, Reason: err.Error()}
}

// server serves the Publisher service with batches decoded straight into
// package sample's types (wire.Codec).
type server struct {
	pb.UnimplementedPublisherServer
	base *base.Server[Publisher]
	dec  wire.Decoder
}

func (s *server) publish(ctx context.Context, req any) (any, error) {
	in := req.(*wire.BatchMessage)
	impl, err := s.base.Impl()
	if err != nil {
		return nil, err
	}
	r := resultOf(impl.Publish(ctx, &in.Batch))
	resp := &pb.PublishResponse{Outcome: r.Outcome.ToProto(), Reason: r.Reason}
	for _, it := range r.Items {
		resp.Items = append(resp.Items, &pb.ItemOutcome{Index: uint32(it.Index), Outcome: it.Outcome.ToProto(), Reason: it.Reason})
	}
	return resp, nil
}

// Client is the host's view of a publisher plugin.
type Client struct {
	*base.Client
	c pb.PublisherClient
}

// NewClient wraps a connection to a publisher plugin.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{Client: base.NewClient(conn), c: pb.NewPublisherClient(conn)}
}

// Publish sends a batch. A transport error (the plugin is gone) is returned
// as an error; the publisher's own verdict is in the Result.
func (c *Client) Publish(ctx context.Context, b *sample.Batch) (Result, error) {
	return c.PublishProto(ctx, wire.BatchToProto(b))
}

// PublishProto sends an already converted batch, so a host fanning one batch
// out to several publishers converts it once.
func (c *Client) PublishProto(ctx context.Context, b *pb.Batch) (Result, error) {
	resp, err := c.c.Publish(ctx, &pb.PublishRequest{Batch: b})
	if err != nil {
		return Result{}, err
	}
	return ResultFromProto(resp), nil
}

// ResultFromProto converts a Publish response.
func ResultFromProto(resp *pb.PublishResponse) Result {
	r := Result{Outcome: base.OutcomeFromProto(resp.GetOutcome()), Reason: resp.GetReason()}
	for _, it := range resp.GetItems() {
		r.Items = append(r.Items, ItemOutcome{Index: int(it.GetIndex()), Outcome: base.OutcomeFromProto(it.GetOutcome()), Reason: it.GetReason()})
	}
	return r
}
