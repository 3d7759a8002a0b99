package xformtest

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
	"github.com/altimeter/altimeter/sdk/transformer"
	"github.com/altimeter/altimeter/sdk/wire"
)

// The transformer benchmarks' workload, shared by each plugin's in-process
// BenchmarkTransform and bench/roundtrip's BenchmarkTransformerProcess so
// that the two measure the same work: batches of BenchBatch samples, one
// sample per series and batch, a round being one pass over every series
// (a poll), 10 s after the previous one.
const (
	BenchBatch  = 1000
	BenchSeries = 100_000 // the series rate_of_change's goal is stated for
)

// BenchConfigs are the benchmarked transformers' config bodies (HCL).
var BenchConfigs = map[string]string{
	"rate_of_change": "meters = [\"cpu\"]\nname = \"cpu_util\"\nunit = \"%\"\ntype = \"gauge\"\nmax = 100\n" +
		"scale = \"100.0 / (10**9 * (resource_metadata.cpu_number or 1))\"\nmax_series = 200000\n",
	"delta":       "meters = [\"cpu\"]\nname = \"cpu.delta\"\ngrowth_only = true\nmax_series = 200000\n",
	"accumulator": "size = 1000\n",
	"aggregator":  "size = 10000\nresource_metadata = \"last\"\nmax_groups = 200000\n",
	"arithmetic":  "expr = \"100.0 * $(memory.usage) / $(memory)\"\nname = \"memory.util\"\nunit = \"%\"\nmax_resources = 200000\n",
}

// BenchWorkload returns batch k of round round of the named transformer's
// workload, and how many batches a round has: libvirt-like cpu samples of
// BenchSeries instances, or (arithmetic) memory and memory.usage of half as
// many. Strings are fresh, as in a decoded batch.
func BenchWorkload(name string) (batch func(k, round int) []sample.Sample, batches int) {
	md := map[string]string{"cpu_number": "2", "flavor.name": "m1.small", "host": "compute-1", "state": "running", "instance_type": "m1.small"}
	if name == "arithmetic" {
		return func(k, round int) []sample.Sample {
			b := make([]sample.Sample, 0, BenchBatch)
			for i := k * BenchBatch / 2; i < (k+1)*BenchBatch/2; i++ {
				for j, m := range []string{"memory", "memory.usage"} {
					b = append(b, benchSample(m, sample.Gauge, "MB", float64(2048-1024*j), i, round, md))
				}
			}
			return b
		}, BenchSeries / BenchBatch
	}
	return func(k, round int) []sample.Sample {
		b := make([]sample.Sample, 0, BenchBatch)
		for i := k * BenchBatch; i < (k+1)*BenchBatch; i++ {
			b = append(b, benchSample("cpu", sample.Cumulative, "ns", BenchVolume(round), i, round, md))
		}
		return b
	}, BenchSeries / BenchBatch
}

// BenchTime is when round round was polled.
func BenchTime(round int) time.Time {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(round) * 10 * time.Second)
}

// BenchVolume is a cpu counter at round round: 5 s of CPU per 10 s poll.
func BenchVolume(round int) float64 { return float64(round) * 5e9 }

func benchSample(name string, typ sample.Type, unit string, vol float64, i, round int, md map[string]string) sample.Sample {
	return sample.Sample{
		Name: name, Type: typ, Unit: unit, Volume: vol, ResourceID: fmt.Sprintf("%08x-1111-4222-8333-%012x", i, i),
		ProjectID: "3f2a6c8e1d9b4e7fa0c5b2d4e6f80911", UserID: "9b1e4d7c2a5f4e8b9c0d1e2f3a4b5c6d",
		Timestamp: BenchTime(round), Source: "openstack", MessageID: fmt.Sprintf("%08x-%04x-4000-8000-%012x", i, round&0xffff, len(name)), Metadata: md,
	}
}

// New builds the plugin's transformer in this process from an HCL body,
// decoded as the host and the SDK do: no gRPC, for in-process benchmarks.
func New[C any](tb testing.TB, spec transformer.Spec[C], src string) transformer.Transformer {
	tb.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "bench.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		tb.Fatal(diags.Error())
	}
	info := spec.Info()
	dec, diags := schema.Decode(f.Body, info.Schema)
	if diags.HasErrors() {
		tb.Fatal(diags.Error())
	}
	raw, err := schema.Marshal(dec.Value, info.Schema)
	if err != nil {
		tb.Fatal(err)
	}
	tr, err := base.Build(info.Schema, spec.Defaults, spec.New)(raw, "bench", hclog.NewNullLogger())
	if err != nil {
		tb.Fatal(err)
	}
	return tr
}

