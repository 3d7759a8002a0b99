package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/crashtest"
	"github.com/altimeter/altimeter/sdk/sample"
)

func TestMain(m *testing.M) {
	crashtest.Main(m, map[string]crashtest.Writer{"spans": spansWriter})
}

// spansBatch is batch k of the spans helper: one sample of each of 50
// resources at t0+k minutes, the same metadata each time, so that after
// the first batch the index writes no SQL for them (the times are kept in
// memory, index/spans.go).
func spansBatch(k int) []sample.Sample {
	out := make([]sample.Sample, 0, 50)
	for r := range 50 {
		out = append(out, sample.Sample{
			Name: "cpu", Type: sample.Cumulative, Unit: "ns", Volume: float64(k),
			ResourceID: fmt.Sprintf("vm-%02d", r), ProjectID: "p", UserID: "u", Source: "openstack",
			Timestamp: t0.Add(time.Duration(k) * time.Minute), Metadata: map[string]string{"host": "c1"},
		})
	}
	return out
}

// spansWriter is TestResourceTimesSurviveKill's child process: it
// writes spansBatch after spansBatch until killed.
func spansWriter(dir string, ack func(int)) error {
	s, err := Open(context.Background(), dir, testOptions())
	if err != nil {
		return err
	}
	for k := 0; ; k++ {
		if err := s.Write(context.Background(), spansBatch(k)); err != nil {
			return err
		}
		ack(k)
	}
}

// TestResourceTimesSurviveKill: a store killed with SIGKILL loses the
// resource times it kept in memory; the next Open widens them from the
// time series, so every resource's last sample time is the one of the last
// acknowledged batch (or a later one that reached the series), and a clean
// close needs no widening.
func TestResourceTimesSurviveKill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	acked := crashtest.KillAfter(t, "spans", dir, 60)

	s := openTest(t, dir)
	ctx := context.Background()
	rs, err := s.Resources(ctx, Filter{}, ListOptions{})
	require.NoError(t, err)
	require.Len(t, rs, 50)
	for _, r := range rs {
		require.Equal(t, t0, r.FirstSample, r.ResourceID)
		require.False(t, r.LastSample.Before(t0.Add(time.Duration(acked)*time.Minute)), "%s: last sample %s, batch %d acknowledged", r.ResourceID, r.LastSample, acked)
		// What the series hold is what the index says.
		ps, err := s.Samples(ctx, Filter{ResourceID: r.ResourceID}, ListOptions{Limit: 1})
		require.NoError(t, err)
		require.Len(t, ps, 1)
		require.Equal(t, ps[0].Timestamp, r.LastSample, r.ResourceID)
	}
	require.True(t, s.index.SpansClean())

	// More samples, a clean close: the next open finds the times complete.
	require.NoError(t, s.Write(ctx, spansBatch(acked+100)))
	require.NoError(t, s.Close())
	s = openTest(t, dir)
	t.Cleanup(func() { _ = s.Close() })
	require.True(t, s.index.SpansClean())
	r, err := s.Resource(ctx, "vm-07", "")
	require.NoError(t, err)
	require.Equal(t, t0.Add(time.Duration(acked+100)*time.Minute), r.LastSample)
}
