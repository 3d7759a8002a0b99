package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/altimeter/altimeter/host/archive"
	"github.com/altimeter/altimeter/host/pipeline"
	"github.com/altimeter/altimeter/host/pluginmgr"
	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/sdk/listener"
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
