package agent

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc"

	"github.com/altimeter/altimeter/host/pipeline"
	"github.com/altimeter/altimeter/host/pluginmgr"
	"github.com/altimeter/altimeter/host/rawbatch"
	"github.com/altimeter/altimeter/sdk/base"
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

// rawCall makes the batch-carrying calls with the codec that moves batches
// as bytes: the host copies them, it does not decode them.
var rawCall = grpc.ForceCodecV2(rawbatch.Codec{})

func (a transformerOf) Transform(ctx context.Context, b *rawbatch.Batch) (*rawbatch.Batch, error) {
	conn, err := a.i.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var out rawbatch.Msg
	if err := conn.Invoke(ctx, pb.Transformer_Transform_FullMethodName, &rawbatch.Msg{Batch: b}, &out, rawCall); err != nil {
		return nil, a.i.Err(err)
	}
	if out.Err != nil {
		return nil, fmt.Errorf("transformer %s returned a batch the host refuses: %w", a.i.ID(), out.Err)
	}
	return out.Batch, nil
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

func (a publisherOf) Publish(ctx context.Context, b *rawbatch.Batch) (publisher.Result, error) {
	conn, err := a.i.Conn(ctx)
	if err != nil {
		return publisher.Result{}, err
	}
	var resp pb.PublishResponse
	if err := conn.Invoke(ctx, pb.Publisher_Publish_FullMethodName, &rawbatch.Msg{Batch: b}, &resp, rawCall); err != nil {
		return publisher.Result{}, a.i.Err(err)
	}
	return publisher.ResultFromProto(&resp), nil
}

type listenerOf struct{ i *pluginmgr.Instance }

func (a listenerOf) Listen(ctx context.Context) (pipeline.Stream, error) {
	conn, err := a.i.Conn(ctx)
	if err != nil {
		return nil, err
	}
	s, err := conn.NewStream(ctx, &pb.Listener_ServiceDesc.Streams[0], pb.Listener_Listen_FullMethodName, rawCall)
	if err != nil {
		return nil, a.i.Err(err)
	}
	return &rawStream{s: s, id: a.i.ID()}, nil
}

// rawStream hands the engine deliveries encoded, as the listener sent them.
type rawStream struct {
	s  grpc.ClientStream
	id string
	mu sync.Mutex // Ack may be called from any sink's goroutine
}

func (s *rawStream) Recv() (uint64, *rawbatch.Batch, error) {
	var d rawbatch.Delivery
	if err := s.s.RecvMsg(&d); err != nil {
		return 0, nil, err
	}
	if d.Err != nil {
		return d.ID, nil, fmt.Errorf("listener %s sent a batch the host refuses: %w", s.id, d.Err)
	}
	return d.ID, d.Batch, nil
}

func (s *rawStream) Ack(id uint64, o base.Outcome, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.s.SendMsg(&pb.Ack{Id: id, Outcome: o.ToProto(), Reason: reason})
}
