package pubbench

import (
	"context"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/publisher"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

type nullConfig struct{}

type nullPub struct{ n int }

func (p *nullPub) Publish(_ context.Context, b *sample.Batch) error {
	p.n += len(b.Samples)
	return nil
}

// BenchmarkIntegrationPublish/peer=none is the baseline of the
// publishers' benchmarks (scripts/bench.sh): the same batches over the
// same gRPC path to a publisher that keeps nothing, so a publisher's
// figures divided by these are its own work and its peer's.
func BenchmarkIntegrationPublish(b *testing.B) {
	b.Run("peer=none", func(b *testing.B) {
		c := sdktest.Publisher(b, publisher.Spec[nullConfig]{
			Name: "null", Version: "0.0.0",
			New: func(nullConfig, hclog.Logger) (publisher.Publisher, error) { return &nullPub{}, nil },
		}, "")
		Run(b, c, 0, nil)
	})
}

func TestBatch(t *testing.T) {
	t.Parallel()
	start := sample.Sample{}.Timestamp
	a, b := Batch(0, start), Batch(1, start)
	if len(a.Samples) != BatchSize || a.Samples[0].MessageID == b.Samples[0].MessageID {
		t.Fatalf("batches must be full and carry distinct ids")
	}
	if !b.Samples[0].Timestamp.After(a.Samples[0].Timestamp) {
		t.Fatalf("a series' timestamps must increase from batch to batch")
	}
}
