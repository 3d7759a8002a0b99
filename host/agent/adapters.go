package agent

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/altimeter/altimeter/host/pipeline"
	"github.com/altimeter/altimeter/host/pluginmgr"
	"github.com/altimeter/altimeter/sdk/listener"
	"github.com/altimeter/altimeter/sdk/pollster"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/transformer"
)

// The adapters turn a supervised instance into the engine's narrow
// interfaces: each call takes the live connection (waiting out a restart,
// within ctx) and maps transport errors of a dead process to
// pluginmgr.ErrPluginExited.

type pollerOf struct{ i *pluginmgr.Instance }

func (a pollerOf) Poll(ctx context.Context, req pollster.Request) (*pollster.Result, error) {
	conn, err := a.i.Conn(ctx)
	if err != nil {
		return nil, err
	}
	r, err := pollster.NewClient(conn).Poll(ctx, req)
	return r, a.i.Err(err)
}

func (a pollerOf) Discover(ctx context.Context, method, param string) ([]sample.Resource, error) {
	conn, err := a.i.Conn(ctx)
	if err != nil {
		return nil, err
	}
	r, err := pollster.NewClient(conn).Discover(ctx, method, param)
	return r, a.i.Err(err)
}

type transformerOf struct{ i *pluginmgr.Instance }

func (a transformerOf) Transform(ctx context.Context, b *pb.Batch) (*pb.Batch, error) {
	conn, err := a.i.Conn(ctx)
	if err != nil {
		return nil, err
	}
	out, err := transformer.NewClient(conn).TransformProto(ctx, b)
	return out, a.i.Err(err)
}

func (a transformerOf) Flush(ctx context.Context) ([]sample.Sample, error) {
	conn, err := a.i.Conn(ctx)
	if err != nil {
		return nil, err
	}
	out, err := transformer.NewClient(conn).Flush(ctx)
	return out, a.i.Err(err)
}

type publisherOf struct{ i *pluginmgr.Instance }

func (a publisherOf) Publish(ctx context.Context, b *pb.Batch) (publisher.Result, error) {
	conn, err := a.i.Conn(ctx)
	if err != nil {
		return publisher.Result{}, err
	}
	r, err := publisher.NewClient(conn).PublishProto(ctx, b)
	return r, a.i.Err(err)
}

type listenerOf struct{ i *pluginmgr.Instance }

func (a listenerOf) Listen(ctx context.Context) (pipeline.Stream, error) {
	conn, err := a.i.Conn(ctx)
	if err != nil {
		return nil, err
	}
	s, err := listener.NewClient(conn).Listen(ctx)
	if err != nil {
		err = a.i.Err(err)
		// A listener that could not open (bind) says why in the status
		// message; the gRPC envelope adds nothing for the reader.
		if st, ok := status.FromError(err); ok && st.Code() == codes.Internal {
			err = errors.New(st.Message())
		}
		return nil, err
	}
	return protoStream{s}, nil
}

// protoStream hands the engine deliveries in their wire form.
type protoStream struct{ *listener.Stream }

func (s protoStream) Recv() (uint64, *pb.Batch, error) { return s.RecvProto() }
