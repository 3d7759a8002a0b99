// Package sdktest runs a plugin in a test, in-process but over real gRPC,
// exactly as the host would talk to it: Describe, Configure from HCL, then
// the kind's calls. CheckExample decodes a plugin's example.hcl.
package sdktest

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/listener"
	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/schema"
	"github.com/altimeter/altimeter/sdk/transformer"
)

// Logger returns an hclog logger that writes to t.Log while the test runs;
// what a plugin goroutine logs after the test ended (a stream handler that
// outlives its server's Stop) is discarded, not a race on t.
func Logger(t testing.TB) hclog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Output: w, Level: hclog.Debug})
}

type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Helper()
		w.t.Log(string(p))
	}
	return len(p), nil
}

// Plugin is a plugin running in-process behind a real gRPC connection.
type Plugin struct {
	Info base.Info
	Conn *grpc.ClientConn
	Base *base.Client
}

// Start serves a plugin over gRPC for the test's lifetime.
func Start(t testing.TB, info base.Info, register func(*grpc.Server, hclog.Logger)) *Plugin {
	t.Helper()
	log := Logger(t)
	// A plugin's own server options (base.Serve's), its codec included.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer(base.ServerOptions()...)
	register(srv, log)
	go func() { _ = srv.Serve(l) }()
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		t.Fatalf("dial: %v", err)
	}
	p := &Plugin{Info: info, Conn: conn, Base: base.NewClient(conn)}
	t.Cleanup(func() {
		_ = p.Base.Close(context.Background())
		_ = conn.Close()
		srv.Stop()
	})
	return p
}

// Configure decodes src (the body of the plugin's block, in HCL) against the
// schema the plugin describes over the wire and sends it, as the host does.
// Problems come back as diagnostics, the plugin's own included.
func (p *Plugin) Configure(t testing.TB, src string) hcl.Diagnostics {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "config.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return diags
	}
	return p.ConfigureBody(t, f.Body)
}

// ConfigureBody is Configure for an already parsed body.
func (p *Plugin) ConfigureBody(t testing.TB, body hcl.Body) hcl.Diagnostics {
	t.Helper()
	ctx := context.Background()
	info, err := p.Base.Describe(ctx)
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	dec, diags := schema.Decode(body, info.Schema)
	if diags.HasErrors() {
		return diags
	}
	raw, err := schema.Marshal(dec.Value, info.Schema)
	if err != nil {
		t.Fatalf("marshal config: %v", err)
	}
	errs, err := p.Base.Configure(ctx, t.Name(), raw)
	if err != nil {
		t.Fatalf("configure: %v", err)
	}
	return dec.Diagnostics(errs)
}

func mustConfigure(t testing.TB, p *Plugin, src string) {
	t.Helper()
	if diags := p.Configure(t, src); diags.HasErrors() {
		t.Fatalf("configure: %s", diags.Error())
	}
}

// Pollster starts a pollster configured from src.
func Pollster[C any](t testing.TB, s pollster.Spec[C], src string) *pollster.Client {
	t.Helper()
	p := Start(t, s.Info(), s.Register())
	mustConfigure(t, p, src)
	return pollster.NewClient(p.Conn)
}

// Listener starts a listener configured from src.
func Listener[C any](t testing.TB, s listener.Spec[C], src string) *listener.Client {
	t.Helper()
	p := Start(t, s.Info(), s.Register())
	mustConfigure(t, p, src)
	return listener.NewClient(p.Conn)
}

// Transformer starts a transformer configured from src.
func Transformer[C any](t testing.TB, s transformer.Spec[C], src string) *transformer.Client {
	t.Helper()
	p := Start(t, s.Info(), s.Register())
	mustConfigure(t, p, src)
	return transformer.NewClient(p.Conn)
}

// Publisher starts a publisher configured from src.
func Publisher[C any](t testing.TB, s publisher.Spec[C], src string) *publisher.Client {
	t.Helper()
	p := Start(t, s.Info(), s.Register())
	mustConfigure(t, p, src)
	return publisher.NewClient(p.Conn)
}

// CheckExample finds the plugin's block in an example file (a top-level
// pollster or listener block, or a transform or publish block inside a sink)
// and configures a running copy of the plugin from it: every example.hcl
// must be paste-ready.
func CheckExample(t testing.TB, path string, info base.Info, register func(*grpc.Server, hclog.Logger)) {
	t.Helper()
	parser := hclparse.NewParser()
	f, diags := parser.ParseHCLFile(path)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", path, diags.Error())
	}
	body := FindBlock(f.Body, info.Kind, info.Name)
	if body == nil {
		t.Fatalf("%s: no %s %q block", path, info.Kind.BlockType(), info.Name)
	}
	p := Start(t, info, register)
	if diags := p.ConfigureBody(t, body); diags.HasErrors() {
		var buf = &stringWriter{}
		w := hcl.NewDiagnosticTextWriter(buf, parser.Files(), 100, false)
		_ = w.WriteDiagnostics(diags)
		t.Fatalf("%s does not configure the plugin:\n%s", path, buf.s)
	}
}

type stringWriter struct{ s string }

func (w *stringWriter) Write(p []byte) (int, error) { w.s += string(p); return len(p), nil }

// FindBlock returns the body of the first block configuring plugin name of
// kind k, with host-owned attributes removed, or nil.
func FindBlock(body hcl.Body, k base.Kind, name string) hcl.Body {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	for _, b := range sb.Blocks {
		if b.Type == k.BlockType() && len(b.Labels) > 0 && b.Labels[0] == name {
			return hostStripped(b.Body, k)
		}
		if b.Type == "sink" {
			if found := FindBlock(b.Body, k, name); found != nil {
				return found
			}
		}
	}
	return nil
}

func hostStripped(body hcl.Body, k base.Kind) hcl.Body {
	hs := &hcl.BodySchema{}
	for _, a := range base.HostAttributes(k) {
		hs.Attributes = append(hs.Attributes, hcl.AttributeSchema{Name: a})
	}
	for _, b := range base.HostBlocks(k) {
		hs.Blocks = append(hs.Blocks, hcl.BlockHeaderSchema{Type: b})
	}
	_, remain, _ := body.PartialContent(hs)
	return remain
}
