package pubbench

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
)

// BatchSize is the samples of one Publish call, the host's default
// batch for a listener.
const BatchSize = 1000

// Batch returns batch i: BatchSize gauge samples over 100 resources of
// project p-bench, each resource's timestamps increasing by 1 ms from
// batch to batch after start (so a time series database takes them in
// order), with message ids unique across batches.
func Batch(i int, start time.Time) *sample.Batch {
	out := make([]sample.Sample, BatchSize)
	for k := range out {
		n := i*BatchSize + k
		out[k] = sample.Sample{
			Name: "bench.load", Type: sample.Gauge, Unit: "1", Volume: float64(n % 977),
			ResourceID: "r-" + strconv.Itoa(k%100), ProjectID: "p-bench", UserID: "u-bench", Source: "openstack",
			Timestamp: start.Add(time.Duration(i*BatchSize/100+k/100) * time.Millisecond),
			MessageID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n),
			Metadata:  map[string]string{"flavor.name": "m1.small", "host": "compute-1"},
		}
	}
	return &sample.Batch{Samples: out}
}

// Run publishes one Batch per b.Loop iteration through c and reports
// samples/s, cpu-s/Msample (this process: the plugin, the gRPC client,
// the batch generation) and, when peerPID > 0, peer-cpu-s/Msample. done,
// when set, waits after the loop until the peer has everything (for a
// publisher whose Publish returns before the peer has it, as udp's).
func Run(b *testing.B, c *publisher.Client, peerPID int, done func(samples int) error) {
	b.Helper()
	RunBatches(b, c, peerPID, Batch, done)
}

// RunBatches is Run with batch i made by gen (for a peer that wants other
// meters than Batch's, such as Gnocchi's resource types).
func RunBatches(b *testing.B, c *publisher.Client, peerPID int, gen func(i int, start time.Time) *sample.Batch, done func(samples int) error) {
	b.Helper()
	ctx := context.Background()
	start := time.Now().Add(-10 * time.Minute)
	// One batch outside the measurement: connections, first requests.
	if r, err := c.Publish(ctx, gen(0, start)); err != nil || r.Outcome != base.Accepted {
		b.Fatalf("warm-up batch: %v %v %s", err, r.Outcome, r.Reason)
	}
	peer0 := peer.ProcessCPU(peerPID)
	self0 := peer.SelfCPU()
	t0 := time.Now()
	i := 1
	for b.Loop() {
		r, err := c.Publish(ctx, gen(i, start))
		if err != nil || r.Outcome != base.Accepted {
			b.Fatalf("batch %d: %v %v %s", i, err, r.Outcome, r.Reason)
		}
		i++
	}
	n := (i - 1) * BatchSize
	if done != nil {
		if err := done(i * BatchSize); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(t0)
	m := float64(n) / 1e6
	b.ReportMetric(float64(n)/elapsed.Seconds(), "samples/s")
	b.ReportMetric((peer.SelfCPU()-self0).Seconds()/m, "cpu-s/Msample")
	if peerPID > 0 {
		b.ReportMetric((peer.ProcessCPU(peerPID)-peer0).Seconds()/m, "peer-cpu-s/Msample")
	}
}
