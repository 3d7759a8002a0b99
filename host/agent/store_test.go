package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/config"
	"github.com/altimeter/altimeter/host/rawbatch"
	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/base"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/wire"
)

// TestStorePublisherDiskFull: while the store's file system has less free
// space than store { min_free_mb }, the built-in store publisher answers
// Retry (so a listener's broker keeps its deliveries and polled samples
// stay queued), for samples and events alike; once space is back the same
// batch is accepted and stored once.
func TestStorePublisherDiskFull(t *testing.T) {
	dir := peer.Tmpfs(t, 24)
	cfg, diags := config.Parse("store.hcl", []byte("store {\n  min_free_mb = 8\n}\n"))
	require.False(t, diags.HasErrors(), diags.Error())
	o := storeOptions(cfg)
	require.Equal(t, uint64(8<<20), o.MinFree)
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(dir, "store"), o)
	require.NoError(t, err)
	defer s.Close()
	p := storePublisher{s: s}

	now := time.Now().UTC().Truncate(time.Second)
	samples := make([]sample.Sample, 100)
	for i := range samples {
		samples[i] = sample.Sample{
			Name: "disk.full", Type: sample.Gauge, Unit: "B", Volume: float64(i), ResourceID: fmt.Sprintf("r-%d", i%5),
			ProjectID: "p", Source: "openstack", Timestamp: now.Add(time.Duration(i) * time.Second),
			MessageID: fmt.Sprintf("50000000-0000-4000-8000-%012d", i),
		}
	}
	ev := sample.Event{MessageID: "50000000-0000-4000-9000-000000000001", EventType: "compute.instance.create.end", Generated: now}
	pbb := &pb.Batch{Samples: wire.SamplesToProto(samples), Events: []*pb.Event{wire.EventToProto(&ev)}}
	b, err := rawbatch.FromProto(pbb)
	require.NoError(t, err)

	filler := peer.Fill(t, dir, peer.Free(t, dir)-4<<20)
	r, err := p.Publish(ctx, b)
	require.NoError(t, err)
	require.Equal(t, base.Retry, r.Outcome, r.Reason)
	require.Contains(t, r.Reason, "not enough free disk space")
	evOnly, err := rawbatch.FromProto(&pb.Batch{Events: pbb.Events})
	require.NoError(t, err)
	r, err = p.Publish(ctx, evOnly)
	require.NoError(t, err)
	require.Equal(t, base.Retry, r.Outcome, r.Reason)

	require.NoError(t, os.Remove(filler))
	r, err = p.Publish(ctx, b)
	require.NoError(t, err)
	require.Equal(t, base.Accepted, r.Outcome, r.Reason)
	got, err := s.Samples(ctx, store.Filter{Meter: "disk.full"}, store.ListOptions{})
	require.NoError(t, err)
	require.Len(t, got, len(samples))
	evs, err := s.Events(ctx, store.EventFilter{})
	require.NoError(t, err)
	require.Len(t, evs, 1)
}
