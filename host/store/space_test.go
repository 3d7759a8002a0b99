package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/store/disk"
	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/sample"
)

// spaceBatch is batch k: 1,000 samples over 50 resources, each with a
// message id (every third without, deduplicated by series and time).
func spaceBatch(k int) []sample.Sample {
	out := make([]sample.Sample, 1000)
	for i := range out {
		n := k*1000 + i
		id := fmt.Sprintf("40000000-0000-4000-8000-%012d", n)
		if n%3 == 0 {
			id = ""
		}
		out[i] = sample.Sample{
			Name: "fill", Type: sample.Gauge, Unit: "B", Volume: float64(n),
			ResourceID: fmt.Sprintf("vm-%d", n%50), ProjectID: "p", UserID: "u", Source: "openstack",
			Timestamp: t0.Add(time.Duration(n) * time.Millisecond), MessageID: id,
			Metadata: map[string]string{"host": fmt.Sprintf("c%d", n%50%7)},
		}
	}
	return out
}

// TestWriteDiskFull writes into a store on a 24 MiB tmpfs. Below the
// minimum free space a write is refused with ErrUnavailable before any
// engine sees it; when something else fills the disk past the minimum,
// the engines' ENOSPC (Pebble's fatal commit error, SQLite's SQLITE_FULL)
// becomes ErrUnavailable too, without a panic or a hang. Once space is back
// writes resume by themselves, and afterwards (also after a reopen) every
// acknowledged sample is stored exactly once.
func TestWriteDiskFull(t *testing.T) {
	dir := peer.Tmpfs(t, 24)
	ctx := context.Background()
	o := Options{Now: func() time.Time { return t0.Add(time.Hour) }, MinFree: 4 << 20, Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: tWriter{t}})}
	o.Series.RetainEvery = 50 * time.Millisecond // the background loop runs (and must survive) throughout
	s, err := Open(ctx, filepath.Join(dir, "store"), o)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Collector())

	acked := map[string]bool{} // message ids, or series and time for samples without one
	ackKey := func(sm *sample.Sample) string {
		if sm.MessageID != "" {
			return sm.MessageID
		}
		return sm.ResourceID + "@" + sm.Timestamp.Format(time.RFC3339Nano)
	}
	// write writes batch k with a bound: a full disk must not hang a write.
	write := func(k int) error {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		b := spaceBatch(k)
		err := s.Write(wctx, b)
		require.NotErrorIs(t, err, context.DeadlineExceeded, "batch %d", k)
		if err == nil {
			for i := range b {
				acked[ackKey(&b[i])] = true
			}
		}
		return err
	}
	unavailable := func(err error) {
		t.Helper()
		require.ErrorIs(t, err, ErrUnavailable)
		require.True(t, disk.IsNoSpace(err) || strings.Contains(err.Error(), "broken"), "%v", err)
	}

	// 1. The guard: leave less than the minimum free.
	require.NoError(t, write(0))
	filler := peer.Fill(t, dir, peer.Free(t, dir)-3<<20)
	err = write(1)
	unavailable(err)
	require.ErrorIs(t, err, disk.ErrNoSpace)
	require.Equal(t, 1.0, metricValue(t, reg, "altimeter_store_disk_full", ""))
	require.NoError(t, os.Remove(filler))
	require.NoError(t, write(1), "space is back: writes resume")
	require.Equal(t, 0.0, metricValue(t, reg, "altimeter_store_disk_full", ""))

	// 2. Something else fills the disk past the minimum: the guard sees
	// plenty of space, the engines hit ENOSPC. SQLite fails at once; the
	// series engine (written first) stalls once its memtables cannot be
	// flushed, or breaks when its WAL cannot grow. Writes are retried in
	// the background until the series engine is held up.
	s.guard.SetStatfs(func(string) (disk.Usage, error) { return disk.Usage{Avail: 1 << 40, Total: 1 << 40}, nil })
	filler = peer.Fill(t, dir, 0)
	var (
		mu      sync.Mutex
		next    = 2
		stop    = make(chan struct{})
		stopped = make(chan struct{})
	)
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			k := next
			next++
			mu.Unlock()
			if err := write(k); err != nil {
				unavailable(err)
			}
		}
	}()
	waitUntil(t, 60*time.Second, "the series engine held up by the full disk", s.series.WaitingForSpace)
	// Writes that reach the series engine now are refused at once.
	for j := 0; j < 3; j++ {
		start := time.Now()
		unavailable(s.Write(ctx, spaceBatch(1000+j)))
		require.Less(t, time.Since(start), 10*time.Second)
	}
	require.NoError(t, os.Remove(filler))
	s.guard.SetStatfs(disk.Statfs)
	close(stop)
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("a write held up by the full disk did not end once space was back")
	}
	// Writes resume by themselves: the failed batches are accepted when
	// written again (the series engine reopens within a second if broken).
	deadline := time.Now().Add(20 * time.Second)
	for j := 2; j < next; j++ {
		for {
			err := write(j)
			if err == nil {
				break
			}
			unavailable(err)
			require.True(t, time.Now().Before(deadline), "writes did not resume: %v", err)
			time.Sleep(50 * time.Millisecond)
		}
	}
	require.NoError(t, write(next))
	require.Positive(t, metricValue(t, reg, "altimeter_store_writes_refused_total", disk.ReasonMinFree))
	require.Positive(t, metricValue(t, reg, "altimeter_store_writes_refused_total", disk.ReasonDiskFull))

	check := func(s *Store) {
		t.Helper()
		got, err := s.Samples(ctx, Filter{Meter: "fill"}, ListOptions{Limit: len(acked) + 1})
		require.NoError(t, err)
		seen := map[string]bool{}
		for i := range got {
			sm := &got[i].Sample
			k := sm.MessageID
			if strings.HasPrefix(k, "40000000-") {
				require.False(t, seen[k], "sample %s stored twice", k)
			} else {
				k = sm.ResourceID + "@" + sm.Timestamp.Format(time.RFC3339Nano)
				require.False(t, seen[k], "sample %s stored twice", k)
			}
			seen[k] = true
		}
		for k := range acked {
			require.True(t, seen[k], "acknowledged sample %s is missing", k)
		}
		require.Len(t, got, len(acked), "only acknowledged batches were written again")
		rs, err := s.Resources(ctx, Filter{}, ListOptions{})
		require.NoError(t, err)
		require.Len(t, rs, 50, "every resource is indexed")
	}
	check(s)
	require.NoError(t, s.Close())
	s, err = Open(ctx, filepath.Join(dir, "store"), o)
	require.NoError(t, err)
	check(s)
}

// metricValue gathers reg and returns the value of metric name (with
// label reason, when set).
func metricValue(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if reason != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != reason) {
				continue
			}
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s{%s} not found", name, reason)
	return 0
}

// tWriter writes log lines through t.Log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// waitUntil polls cond every 20 ms until it holds, or fails the test after
// timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
