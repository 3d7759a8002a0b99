// Package transformer is the transformer plugin kind: batch in, batch out. A
// transformer may keep per-resource state and emit what it holds on Flush.
// Events pass through transformers untouched. A transformer that also
// implements RawTransformer gets each batch as its encoded bytes instead
// of decoded samples.
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

// RawTransformer is optional: a Transformer that also transforms batches in
// their encoded form, which spares the SDK decoding each batch into samples
// and encoding the result. Once the configured value has it, the SDK calls
// TransformRaw, not Transform, for every batch (Flush is unchanged).
//
// in is an encoded altimeter.v1.Batch, valid only during the call: neither
// it nor a string that aliases it (package wire's views) may be kept. The
// result is the encoded output batch appended to out (an empty buffer the
// SDK provides and sends). TransformRaw must give what Transform would
// give for the decoded batch, encoded: the same samples in the same order,
// the events passed on as they came, notifications dropped; and it must
// refuse (with an error wrapping wire.ErrMalformed, before any state
// changes) every batch the decoder refuses. wire.BatchView, wire.SampleView,
// wire.AppendSample and wire.AppendDerived do the reading and writing.
// Never called concurrently on one value, nor with Transform.
type RawTransformer interface {
	TransformRaw(ctx context.Context, in, out []byte) ([]byte, error)
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
		srv := &server{base: b}
		desc := base.WithUnary(&pb.Transformer_ServiceDesc, "Transform", srv.newRequest, srv.transform)
		desc = base.WithUnary(desc, "Flush", func() any { return &pb.FlushRequest{} }, srv.flush)
		g.RegisterService(desc, srv)
	}
}

// Serve runs the plugin; call it from main.
func Serve[C any](s Spec[C]) {
	base.Serve(s.Info(), base.NewLogger(s.Name, nil), s.Register())
}

// server serves the Transformer service with batches decoded straight into
// samples and encoded straight from them (wire.Codec); events pass through
// as the bytes they came as.
type server struct {
	pb.UnimplementedTransformerServer
	base *base.Server[Transformer]
	dec  wire.Decoder
}

// newRequest is the message a Transform request is read into, made before
// it is read: the batch is kept as bytes when the configured transformer
// is a RawTransformer, decoded otherwise.
func (s *server) newRequest() any {
	impl, err := s.base.Impl()
	_, raw := impl.(RawTransformer)
	return &wire.BatchMessage{KeepRawEvents: true, Decoder: &s.dec, KeepBytes: err == nil && raw}
}

func (s *server) transform(ctx context.Context, req any) (any, error) {
	in := req.(*wire.BatchMessage)
	defer in.Free()
	impl, err := s.base.Impl()
	if err != nil {
		return nil, err
	}
	if in.KeepBytes {
		if raw, ok := impl.(RawTransformer); ok {
			// Room for an output somewhat larger than the input (longer
			// names), so that it rarely outgrows the pooled buffer.
			buf := in.Buffer(len(in.Encoded) + len(in.Encoded)/4)
			out, err := raw.TransformRaw(ctx, in.Encoded, buf)
			if err != nil {
				return nil, base.StatusError("transform", err)
			}
			return in.Reply(out), nil
		}
		// Reconfigured in between into a value without TransformRaw.
		if in.Batch.Samples, in.RawEvents, err = s.dec.Samples(in.Encoded, nil, nil); err != nil {
			return nil, base.StatusError("transform", err)
		}
	}
	out, err := impl.Transform(ctx, in.Batch.Samples)
	if err != nil {
		return nil, base.StatusError("transform", err)
	}
	return &wire.BatchMessage{Batch: sample.Batch{Samples: out}, RawEvents: in.RawEvents}, nil
}

func (s *server) flush(ctx context.Context, _ any) (any, error) {
	impl, err := s.base.Impl()
	if err != nil {
		return nil, err
	}
	f, ok := impl.(Flusher)
	if !ok {
		return &wire.BatchMessage{}, nil
	}
	out, err := f.Flush(ctx)
	if err != nil {
		return nil, base.StatusError("flush", err)
	}
	return &wire.BatchMessage{Batch: sample.Batch{Samples: out}}, nil
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
