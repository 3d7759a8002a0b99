package pipeline

import (
	"context"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
)

// Poller is a pollster instance as the engine uses it.
type Poller interface {
	Poll(ctx context.Context, req pollster.Request) (*pollster.Result, error)
	Discover(ctx context.Context, method, param string) ([]sample.Resource, error)
}

// Transformer is a transformer instance.
type Transformer interface {
	Transform(ctx context.Context, b *sample.Batch) (sample.Batch, error)
	Flush(ctx context.Context) ([]sample.Sample, error)
}

// Publisher is a publisher instance.
type Publisher interface {
	Publish(ctx context.Context, b *sample.Batch) (publisher.Result, error)
}

// Stream is one open listener stream. Recv must return (with an error)
// once the ctx given to Listen is done, as a gRPC stream does.
type Stream interface {
	Recv() (uint64, sample.Batch, error)
	Ack(id uint64, o base.Outcome, reason string) error
}

// ListenerSource opens streams on a listener instance; Listen is called
// again (with backoff) whenever a stream ends while the graph runs.
type ListenerSource interface {
	Listen(ctx context.Context) (Stream, error)
}
