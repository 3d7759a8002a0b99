package base

import (
	"context"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/altimeter/altimeter/sdk"
)

// GRPCPlugin is the go-plugin glue shared by every kind. On the plugin side
// Register adds the gRPC services; on the host side GRPCClient hands back the
// raw connection, which the kind packages' NewClient wrap.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Register func(*grpc.Server)
}

// GRPCServer implements plugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Register != nil {
		p.Register(s)
	}
	return nil
}

// GRPCClient implements plugin.GRPCPlugin.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return c, nil
}

// PluginSets is the host's VersionedPlugins: every protocol version the host
// speaks, each with the single dispense key.
func PluginSets() map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		sdk.ProtocolVersion: {sdk.PluginKey: &GRPCPlugin{}},
	}
}