// BenchTransform is a plugin's in-process BenchmarkTransform: one round to
// fill its state, then batch after batch of the following rounds through
// Transform, reporting wall and CPU time per sample.
func BenchTransform(b *testing.B, tr transformer.Transformer, name string) {
	batch, batches := BenchWorkload(name)
	src := make([][]sample.Sample, batches)
	fill := make([][]sample.Sample, batches)
	for k := range src {
		src[k] = batch(k, 0)
		fill[k] = append([]sample.Sample(nil), src[k]...)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for k := range fill {
		if _, err := tr.Transform(b.Context(), fill[k]); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(fill) // alive on both sides of the measure
	// The state the first round left, per series (strings it shares with
	// the input batches not counted).
	heap := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / BenchSeries
	work := make([]sample.Sample, BenchBatch)
	b.ReportAllocs()
	cpu0 := CPUTime()
	i := 0
	for b.Loop() {
		round, k := 1+i/batches, i%batches
		copy(work, src[k])
		for j := range work {
			work[j].Timestamp = BenchTime(round)
			if work[j].Name == "cpu" {
				work[j].Volume = BenchVolume(round)
			}
		}
		if _, err := tr.Transform(b.Context(), work); err != nil {
			b.Fatal(err)
		}
		i++
	}
	ReportPerSample(b, CPUTime()-cpu0)
	b.ReportMetric(heap, "heap-B/series")
}

// ReportPerSample reports samples/s and ns/sample of wall time, and
// cpu-ns/sample: on a shared machine the wall clock counts other
// processes' turns, the CPU time used does not.
func ReportPerSample(b *testing.B, cpu time.Duration) { ReportPerSampleIn(b, b.Elapsed(), cpu) }

// ReportPerSampleIn is ReportPerSample for a benchmark that counts only
// part of each iteration: wall is the wall time counted.
func ReportPerSampleIn(b *testing.B, wall, cpu time.Duration) {
	n := float64(b.N) * BenchBatch
	b.ReportMetric(n/wall.Seconds(), "samples/s")
	b.ReportMetric(float64(wall.Nanoseconds())/n, "ns/sample")
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/sample")
}

// CPUTime is the CPU time this process has used (user and system).
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Encoded is the workload's batches in their wire form (an encoded
// altimeter.v1.Batch each), rewritten in place from round to round: each
// batch is encoded once and SetRound changes its timestamps and cpu
// volumes, the only fields a round changes, where they lie. Every sample
// carries its volume field, also in round 0 (volume 0 encoded).
type Encoded struct {
	Batches [][]byte
	ts, vol [][]int // per batch, where each timestamp varint and cpu volume lie
}

// EncodeWorkload encodes the named transformer's workload.
func EncodeWorkload(tb testing.TB, name string) *Encoded {
	tb.Helper()
	batch, batches := BenchWorkload(name)
	e := &Encoded{Batches: make([][]byte, batches), ts: make([][]int, batches), vol: make([][]int, batches)}
	for k := range batches {
		ss := batch(k, 1) // round 1: no volume is 0, so every volume field is there
		for i := range ss {
			if ss[i].Volume == 0 {
				tb.Fatalf("sample %d of batch %d has volume 0", i, k)
			}
		}
		data, err := wire.AppendBatch(nil, &sample.Batch{Samples: ss})
		if err != nil {
			tb.Fatal(err)
		}
		e.Batches[k] = data
		for off := 0; off < len(data); {
			_, _, n := protowire.ConsumeTag(data[off:])
			rec, m := protowire.ConsumeBytes(data[off+n:])
			start := off + n + m - len(rec)
			var cpu bool
			for r := 0; r < len(rec); {
				num, typ, tn := protowire.ConsumeTag(rec[r:])
				vn := protowire.ConsumeFieldValue(num, typ, rec[r+tn:])
				switch num {
				case 1:
					v, _ := protowire.ConsumeBytes(rec[r+tn:])
					cpu = string(v) == "cpu"
				case 4:
					if cpu {
						e.vol[k] = append(e.vol[k], start+r+tn)
					}
				case 8:
					e.ts[k] = append(e.ts[k], start+r+tn)
				}
				r += tn + vn
			}
			off += n + m
		}
		if len(e.ts[k]) != len(ss) {
			tb.Fatalf("batch %d: %d timestamps for %d samples", k, len(e.ts[k]), len(ss))
		}
	}
	return e
}

// SetRound rewrites batch k to round round's timestamps and cpu volumes.
func (e *Encoded) SetRound(k, round int) {
	data := e.Batches[k]
	ts := uint64(BenchTime(round).UnixNano())
	for _, off := range e.ts[k] {
		if n := protowire.SizeVarint(ts); n != protowire.SizeVarint(mustVarint(data[off:])) {
			panic(fmt.Sprintf("round %d: a timestamp of %d bytes in the place of one of another size", round, n))
		}
		protowire.AppendVarint(data[off:off], ts)
	}
	vol := math.Float64bits(BenchVolume(round))
	for _, off := range e.vol[k] {
		binary.LittleEndian.PutUint64(data[off:], vol)
	}
}

func mustVarint(b []byte) uint64 {
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		panic("not a varint")
	}
	return v
}

// BenchTransformRaw is BenchTransform through TransformRaw, for a
// transformer.RawTransformer: the batches in their wire form, as the
// plugin's SDK hands them over, rewritten in place for each round (counted:
// a few stores per sample, as BenchTransform counts its copy and rewrite).
func BenchTransformRaw(b *testing.B, tr transformer.Transformer, name string) {
	raw, ok := tr.(transformer.RawTransformer)
	if !ok {
		b.Skip("not a RawTransformer")
	}
	e := EncodeWorkload(b, name)
	batches := len(e.Batches)
	var out []byte
	for k := range batches {
		e.SetRound(k, 0)
		var err error
		if out, err = raw.TransformRaw(b.Context(), e.Batches[k], out[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	cpu0 := CPUTime()
	i := 0
	for b.Loop() {
		round, k := 1+i/batches, i%batches
		e.SetRound(k, round)
		var err error
		if out, err = raw.TransformRaw(b.Context(), e.Batches[k], out[:0]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	ReportPerSample(b, CPUTime()-cpu0)
}
