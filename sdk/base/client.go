package base

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
)

// Client calls a plugin's Base service.
type Client struct {
	c pb.BaseClient
}

// NewClient wraps a connection to a plugin.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{c: pb.NewBaseClient(conn)}
}

// Describe asks the plugin what it is.
func (c *Client) Describe(ctx context.Context) (*Info, error) {
	resp, err := c.c.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return nil, fmt.Errorf("describe: %w", err)
	}
	return InfoFromProto(resp)
}

// Configure sends the decoded config (schema.Marshal bytes). Config problems
// the plugin found come back as ConfigErrors with a nil error.
func (c *Client) Configure(ctx context.Context, instance string, config []byte) ([]*pb.ConfigError, error) {
	resp, err := c.c.Configure(ctx, &pb.ConfigureRequest{Config: config, Instance: instance})
	if err != nil {
		return nil, fmt.Errorf("configure: %w", err)
	}
	return resp.GetErrors(), nil
}

// Counters reads the plugin's own event counters.
func (c *Client) Counters(ctx context.Context) (map[string]uint64, error) {
	resp, err := c.c.Counters(ctx, &pb.CountersRequest{})
	if err != nil {
		return nil, fmt.Errorf("counters: %w", err)
	}
	return resp.GetCounters(), nil
}

// Close asks the plugin to release its resources.
func (c *Client) Close(ctx context.Context) error {
	if _, err := c.c.Close(ctx, &pb.CloseRequest{}); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}
