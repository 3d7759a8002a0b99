package roundtrip

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/altimeter/altimeter/host/rawbatch"
	"github.com/altimeter/altimeter/internal/xform/xformtest"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
)

// BenchmarkTransformerProcess sends the transformers' benchmark workload
// (internal/xform/xformtest: 1,000-sample batches, 100,000 series) through
// each real plugin process as the agent does: each batch a rawbatch.Batch
// (the bytes of an encoded altimeter.v1.Batch), sent and received by
// rawbatch.Transform, the agent's call (host/agent's transformerOf), one
// call at a time. The plugins' own BenchmarkTransform is the same work
// in-process; the report sets the two side by side.
//
// What is counted: the calls alone. Between two calls the test rewrites
// the next batch's timestamps and cpu volumes in place (the next round's,
// so that rates stay valid) and parses it into a rawbatch.Batch, as the
// agent receives a batch from a listener; neither is counted. samples/s
// and ns/sample are wall time within the calls; cpu-ns/sample is the CPU
// of both processes: this one's within the calls (the agent side: the
// request's framing, gRPC, and the copy and Parse of the answer), and the
// plugin's over the whole run (from /proc; it idles between calls), which
// is also plugin-cpu-ns/sample. rss-B/series (rate_of_change) is the
// plugin's resident memory grown by filling its cache, per series.
//
//	make dev && go test -run '^$' -bench TransformerProcess ./bench/roundtrip/
func BenchmarkTransformerProcess(b *testing.B) {
	for _, name := range []string{"rate_of_change", "delta", "accumulator", "aggregator", "arithmetic"} {
		b.Run(name, func(b *testing.B) {
			block := "transform \"" + name + "\" {\n" + xformtest.BenchConfigs[name] + "}"
			conn, pid := launchTransform(b, base.Transformer, block)
			ctx := context.Background()
			enc := xformtest.EncodeWorkload(b, name)
			batches := len(enc.Batches)
			next := func(k, round int) *rawbatch.Batch {
				enc.SetRound(k, round)
				rb, err := rawbatch.Parse(enc.Batches[k])
				if err != nil {
					b.Fatal(err)
				}
				return rb
			}
			rss0 := rssBytes(b, pid)
			for k := range batches { // round 0 fills the state
				if _, err := rawbatch.Transform(ctx, conn, next(k, 0)); err != nil {
					b.Fatal(err)
				}
			}
			grown := rssBytes(b, pid) - rss0
			b.ReportAllocs()
			var wall, host time.Duration
			plugin0 := procCPU(b, pid)
			i := 0
			for b.Loop() {
				rb := next(i%batches, 1+i/batches)
				t0, cpu0 := time.Now(), xformtest.CPUTime()
				if _, err := rawbatch.Transform(ctx, conn, rb); err != nil {
					b.Fatal(err)
				}
				host += xformtest.CPUTime() - cpu0
				wall += time.Since(t0)
				i++
			}
			plugin := procCPU(b, pid) - plugin0
			xformtest.ReportPerSampleIn(b, wall, host+plugin)
			b.ReportMetric(float64(plugin.Nanoseconds())/float64(b.N*xformtest.BenchBatch), "plugin-cpu-ns/sample")
			if name == "rate_of_change" { // reported after b.Loop, which clears earlier metrics
				b.ReportMetric(float64(grown)/xformtest.BenchSeries, "rss-B/series")
			}
		})
	}
}

// procCPU is the user and system CPU time of process pid, from /proc.
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	s := string(raw)
	fs := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 (state) on
	ut, err1 := strconv.ParseInt(fs[11], 10, 64)              // field 14: utime
	st, err2 := strconv.ParseInt(fs[12], 10, 64)              // field 15: stime
	if err1 != nil || err2 != nil {
		b.Fatalf("parse /proc/%d/stat: %q", pid, s)
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck
}

// rssBytes is process pid's resident set size.
func rssBytes(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// BenchmarkTransformerWire is the wire work of one rate_of_change batch of
// that workload, both ways, in this goroutine (BenchmarkWireOnly's
// exchange on this batch shape: no gRPC, no process, no transform). With the in-process work it
// accounts for most of BenchmarkTransformerProcess.
func BenchmarkTransformerWire(b *testing.B) {
	batch, _ := xformtest.BenchWorkload("rate_of_change")
	in := &sample.Batch{Samples: batch(0, 1)}
	b.ReportAllocs()
	cpu0 := xformtest.CPUTime()
	for b.Loop() {
		transformWire(b, in)
	}
	xformtest.ReportPerSample(b, xformtest.CPUTime()-cpu0)
}

// TestTransformerProcessRawPath: the real rate_of_change and delta binaries
// take batches as bytes (transformer.RawTransformer). A sample they pass
// on comes back through the agent's call as the very bytes it was sent as,
// its fields in the order sent; a plugin that decodes and encodes would
// write them in field order.
func TestTransformerProcessRawPath(t *testing.T) {
	if testing.Short() {
		t.Skip("-short (make test-short) leaves out the tests of real plugin processes; make test runs it")
	}
	var rec []byte
	rec = protowire.AppendString(protowire.AppendTag(rec, 5, protowire.BytesType), "r1")
	rec = protowire.AppendVarint(protowire.AppendTag(rec, 8, protowire.VarintType), uint64(xformtest.BenchTime(0).UnixNano()))
	rec = protowire.AppendString(protowire.AppendTag(rec, 3, protowire.BytesType), "MB")
	rec = protowire.AppendString(protowire.AppendTag(rec, 1, protowire.BytesType), "memory")
	data := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), rec)
	in, err := rawbatch.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"rate_of_change", "delta"} {
		t.Run(name, func(t *testing.T) {
			conn, _ := launchTransform(t, base.Transformer, "transform \""+name+"\" {\n"+xformtest.BenchConfigs[name]+"}")
			out, err := rawbatch.Transform(t.Context(), conn, in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("the passed sample came back as %x, not as sent (%x): the plugin did not take TransformRaw", out.Bytes(), data)
			}
		})
	}
}
