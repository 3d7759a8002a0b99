package influx_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/altimeter/altimeter/internal/influx"
	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/sample"
)

// benchMeters are cycled per resource, as a collector sends them: the
// lines of one resource follow each other with the same tags.
var benchMeters = []string{"mem.used", "mem.free", "cpu.util", "disk.read.bytes", "net.rx.bytes"}

// benchLines is n lines of typical input: 4 tags (one metadata), one
// field, a nanosecond timestamp.
func benchLines(n int) []byte {
	var b []byte
	for i := range n {
		res := i / len(benchMeters) % 200
		b = append(b, benchMeters[i%len(benchMeters)]...)
		b = append(b, ",host=node-"...)
		b = strconv.AppendInt(b, int64(res%50), 10)
		b = append(b, ",project_id=proj-"...)
		b = strconv.AppendInt(b, int64(res%20), 10)
		b = append(b, ",resource_id=res-"...)
		b = strconv.AppendInt(b, int64(res), 10)
		b = append(b, ",unit=B value="...)
		b = strconv.AppendFloat(b, float64(i*7919%100_000_007)+0.25, 'f', -1, 64)
		b = append(b, ' ')
		b = strconv.AppendInt(b, 1_700_000_000_000_000_000+int64(i), 10)
		b = append(b, '\n')
	}
	return b
}

// reportCPU reports the process CPU time since cpu0 per op: on a loaded
// machine a steadier figure than ns/op (wall), and it counts the GC's work.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(peer.SelfCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkDecode decodes a chunk of 1000 lines; per op is per line.
func BenchmarkDecode(b *testing.B) {
	const n = 1000
	data := benchLines(n)
	o := influx.Options{Precision: time.Nanosecond}
	var dst []sample.Sample
	b.SetBytes(int64(len(data) / n))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := peer.SelfCPU()
	for i := 0; i < b.N; i += n {
		var errs []error
		dst, errs = influx.AppendDecode(dst[:0], data, o)
		if len(errs) > 0 || len(dst) != n {
			b.Fatalf("decoded %d samples, errors %v", len(dst), errs)
		}
	}
	reportCPU(b, cpu0)
}

// BenchmarkEncode encodes the samples of typical input, as the file
// publisher does after unit_conversion.
func BenchmarkEncode(b *testing.B) {
	const n = 1000
	in, errs := influx.Decode(benchLines(n), influx.Options{})
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	for i := range in {
		in[i].Unit = "KB"
		in[i].Volume /= 1024
	}
	var (
		e   influx.Encoder
		buf []byte
	)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := peer.SelfCPU()
	for i := 0; i < b.N; i++ {
		if i%n == 0 {
			buf = buf[:0]
		}
		buf = e.Append(buf, &in[i%n])
	}
	reportCPU(b, cpu0)
	b.SetBytes(int64(len(buf) / max(1, min(b.N, n))))
}
