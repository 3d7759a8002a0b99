// Package pollster is the pollster plugin kind: asked to poll a set of meters
// for a set of resources, it returns samples; it may also discover resources.
package pollster

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/altimeter/altimeter/sdk/base"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/wire"
)

// Request is one round of polling. Meters are the names the host routes to
// this pollster (each one the pollster declared in Spec.Meters); Resources
// are static or discovered, and empty for pollsters of the local machine.
type Request struct {
	Meters    []string
	Resources []sample.Resource
}

// Pollster collects one round of samples each time the host asks. Poll is
// never called concurrently on one value and must return promptly once ctx is
// done (the host gives each call at most its polling interval).
//
// A problem with one resource or meter should not fail the round: return the
// good samples with a ResourceError for each problem (errors.Join them).
type Pollster interface {
	Poll(ctx context.Context, req Request) ([]sample.Sample, error)
}

// Discoverer is optional: a pollster that offers discovery methods (named in
// Spec.Discovery) lists resources with it.
type Discoverer interface {
	Discover(ctx context.Context, method, param string) ([]sample.Resource, error)
}

// ResourceError is a failure to poll one resource or meter; the rest of the
// round stands.
type ResourceError struct {
	ResourceID string
	Meter      string
	Err        error
}

func (e *ResourceError) Error() string {
	return fmt.Sprintf("resource %q meter %q: %v", e.ResourceID, e.Meter, e.Err)
}

func (e *ResourceError) Unwrap() error { return e.Err }

// Spec declares a pollster plugin; C is its config struct (hcl tags).
type Spec[C any] struct {
	Name        string
	Version     string
	Description string
	Meters      []sample.MeterInfo
	Discovery   []base.Discovery
	// DynamicMeters: the pollster also provides meters its config defines.
	// It then receives the polling block's patterns in Request.Meters
	// (globs, "*" for all) and selects its configured meters with them;
	// the host filters the returned samples by the block's rules.
	DynamicMeters bool
	Defaults      C
	New           func(c C, log hclog.Logger) (Pollster, error)
}

// Info returns what the plugin reports in Describe.
func (s Spec[C]) Info() base.Info {
	i := base.NewInfo(base.Pollster, s.Name, s.Version, s.Description, s.Defaults)
	i.Meters, i.Discovery, i.DynamicMeters = s.Meters, s.Discovery, s.DynamicMeters
	return i
}

// Register returns the function that adds this plugin's services to a gRPC
// server: what Serve and sdktest use.
func (s Spec[C]) Register() func(*grpc.Server, hclog.Logger) {
	info := s.Info()
	return func(g *grpc.Server, log hclog.Logger) {
		b := base.NewServer(info, base.Build(info.Schema, s.Defaults, s.New), log)
		pb.RegisterBaseServer(g, b)
		pb.RegisterPollsterServer(g, &server{base: b})
	}
}

// Serve runs the plugin; call it from main.
func Serve[C any](s Spec[C]) {
	base.Serve(s.Info(), base.NewLogger(s.Name, nil), s.Register())
}

type server struct {
	pb.UnimplementedPollsterServer
	base *base.Server[Pollster]
}

func (s *server) Discover(ctx context.Context, req *pb.DiscoverRequest) (*pb.DiscoverResponse, error) {
	impl, err := s.base.Impl()
	if err != nil {
		return nil, err
	}
	d, ok := impl.(Discoverer)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "this pollster offers no discovery")
	}
	res, err := d.Discover(ctx, req.GetMethod(), req.GetParam())
	if err != nil {
		return nil, base.StatusError("discover "+req.GetMethod(), err)
	}
	return &pb.DiscoverResponse{Resources: wire.ResourcesToProto(res)}, nil
}

func (s *server) Poll(ctx context.Context, req *pb.PollRequest) (*pb.PollResponse, error) {
	impl, err := s.base.Impl()
	if err != nil {
		return nil, err
	}
	samples, err := impl.Poll(ctx, Request{Meters: req.GetMeters(), Resources: wire.ResourcesFromProto(req.GetResources())})
	resp := &pb.PollResponse{Batch: &pb.Batch{Samples: wire.SamplesToProto(samples)}}
	if err == nil {
		return resp, nil
	}
	var other []error
	walk(err, func(e error) {
		var re *ResourceError
		if errors.As(e, &re) {
			resp.Errors = append(resp.Errors, &pb.PollError{ResourceId: re.ResourceID, Meter: re.Meter, Message: re.Err.Error()})
			return
		}
		other = append(other, e)
	})
	if len(other) > 0 && len(samples) == 0 && len(resp.Errors) == 0 {
		return nil, base.StatusError("poll", err)
	}
	for _, e := range other {
		resp.Errors = append(resp.Errors, &pb.PollError{Message: e.Error()})
	}
	return resp, nil
}

// walk calls fn for each leaf of err's tree, looking through joined errors
// and through wrapping (fmt.Errorf("...: %w", errors.Join(...))) down to
// each ResourceError.
func walk(err error, fn func(error)) {
	switch u := err.(type) {
	case *ResourceError:
		fn(err)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walk(e, fn)
		}
	case interface{ Unwrap() error }:
		var re *ResourceError
		if inner := u.Unwrap(); inner != nil && errors.As(inner, &re) {
			walk(inner, fn)
			return
		}
		fn(err)
	default:
		fn(err)
	}
}

// Client is the host's view of a pollster plugin.
type Client struct {
	*base.Client
	c pb.PollsterClient
}

// NewClient wraps a connection to a pollster plugin.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{Client: base.NewClient(conn), c: pb.NewPollsterClient(conn)}
}

// Result is one round's outcome: the samples, and per-resource problems.
type Result struct {
	Samples []sample.Sample
	Errors  []*ResourceError
}

// Poll asks for one round.
func (c *Client) Poll(ctx context.Context, req Request) (*Result, error) {
	resp, err := c.c.Poll(ctx, &pb.PollRequest{Meters: req.Meters, Resources: wire.ResourcesToProto(req.Resources)})
	if err != nil {
		return nil, err
	}
	r := &Result{Samples: wire.SamplesFromProto(resp.GetBatch().GetSamples())}
	for _, e := range resp.GetErrors() {
		r.Errors = append(r.Errors, &ResourceError{ResourceID: e.GetResourceId(), Meter: e.GetMeter(), Err: errors.New(e.GetMessage())})
	}
	return r, nil
}

// Discover lists resources with a discovery method.
func (c *Client) Discover(ctx context.Context, method, param string) ([]sample.Resource, error) {
	resp, err := c.c.Discover(ctx, &pb.DiscoverRequest{Method: method, Param: param})
	if err != nil {
		return nil, err
	}
	return wire.ResourcesFromProto(resp.GetResources()), nil
}
