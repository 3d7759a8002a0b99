package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/internal/pubbench"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// BenchmarkIntegrationPublish posts batches of 1,000 memory.usage samples
// over 100 instances (created on the warm-up batch) to a real Gnocchi 4.4.
// The peer's CPU is not reported: uwsgi's workers are not the process
// whose PID we hold.
func BenchmarkIntegrationPublish(b *testing.B) {
	peer.Need(b)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	g, err := peer.StartGnocchi(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(g.Stop)
	c := sdktest.Publisher(b, spec(), fmt.Sprintf("url = %q\nuser = \"admin\"\narchive_policy = \"ceilometer-high\"\n", g.URL))
	pubbench.RunBatches(b, c, 0, func(i int, start time.Time) *sample.Batch {
		bt := pubbench.Batch(i, start)
		for k := range bt.Samples {
			s := &bt.Samples[k]
			s.Name, s.Unit = "memory.usage", "MB"
			s.ResourceID, s.ProjectID, s.UserID = fmt.Sprintf("inst-%d", k%100), "p1", "u1"
			s.Metadata = map[string]string{"display_name": "web", "flavor.name": "m1.small", "flavor.id": "42", "host": "compute-1", "image_ref": "img-1"}
		}
		return bt
	}, nil)
}
