// Package roundtrip times one 1,000-sample batch through a real plugin
// process (launched by host/pluginmgr from bin/plugins, as the agent does)
// against the same batch through the wire conversion and protobuf encoding
// alone, in this process: the difference is what the OS, gRPC and the
// plugin's scheduling cost per batch.
//
//	make dev && go test -run '^$' -bench . -count 6 ./bench/roundtrip/
package roundtrip

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/altimeter/altimeter/bench/internal/gen"
	"github.com/altimeter/altimeter/host/config"
	"github.com/altimeter/altimeter/host/pluginmgr"
	"github.com/altimeter/altimeter/internal/influx"
	"github.com/altimeter/altimeter/sdk/base"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/transformer"
	"github.com/altimeter/altimeter/sdk/wire"
)

const batchSize = 1000

// testBatch is 1,000 samples as the socket listener emits them for the
// end-to-end benchmark's input: decoded line protocol plus a UUID message_id.
func testBatch(tb testing.TB) *sample.Batch {
	shape := gen.Shape{N: batchSize, Resources: 2000}
	ss, errs := influx.Decode(shape.Chunks(1)[0], influx.Options{})
	if len(errs) > 0 || len(ss) != batchSize {
		tb.Fatalf("decode: %d samples, %v", len(ss), errs)
	}
	for i := range ss {
		ss[i].MessageID = fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
	}
	return &sample.Batch{Samples: ss}
}

func pluginDir(tb testing.TB) string {
	dir := os.Getenv("ALTIMETER_PLUGIN_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "bin", "plugins")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		// make test and make bench build them first (make dev); a test
		// without them fails rather than passing unseen.
		tb.Fatalf("no plugin binaries in %s (run make dev): %v", abs, err)
	}
	return abs
}

// launch starts the plugin of kind from a small pipeline config, the way
// the agent does (host/agent/validate.go): Scan, Parse, Resolve against the
// plugins' Describe, Launch with the resolved config bytes.
func launch(b *testing.B, kind base.Kind) *grpc.ClientConn {
	conn, _ := launchTransform(b, kind, "transform \"unit_conversion\" {\n    meters = [\"*\"]\n    scale  = \"volume / 1024\"\n    unit   = \"KB\"\n  }")
	return conn
}

// launchTransform is launch with the sink's transform block given, and
// returns the plugin's pid too.
func launchTransform(b testing.TB, kind base.Kind, transform string) (*grpc.ClientConn, int) {
	dir := pluginDir(b)
	ctx := context.Background()
	m := pluginmgr.New(pluginmgr.Options{Dir: dir})
	b.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Shutdown(sctx)
	})
	if _, errs := m.Scan(ctx); len(errs) > 0 {
		b.Logf("scan: %v", errs)
	}
	src := fmt.Sprintf(`
listener "socket" "bench" {
  tcp   = "127.0.0.1:0"
  sinks = ["bench"]
}
sink "bench" {
  %s
  publish "file" {
    path      = %q
    format    = "influx"
    max_bytes = 0
  }
}
`, transform, filepath.Join(b.TempDir(), "out.lp"))
	cfg, diags := config.Parse("bench.hcl", []byte(src))
	if diags.HasErrors() {
		b.Fatal(config.Format(diags))
	}
	if diags := cfg.Resolve(func(k base.Kind, name string) (*base.Info, error) { return m.Describe(ctx, k, name) }); diags.HasErrors() {
		b.Fatal(config.Format(diags))
	}
	for _, p := range cfg.AllPlugins() {
		if p.Kind != kind {
			continue
		}
		inst, err := m.Launch(ctx, "bench."+p.ID, p.Kind, p.Name, p.Config)
		if err != nil {
			b.Fatal(err)
		}
		conn, err := inst.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return conn, inst.Status().PID
	}
	b.Fatalf("no %s in the config", kind)
	return nil, 0
}

func report(b *testing.B) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns/1e3, "µs/batch")
	b.ReportMetric(ns/batchSize, "ns/sample")
}

