package base

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/altimeter/altimeter/sdk"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/wire"
)

// LogLevelEnv is the environment variable through which the host passes its
// log level to plugins.
const LogLevelEnv = "ALTIMETER_PLUGIN_LOG_LEVEL"

// NewLogger returns the logger a plugin logs through: hclog JSON on stderr,
// which go-plugin merges into the host's log under the plugin's name.
func NewLogger(name string, w io.Writer) hclog.Logger {
	lvl := hclog.LevelFromString(os.Getenv(LogLevelEnv))
	if lvl == hclog.NoLevel {
		lvl = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Output: w, JSONFormat: true, Level: lvl})
}

// Serve runs a plugin process: the end of every plugin's main. Started by the
// host (magic cookie set) it serves gRPC until the host goes away; run by hand
// it prints its Describe as JSON on stdout and exits, so tools can lint
// binaries. Register adds the kind's service next to Base.
func Serve(info Info, log hclog.Logger, register func(*grpc.Server, hclog.Logger)) {
	if os.Getenv(sdk.Handshake.MagicCookieKey) != sdk.Handshake.MagicCookieValue {
		if err := PrintDescribe(os.Stdout, &info); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "This is an Altimeter %s plugin; the altimeter agent starts it.\n", info.Kind)
		os.Exit(0)
	}
	go exitWithParent(log)
	go holdSIGTERM(log, sigtermGrace)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: sdk.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			sdk.ProtocolVersion: {sdk.PluginKey: &GRPCPlugin{Register: func(s *grpc.Server) { register(s, log) }}},
		},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return plugin.DefaultGRPCServer(append(opts, ServerOptions()...))
		},
		Logger: log,
	})
}

// ServerOptions are the options of a plugin's gRPC server: message and
// window sizes, and the codec that decodes batches straight into package
// sample's types (wire.Codec), which the kinds' services need.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(sdk.MaxMessageBytes), grpc.MaxSendMsgSize(sdk.MaxMessageBytes),
		grpc.InitialWindowSize(sdk.WindowBytes), grpc.InitialConnWindowSize(sdk.WindowBytes),
		grpc.ReadBufferSize(sdk.IOBufferBytes), grpc.WriteBufferSize(sdk.IOBufferBytes),
		grpc.ForceServerCodecV2(&wire.Codec{}),
	}
}

// PrintDescribe writes info as indented JSON.
func PrintDescribe(w io.Writer, info *Info) error {
	p, err := info.ToProto()
	if err != nil {
		return err
	}
	raw, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true}.Marshal(p)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(raw))
	return err
}

// DescribeFromJSON parses what PrintDescribe wrote.
func DescribeFromJSON(raw []byte) (*Info, error) {
	var p pb.DescribeResponse
	if err := protojson.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("parse describe output: %w", err)
	}
	return InfoFromProto(&p)
}

// exitWithParent ends the process soon after the host is gone, even if the
// host was killed with SIGKILL and could not stop its plugins: the parent pid
// changes when the process is re-parented.
func exitWithParent(log hclog.Logger) {
	ppid := os.Getppid()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != ppid {
			log.Warn("host process is gone; exiting", "host_pid", ppid)
			os.Exit(3)
		}
	}
}

// sigtermGrace bounds how long a plugin that got SIGTERM waits for its host
// to stop it: longer than the host's drain (10 s) and plugin shutdown.
const sigtermGrace = 30 * time.Second

// holdSIGTERM keeps the plugin serving through a SIGTERM meant for its whole
// unit (systemd's default KillMode=control-group signals every process of
// it at once): the host, signalled too, drains its pipelines through the
// plugins and then stops them. Dying first would lose what the host still
// has to flush. The plugin exits by itself on a second SIGTERM, after
// grace, or (exitWithParent) once the host is gone.
func holdSIGTERM(log hclog.Logger, grace time.Duration) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGTERM)
	<-ch
	log.Info("SIGTERM received; waiting for the host to stop it", "grace", grace.String())
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-ch:
		log.Warn("second SIGTERM; exiting")
	case <-t.C:
		log.Warn("host did not stop this plugin after SIGTERM; exiting", "grace", grace.String())
	}
	os.Exit(143) // 128 + SIGTERM, as if the signal had ended it
}
