package base

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/schema"
)

// Closer is optional for every kind. The host calls Close once, after the
// last call of any other method.
type Closer interface {
	Close(ctx context.Context) error
}

// CounterReporter is optional for every kind: a plugin that counts what it
// drops or skips reports the running totals here, by snake_case name
// ("bad_lines"), and the host exposes them on /metrics as
// altimeter_plugin_events_total{plugin, event}. Called concurrently with
// the kind's methods.
type CounterReporter interface {
	Counters() map[string]uint64
}

// BuildFunc builds a plugin value from its decoded config bytes.
type BuildFunc[T any] func(config []byte, instance string, log hclog.Logger) (T, error)

// Build returns a BuildFunc that decodes config into a copy of defaults and
// calls newFn: the usual way a kind package turns a Spec into a BuildFunc.
func Build[C, T any](s *schema.Schema, defaults C, newFn func(C, hclog.Logger) (T, error)) BuildFunc[T] {
	return func(config []byte, instance string, log hclog.Logger) (T, error) {
		c := defaults
		if err := schema.Unmarshal(config, s, &c); err != nil {
			var zero T
			return zero, err
		}
		return newFn(c, log)
	}
}

// Server serves the Base service and holds the configured plugin value.
type Server[T any] struct {
	pb.UnimplementedBaseServer
	info  Info
	build BuildFunc[T]
	log   hclog.Logger

	mu         sync.RWMutex
	impl       T
	configured bool
}

// NewServer returns a Base server for a plugin described by info.
func NewServer[T any](info Info, build BuildFunc[T], log hclog.Logger) *Server[T] {
	return &Server[T]{info: info, build: build, log: log}
}

// Info returns what the plugin describes itself as.
func (s *Server[T]) Info() *Info { return &s.info }

// Impl returns the configured value, or a FailedPrecondition status before
// Configure succeeded.
func (s *Server[T]) Impl() (T, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.configured {
		var zero T
		return zero, status.Error(codes.FailedPrecondition, "plugin is not configured")
	}
	return s.impl, nil
}

// Describe implements pb.BaseServer.
func (s *Server[T]) Describe(context.Context, *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	return s.info.ToProto()
}

// Configure implements pb.BaseServer.
func (s *Server[T]) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	log := s.log
	if req.GetInstance() != "" {
		log = log.With("instance", req.GetInstance())
	}
	impl, err := s.build(req.GetConfig(), req.GetInstance(), log)
	if err != nil {
		return &pb.ConfigureResponse{Errors: ConfigErrors(err)}, nil
	}
	s.mu.Lock()
	old, hadOld := s.impl, s.configured
	s.impl, s.configured = impl, true
	s.mu.Unlock()
	if hadOld {
		if c, ok := any(old).(Closer); ok {
			if err := c.Close(ctx); err != nil {
				s.log.Warn("close replaced config", "error", err)
			}
		}
	}
	return &pb.ConfigureResponse{}, nil
}

// Close implements pb.BaseServer.
func (s *Server[T]) Close(ctx context.Context, _ *pb.CloseRequest) (*pb.CloseResponse, error) {
	s.mu.Lock()
	impl, ok := s.impl, s.configured
	var zero T
	s.impl, s.configured = zero, false
	s.mu.Unlock()
	if ok {
		if c, isCloser := any(impl).(Closer); isCloser {
			if err := c.Close(ctx); err != nil {
				return nil, status.Error(codes.Internal, err.Error())
			}
		}
	}
	return &pb.CloseResponse{}, nil
}

// Counters implements pb.BaseServer.
func (s *Server[T]) Counters(context.Context, *pb.CountersRequest) (*pb.CountersResponse, error) {
	impl, err := s.Impl()
	if err != nil {
		return &pb.CountersResponse{}, nil
	}
	if r, ok := any(impl).(CounterReporter); ok {
		return &pb.CountersResponse{Counters: r.Counters()}, nil
	}
	return &pb.CountersResponse{}, nil
}

// ConfigErrors turns a constructor's error into wire config errors: one per
// schema.AttributeError in the tree, or one for the whole block.
func ConfigErrors(err error) []*pb.ConfigError {
	var out []*pb.ConfigError
	for _, ae := range schema.AttributeErrors(err) {
		out = append(out, &pb.ConfigError{Attribute: ae.Attribute, Summary: ae.Summary, Detail: ae.Detail})
	}
	if len(out) == 0 {
		out = append(out, &pb.ConfigError{Summary: "Invalid plugin configuration", Detail: err.Error()})
	}
	return out
}

// StatusError maps a plugin method's error to a gRPC status: context errors
// keep their codes, errors marked Unavailable stay so, the rest are Internal.
func StatusError(op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, fmt.Sprintf("%s: %v", op, err))
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, fmt.Sprintf("%s: %v", op, err))
	case errors.Is(err, ErrUnavailable):
		return status.Error(codes.Unavailable, fmt.Sprintf("%s: %v", op, err))
	}
	return status.Error(codes.Internal, fmt.Sprintf("%s: %v", op, err))
}

// ErrUnavailable marks a transient upstream failure the host may retry:
// wrap it (fmt.Errorf("dial %s: %w", addr, base.ErrUnavailable)).
var ErrUnavailable = errors.New("upstream unavailable")
