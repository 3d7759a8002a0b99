package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/sample"
)

func smp(project, resource, id string, ts time.Time, v float64) sample.Sample {
	return sample.Sample{Name: "cpu_util", Type: sample.Gauge, Unit: "%", Volume: v, ResourceID: resource,
		ProjectID: project, UserID: "u", Source: "openstack", Timestamp: ts, MessageID: id,
		Metadata: map[string]string{"owner": project}}
}

// TestResourceBelongsToOneProject: a project's write that names another
// project's resource is refused whole, and the resource keeps its project,
// its first sample time and its metadata.
func TestResourceBelongsToOneProject(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	res, err := s.WriteAs(ctx, "p-b", []sample.Sample{smp("p-b", "vm-b", "", t0.Add(time.Hour), 1)})
	require.NoError(t, err)
	require.Equal(t, 1, res.Stored)
	before, err := s.Resource(ctx, "vm-b", "p-b")
	require.NoError(t, err)

	_, err = s.WriteAs(ctx, "p-a", []sample.Sample{
		smp("p-a", "vm-a", "", t0, 1),
		smp("p-a", "vm-b", "", t0, 2), // earlier than B's first sample
	})
	var conflict *ResourceConflictError
	require.ErrorAs(t, err, &conflict)
	require.ErrorIs(t, err, ErrConflict)
	require.Equal(t, 1, conflict.Index)
	require.Equal(t, "vm-b", conflict.ResourceID)
	require.NotContains(t, err.Error(), "p-b")
	require.Equal(t, 2.0, testutil.ToFloat64(s.notStored.WithLabelValues("resource_conflict")))

	after, err := s.Resource(ctx, "vm-b", "p-b")
	require.NoError(t, err)
	require.Equal(t, before, after)
	_, err = s.Resource(ctx, "vm-a", "")
	require.ErrorIs(t, err, ErrNotFound, "nothing of the refused write was stored")
	rows, err := s.Samples(ctx, Filter{ProjectID: "p-a"}, ListOptions{})
	require.NoError(t, err)
	require.Empty(t, rows)

	// A sample of another project than the writer's is invalid.
	_, err = s.WriteAs(ctx, "p-a", []sample.Sample{smp("p-b", "vm-x", "", t0, 1)})
	require.ErrorIs(t, err, ErrInvalid)
	// An admin may write any project's resource (the pipelines do).
	_, err = s.WriteAs(ctx, "", []sample.Sample{smp("p-b", "vm-b", "", t0.Add(2*time.Hour), 3)})
	require.NoError(t, err)
}

// TestConcurrentClaims: projects racing to create one new resource: one
// wins, the others are refused, and the resource holds only the winner's
// samples.
func TestConcurrentClaims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	for round := range 5 {
		rid := fmt.Sprintf("vm-race-%d", round)
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := map[string]bool{}
		for p := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				project := fmt.Sprintf("p-%d", p)
				_, err := s.WriteAs(ctx, project, []sample.Sample{smp(project, rid, "", t0.Add(time.Duration(p)*time.Second), 1)})
				if err == nil {
					mu.Lock()
					won[project] = true
					mu.Unlock()
					return
				}
				require.ErrorIs(t, err, ErrConflict)
			}()
		}
		wg.Wait()
		require.Len(t, won, 1, rid)
		r, err := s.Resource(ctx, rid, "")
		require.NoError(t, err)
		require.True(t, won[r.ProjectID])
		rows, err := s.Samples(ctx, Filter{ResourceID: rid}, ListOptions{})
		require.NoError(t, err)
		require.Len(t, rows, 1)
	}
}

// TestMessageIDsPerProject: deduplication never crosses projects. A's id
// does not pre-empt B's sample; the answer counts stored and duplicate
// samples honestly; each project reads its own sample by the id.
func TestMessageIDsPerProject(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	res, err := s.WriteAs(ctx, "p-a", []sample.Sample{smp("p-a", "vm-a", "shared-id", t0, 1)})
	require.NoError(t, err)
	require.Equal(t, WriteResult{Stored: 1, Status: []WriteStatus{Stored}, MessageIDs: []string{"shared-id"}}, res)

	res, err = s.WriteAs(ctx, "p-b", []sample.Sample{smp("p-b", "vm-b", "shared-id", t0, 2)})
	require.NoError(t, err)
	require.Equal(t, 1, res.Stored, "B's sample is stored though A used its id")

	res, err = s.WriteAs(ctx, "p-a", []sample.Sample{smp("p-a", "vm-a", "shared-id", t0.Add(time.Minute), 3)})
	require.NoError(t, err)
	require.Equal(t, WriteResult{Duplicates: 1, Status: []WriteStatus{Duplicate}, MessageIDs: []string{"shared-id"}}, res)

	a, err := s.Sample(ctx, "shared-id", "p-a")
	require.NoError(t, err)
	require.Equal(t, 1.0, a.Volume)
	b, err := s.Sample(ctx, "shared-id", "p-b")
	require.NoError(t, err)
	require.Equal(t, 2.0, b.Volume)
	_, err = s.Sample(ctx, "shared-id", "p-c")
	require.ErrorIs(t, err, ErrNotFound)
}

// TestCanonicalIDs: a sample without message_id gets the canonical id of
// its series and timestamp, the same when posted again (a duplicate), and
// is found by it.
func TestCanonicalIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	in := []sample.Sample{smp("p-a", "vm-a", "", t0, 1), smp("p-a", "vm-a", "", t0.Add(time.Second), 2)}
	first, err := s.WriteAs(ctx, "p-a", in)
	require.NoError(t, err)
	require.Equal(t, 2, first.Stored)
	require.NotEqual(t, first.MessageIDs[0], first.MessageIDs[1])
	again, err := s.WriteAs(ctx, "p-a", in)
	require.NoError(t, err)
	require.Equal(t, 2, again.Duplicates)
	require.Equal(t, first.MessageIDs, again.MessageIDs)
	got, err := s.Sample(ctx, first.MessageIDs[1], "p-a")
	require.NoError(t, err)
	require.Equal(t, 2.0, got.Volume)
	require.Equal(t, first.MessageIDs[1], got.MessageID)
	rows, err := s.Samples(ctx, Filter{ProjectID: "p-a"}, ListOptions{})
	require.NoError(t, err)
	require.Len(t, rows, 2)

	// A sample far older than its series' newest is not stored: TooOld.
	res, err := s.WriteAs(ctx, "p-a", []sample.Sample{smp("p-a", "vm-a", "", t0.Add(-30*24*time.Hour), 9)})
	require.NoError(t, err)
	require.Equal(t, 1, res.TooOld)
	require.Equal(t, []WriteStatus{TooOld}, res.Status)
	require.Equal(t, 1.0, testutil.ToFloat64(s.notStored.WithLabelValues("too_old")))
	require.Equal(t, 2, testutil.CollectAndCount(s.Collector(), "altimeter_store_samples_not_stored_total"), "both reasons exposed")
}
