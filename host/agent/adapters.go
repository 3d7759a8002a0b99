package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/altimeter/altimeter/host/archive"
	"github.com/altimeter/altimeter/host/pipeline"
	"github.com/altimeter/altimeter/host/pluginmgr"
	"github.com/altimeter/altimeter/host/rawbatch"
	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/pollster"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/transformer"
	"github.com/altimeter/altimeter/sdk/wire"
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
var rawCall = rawbatch.CallOption()

func (a transformerOf) Transform(ctx context.Context, b *rawbatch.Batch) (*rawbatch.Batch, error) {
	conn, err := a.i.Conn(ctx)
	if err != nil {
		return nil, err
	}
	out, err := rawbatch.Transform(ctx, conn, b)
	if errors.Is(err, rawbatch.ErrMalformed) {
		return nil, fmt.Errorf("transformer %s returned a batch the host refuses: %w", a.i.ID(), err)
	}
	if err != nil {
		return nil, a.i.Err(err)
	}
	return out, nil
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
		return nil, a.listenErr(err)
	}
	// The listener sends a ready marker (id 0, no batch) once it is bound;
	// one that cannot bind ends the stream with its error. A plugin built
	// before the marker existed starts with its first delivery.
	var d rawbatch.Delivery
	if err := s.RecvMsg(&d); err != nil {
		return nil, a.listenErr(err)
	}
	rs := &rawStream{s: s, id: a.i.ID()}
	if d.ID != 0 || d.Batch != nil || d.Err != nil {
		rs.first = &d
	}
	return rs, nil
}

// listenErr maps an error opening a listener's stream.
func (a listenerOf) listenErr(err error) error {
	err = a.i.Err(err)
	// A listener that could not open (bind) says why in the status
	// message; the gRPC envelope adds nothing for the reader.
	if st, ok := status.FromError(err); ok && st.Code() == codes.Internal {
		err = errors.New(st.Message())
	}
	return err
}

// rawStream hands the engine deliveries encoded, as the listener sent them.
type rawStream struct {
	s     grpc.ClientStream
	id    string
	first *rawbatch.Delivery // a delivery read while waiting for the ready marker
	mu    sync.Mutex         // Ack may be called from any sink's goroutine
}

func (s *rawStream) Recv() (uint64, *rawbatch.Batch, error) {
	var d rawbatch.Delivery
	if s.first != nil {
		d, s.first = *s.first, nil
	} else if err := s.s.RecvMsg(&d); err != nil {
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

// archiveExpireEvery is how often expired notifications are deleted.
const archiveExpireEvery = time.Minute

// archiver stores listeners' raw notifications in the archive, and the
// notification.duration sample of each .end or .error whose .start is
// archived in the store, both before the delivery is answered.
type archiver struct {
	db *archive.DB
	st *store.Store
}

func (a archiver) Archive(ctx context.Context, ns []*pb.Notification) error {
	out := make([]sample.Notification, len(ns))
	for i, n := range ns {
		out[i] = wire.NotificationFromProto(n)
	}
	if err := a.db.Put(ctx, out); err != nil {
		return err
	}
	ds, err := a.db.Durations(ctx, out)
	if err != nil {
		return err
	}
	good := ds[:0]
	for i := range ds {
		// A sample the store would refuse (an id too long) is skipped:
		// the notification itself is archived.
		if store.Validate(&ds[i]) == nil {
			good = append(good, ds[i])
		}
	}
	if len(good) == 0 {
		return nil
	}
	if err := a.st.Write(ctx, good); err != nil {
		return fmt.Errorf("store %s samples: %w", archive.DurationMeter, err)
	}
	return nil
}
