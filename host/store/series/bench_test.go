package series

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// benchValues makes plausible meter values per series: a percentage with
// two decimals, an integer gauge (MB), or a cumulative byte counter.
type benchValues struct {
	r   *rand.Rand
	cur []float64
}

func newBenchValues(n int) *benchValues {
	v := &benchValues{r: rand.New(rand.NewPCG(1, 1)), cur: make([]float64, n)}
	for i := range v.cur {
		v.cur[i] = float64(v.r.IntN(100000))
	}
	return v
}

func (v *benchValues) next(i int) float64 {
	switch i % 3 {
	case 0: // cpu.util: a random walk with two decimals
		x := math.Round((math.Mod(v.cur[i], 100)+v.r.NormFloat64())*100) / 100
		v.cur[i] = math.Abs(x)
	case 1: // memory.usage in MB: mostly unchanged
		if v.r.IntN(4) == 0 {
			v.cur[i] += float64(v.r.IntN(64) - 32)
		}
	default: // network.incoming.bytes: cumulative
		v.cur[i] += float64(v.r.IntN(1 << 20))
	}
	return v.cur[i]
}

var benchMeters = [...]string{"cpu_util", "memory.usage", "network.incoming.bytes"}

// BenchmarkWrite writes b.N batches of 1000 samples, one per series of
// 1000, 60 s apart, and reports samples/s and bytes/sample after Compact,
// with empty message ids (the facade derives canonical ones) or random
// UUIDs (16 bytes in the chunk plus the message id index). Run with
// -benchtime=200x for the store's 200-points-per-series shape.
func BenchmarkWrite(b *testing.B) {
	for _, c := range []struct {
		sync, uuids bool
	}{{true, false}, {false, false}, {true, true}} {
		sync := c.sync
		b.Run(fmt.Sprintf("sync=%v/uuids=%v", c.sync, c.uuids), func(b *testing.B) {
			ctx := context.Background()
			db, err := Open(b.TempDir(), Options{NoSync: !sync, RetainEvery: -1}, testLogger(b))
			require.NoError(b, err)
			defer db.Close()
			const nSeries = 1000
			keys := make([]Key, nSeries)
			for i := range keys {
				keys[i] = Key{Meter: benchMeters[i%3], Type: "gauge", Unit: "x", ResourceID: fmt.Sprintf("res-%05d", i/3),
					ProjectID: fmt.Sprintf("proj-%03d", i/300), UserID: "user", Source: "openstack"}
			}
			vals := newBenchValues(nSeries)
			base := time.Now().Add(-time.Duration(b.N) * time.Minute).Truncate(time.Minute).UnixMicro()
			batch := make([]Input, nSeries)
			b.ResetTimer()
			start := time.Now()
			for k := 0; k < b.N; k++ {
				rec := time.Now().UnixMicro()
				for i := range batch {
					batch[i] = Input{Key: keys[i], T: base + int64(k)*min1 + int64(i%7)*1000, V: vals.next(i), Recorded: rec}
					if c.uuids {
						u := rand.Uint64()
						batch[i].MessageID = fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", u>>32, u>>16&0xffff, u&0xfff, k&0xfff, i)
					}
				}
				res, err := db.Write(ctx, batch)
				if err != nil || res.Written != nSeries {
					b.Fatalf("write: %v %+v", err, res.Written)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			n := float64(b.N * nSeries)
			b.ReportMetric(n/elapsed.Seconds(), "samples/s")
			require.NoError(b, db.Compact(ctx))
			size, err := db.DiskUsage()
			require.NoError(b, err)
			b.ReportMetric(float64(size)/n, "bytes/sample")
		})
	}
}

// BenchmarkStore is the store's target shape: 10,000 resources x 3 meters x
// 200 points 60 s apart (6M samples), written time-major in batches of
// 1000, then compacted; it reports ingest rate, bytes/sample and the
// latency of Stats (period 1 h over the whole range) for a whole meter
// (10,000 series), one (meter, project) (100 series) and one series. Run
// with -benchtime=1x; RESOURCES shrinks it for a quick look.
func BenchmarkStore(b *testing.B) {
	for _, c := range []struct {
		sync    bool
		writers int
	}{{true, 1}, {true, 4}, {false, 1}} {
		b.Run(fmt.Sprintf("sync=%v/writers=%d", c.sync, c.writers), func(b *testing.B) {
			for range b.N {
				benchStore(b, 10000, 200, !c.sync, c.writers)
			}
		})
	}
}

func benchStore(b *testing.B, resources, points int, noSync bool, writers int) {
	ctx := context.Background()
	db, err := Open(b.TempDir(), Options{NoSync: noSync, RetainEvery: -1}, testLogger(b))
	require.NoError(b, err)
	defer db.Close()
	nSeries := resources * 3
	keys := make([]Key, nSeries)
	for i := range keys {
		keys[i] = Key{Meter: benchMeters[i%3], Type: "gauge", Unit: "x", ResourceID: fmt.Sprintf("res-%05d", i/3),
			ProjectID: fmt.Sprintf("proj-%03d", i/3/100), UserID: "user", Source: "openstack"}
	}
	vals := newBenchValues(nSeries)
	hourStart := time.Now().Add(-time.Duration(points+60) * time.Minute).Truncate(time.Hour).UnixMicro()
	batch := make([]Input, 0, 1000)
	total := 0
	b.ResetTimer()
	start := time.Now()
	work := make(chan []Input, writers)
	var wg sync.WaitGroup
	var failed atomic.Bool
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for in := range work {
				now := time.Now().UnixMicro()
				for i := range in {
					in[i].Recorded = now
				}
				res, err := db.Write(ctx, in)
				if err != nil || res.Written != len(in) {
					b.Logf("write: %v %d of %d", err, res.Written, len(in))
					failed.Store(true)
				}
			}
		}()
	}
	for k := range points {
		for i := range nSeries {
			batch = append(batch, Input{Key: keys[i], T: hourStart + int64(k)*min1 + int64(i%50)*1000, V: vals.next(i)})
			if len(batch) == cap(batch) {
				work <- batch
				total += len(batch)
				batch = make([]Input, 0, 1000)
			}
		}
	}
	if len(batch) > 0 {
		work <- batch
		total += len(batch)
	}
	close(work)
	wg.Wait()
	require.False(b, failed.Load())
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(total)/elapsed.Seconds(), "samples/s")
	require.NoError(b, db.Compact(ctx))
	size, err := db.DiskUsage()
	require.NoError(b, err)
	b.ReportMetric(float64(size)/float64(total), "bytes/sample")

	end := hourStart + int64(points+60)*min1/hour*hour + hour
	timeIt := func(name string, sel Selector, wantCount int64) {
		var best time.Duration
		for range 5 {
			t0 := time.Now()
			st, err := db.Stats(ctx, sel, hourStart, end, hour)
			d := time.Since(t0)
			require.NoError(b, err)
			var n int64
			for _, x := range st {
				n += x.Agg.Count
			}
			require.Equal(b, wantCount, n, name)
			if best == 0 || d < best {
				best = d
			}
		}
		b.ReportMetric(float64(best.Microseconds())/1000, name+"-ms")
	}
	id, _ := db.SeriesID(keys[3*17])
	timeIt("stats-meter", Selector{Meter: benchMeters[0]}, int64(resources*points))
	timeIt("stats-project", Selector{Meter: benchMeters[0], Project: "proj-007"}, int64(min(100, resources)*points))
	timeIt("stats-series", Selector{IDs: []ID{id}}, int64(points))
	db.forceRaw = true
	timeIt("stats-meter-raw", Selector{Meter: benchMeters[0]}, int64(resources*points))
	db.forceRaw = false
}