// BenchmarkRoundTrip sends the batch to a real plugin process and waits for
// its answer: the per-batch cost of a process boundary as the pipeline pays it.
func BenchmarkRoundTrip(b *testing.B) {
	batch := testBatch(b)
	b.Run("transformer=unit_conversion", func(b *testing.B) {
		c := transformer.NewClient(launch(b, base.Transformer))
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			out, err := c.Transform(ctx, batch)
			if err != nil {
				b.Fatal(err)
			}
			if len(out.Samples) != batchSize {
				b.Fatalf("got %d samples", len(out.Samples))
			}
		}
		report(b)
	})
	b.Run("publisher=file", func(b *testing.B) {
		c := publisher.NewClient(launch(b, base.Publisher))
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			r, err := c.Publish(ctx, batch)
			if err != nil {
				b.Fatal(err)
			}
			if r.Outcome != base.Accepted {
				b.Fatalf("publish: %v %s", r.Outcome, r.Reason)
			}
		}
		report(b)
	})
}

// BenchmarkWireOnly is the same two exchanges with no process, no gRPC and
// no plugin work: sdk/wire conversion and protobuf Marshal/Unmarshal, both
// sides and both directions, in this goroutine.
func BenchmarkWireOnly(b *testing.B) {
	batch := testBatch(b)
	b.Run("transformer=unit_conversion", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			transformWire(b, batch)
		}
		report(b)
	})
	b.Run("publisher=file", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req, err := proto.Marshal(&pb.PublishRequest{Batch: wire.BatchToProto(batch)})
			if err != nil {
				b.Fatal(err)
			}
			var in pb.PublishRequest
			if err := proto.Unmarshal(req, &in); err != nil {
				b.Fatal(err)
			}
			if got := wire.BatchFromProto(in.GetBatch()); len(got.Samples) != batchSize {
				b.Fatal("lost samples")
			}
			resp, err := proto.Marshal(&pb.PublishResponse{})
			if err != nil {
				b.Fatal(err)
			}
			if err := proto.Unmarshal(resp, &pb.PublishResponse{}); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
}

// transformWire is one Transform exchange's wire work: the batch encoded
// and decoded on its way to the plugin and back (the transform itself left
// out).
func transformWire(b *testing.B, batch *sample.Batch) {
	// host -> plugin
	req, err := proto.Marshal(&pb.TransformRequest{Batch: wire.BatchToProto(batch)})
	if err != nil {
		b.Fatal(err)
	}
	var inReq pb.TransformRequest
	if err := proto.Unmarshal(req, &inReq); err != nil {
		b.Fatal(err)
	}
	got := wire.BatchFromProto(inReq.GetBatch())
	// plugin -> host
	resp, err := proto.Marshal(&pb.TransformResponse{Batch: wire.BatchToProto(&got)})
	if err != nil {
		b.Fatal(err)
	}
	var inResp pb.TransformResponse
	if err := proto.Unmarshal(resp, &inResp); err != nil {
		b.Fatal(err)
	}
	if back := wire.BatchFromProto(inResp.GetBatch()); len(back.Samples) != len(batch.Samples) {
		b.Fatal("lost samples")
	}
}

// BenchmarkWireStep splits BenchmarkWireOnly into its steps, one direction,
// to show which one dominates.
func BenchmarkWireStep(b *testing.B) {
	batch := testBatch(b)
	pbBatch := wire.BatchToProto(batch)
	raw, err := proto.Marshal(&pb.TransformRequest{Batch: pbBatch})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ToProto", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = wire.BatchToProto(batch)
		}
		report(b)
	})
	b.Run("Marshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := proto.Marshal(&pb.TransformRequest{Batch: pbBatch}); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			var m pb.TransformRequest
			if err := proto.Unmarshal(raw, &m); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("FromProto", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = wire.BatchFromProto(pbBatch)
		}
		report(b)
	})
}
