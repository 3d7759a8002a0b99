// Package transformer is the transformer plugin kind: batch in, batch out. A
// transformer may keep per-resource state and emit what it holds on Flush.
// Events pass through transformers untouched.
package transformer

import (
	"context"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"

	"github.com/altimeter/altimeter/sdk/base"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/wire"
)

// Transformer maps a batch of samples to a new batch. Transform is never
// called concurrently on one value. The input slice is the transformer's to
// modify and return.
type Transformer interface {
	Transform(ctx context.Context, in []sample.Sample) ([]sample.Sample, error)
}

// Flusher is optional: the host calls Flush on shutdown and reload, and the
// samples it returns continue down the sink.
type Flusher interface {
	Flush(ctx context.Context) ([]sample.Sample, error)
}

// Spec declares a transformer plugin; C is its config struct (hcl tags).
type Spec[C any] struct {
	Name        string
	Version     string
	Description string
	Defaults    C
	New         func(c C, log hclog.Logger) (Transformer, error)
}

// Info returns what the plugin reports in Describe.
func (s Spec[C]) Info() base.Info {
	return base.NewInfo(base.Transformer, s.Name, s.Version, s.Description, s.Defaults)
}

// Register returns the function that adds this plugin's services to a gRPC server.
func (s Spec[C]) Register() func(*grpc.Server, hclog.Logger) {
	info := s.Info()
	return func(g *grpc.Server, log hclog.Logger) {
		b := base.NewServer(info, base.Build(info.Schema, s.Defaults, s.New), log)
		pb.RegisterBaseServer(g, b)
		pb.RegisterTransformerServer(g, &server{base: b})
	}
}

// Serve runs the plugin; call it from main.
func Serve[C any](s Spec[C]) {
	base.Serve(s.Info(), base.NewLogger(s.Name, nil), s.Register())
}

type server struct {
	pb.UnimplementedTransformerServer
	base *base.Server[Transformer]
}

func (s *server) Transform(ctx context.Context, req *pb.TransformRequest) (*pb.TransformResponse, error) {
	impl, err := s.base.Impl()
	if err != nil {
		return nil, err
	}
	out, err := impl.Transform(ctx, wire.SamplesFromProto(req.GetBatch().GetSamples()))
	if err != nil {
		return nil, base.StatusError("transform", err)
	}
	return &pb.TransformResponse{Batch: &pb.Batch{Samples: wire.SamplesToProto(out), Events: req.GetBatch().GetEvents()}}, nil
}

func (s *server) Flush(ctx context.Context, _ *pb.FlushRequest) (*pb.FlushResponse, error) {
	impl, err := s.base.Impl()
	if err != nil {
		return nil, err
	}
	f, ok := impl.(Flusher)
	if !ok {
		return &pb.FlushResponse{Batch: &pb.Batch{}}, nil
	}
	out, err := f.Flush(ctx)
	if err != nil {
		return nil, base.StatusError("flush", err)
	}
	return &pb.FlushResponse{Batch: &pb.Batch{Samples: wire.SamplesToProto(out)}}, nil
}

// Client is the host's view of a transformer plugin.
type Client struct {
	*base.Client
	c pb.TransformerClient
}

// NewClient wraps a connection to a transformer plugin.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{Client: base.NewClient(conn), c: pb.NewTransformerClient(conn)}
}

// Transform sends a batch through the transformer; events come back as sent.
func (c *Client) Transform(ctx context.Context, b *sample.Batch) (sample.Batch, error) {
	resp, err := c.c.Transform(ctx, &pb.TransformRequest{Batch: wire.BatchToProto(b)})
	if err != nil {
		return sample.Batch{}, err
	}
	return wire.BatchFromProto(resp.GetBatch()), nil
}

// TransformProto is Transform on the wire form, for a host that forwards
// batches without decoding them.
func (c *Client) TransformProto(ctx context.Context, b *pb.Batch) (*pb.Batch, error) {
	resp, err := c.c.Transform(ctx, &pb.TransformRequest{Batch: b})
	if err != nil {
		return nil, err
	}
	return resp.GetBatch(), nil
}

// Flush asks for what the transformer holds.
func (c *Client) Flush(ctx context.Context) ([]sample.Sample, error) {
	resp, err := c.c.Flush(ctx, &pb.FlushRequest{})
	if err != nil {
		return nil, err
	}
	return wire.SamplesFromProto(resp.GetBatch().GetSamples()), nil
}
