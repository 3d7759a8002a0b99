package roundtrip

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/altimeter/altimeter/internal/xform/xformtest"
	"github.com/altimeter/altimeter/sdk/base"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/transformer"
	"github.com/altimeter/altimeter/sdk/wire"
)

// BenchmarkTransformerProcess sends the transformers' benchmark workload
// (internal/xform/xformtest: 1,000-sample batches, 100,000 series) through
// each real plugin process as the agent does: batches in their wire form,
// one Transform call at a time. The plugins' own BenchmarkTransform is the
// same work in-process; the report sets the two side by side. cpu-ns/sample
// is the CPU of both processes (this one, the host side, and the plugin's,
// from /proc); rss-B/series (rate_of_change) is the plugin's resident
// memory grown by filling its cache, per series.
//
//	make dev && go test -run '^$' -bench TransformerProcess ./bench/roundtrip/
func BenchmarkTransformerProcess(b *testing.B) {
	for _, name := range []string{"rate_of_change", "delta", "accumulator", "aggregator", "arithmetic"} {
		b.Run(name, func(b *testing.B) {
			block := "transform \"" + name + "\" {\n" + xformtest.BenchConfigs[name] + "}"
			conn, pid := launchTransform(b, base.Transformer, block)
			c := transformer.NewClient(conn)
			ctx := context.Background()
			batch, batches := xformtest.BenchWorkload(name)
			src := make([]*pb.Batch, batches)
			for k := range src {
				src[k] = wire.BatchToProto(&sample.Batch{Samples: batch(k, 0)})
			}
			rss0 := rssBytes(b, pid)
			for _, pbb := range src { // round 0 fills the state
				if _, err := c.TransformProto(ctx, pbb); err != nil {
					b.Fatal(err)
				}
			}
			grown := rssBytes(b, pid) - rss0
			b.ReportAllocs()
			host0, plugin0 := xformtest.CPUTime(), procCPU(b, pid)
			i := 0
			for b.Loop() {
				round, k := 1+i/batches, i%batches
				ts, vol := xformtest.BenchTime(round).UnixNano(), xformtest.BenchVolume(round)
				for _, s := range src[k].Samples {
					s.Timestamp = ts
					if s.Name == "cpu" {
						s.Volume = vol
					}
				}
				if _, err := c.TransformProto(ctx, src[k]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			xformtest.ReportPerSample(b, xformtest.CPUTime()-host0+procCPU(b, pid)-plugin0)
			b.ReportMetric(float64((procCPU(b, pid)-plugin0).Nanoseconds())/float64(b.N*xformtest.BenchBatch), "plugin-cpu-ns/sample")
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
