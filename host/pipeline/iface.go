package pipeline

import (
	"context"

	"github.com/altimeter/altimeter/host/rawbatch"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/pollster"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
)

// Poller is a pollster instance as the engine uses it.
type Poller interface {
	Poll(ctx context.Context, req pollster.Request) (*pollster.Result, error)
	Discover(ctx context.Context, method, param string) ([]sample.Resource, error)
}

// Batches travel through the engine encoded (*rawbatch.Batch): the host
// never looks inside a sample, so it forwards the bytes one plugin sent to
// the next without decoding and re-encoding them. A batch is never modified
// once handed to the engine; publishers of a sink share it.

// Transformer is a transformer instance.
type Transformer interface {
	Transform(ctx context.Context, b *rawbatch.Batch) (*rawbatch.Batch, error)
	Flush(ctx context.Context) ([]sample.Sample, error)
}

// Publisher is a publisher instance.
type Publisher interface {
	Publish(ctx context.Context, b *rawbatch.Batch) (publisher.Result, error)
}

// Stream is one open listener stream. Recv must return (with an error)
// once the ctx given to Listen is done, as a gRPC stream does. A delivery
// whose batch is malformed comes back as its id and an error wrapping
// rawbatch.ErrMalformed; the engine refuses it and reads on.
type Stream interface {
	Recv() (uint64, *rawbatch.Batch, error)
	Ack(id uint64, o base.Outcome, reason string) error
}

// ListenerSource opens streams on a listener instance; Listen is called
// again (with backoff) whenever a stream ends while the graph runs.
type ListenerSource interface {
	Listen(ctx context.Context) (Stream, error)
}

// Archiver keeps a listener's raw notifications (Batch.notifications).
// Archive must be durable when it returns nil: the delivery is then
// acknowledged to the listener, which acks its broker.
type Archiver interface {
	Archive(ctx context.Context, ns []*pb.Notification) error
}
