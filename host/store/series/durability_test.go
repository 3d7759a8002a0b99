package series

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/crashtest"
)

func TestMain(m *testing.M) {
	crashtest.Main(m, map[string]crashtest.Writer{"durability": durabilityWriter})
}

// durabilityBatch is batch k of the helper: 200 samples over 20 series,
// half with message ids, with one late sample into an older window.
func durabilityBatch(k int) []Input {
	var in []Input
	for i := range 200 {
		x := Input{
			Key:      key("dur", fmt.Sprintf("vm%02d", i%20), fmt.Sprintf("p%d", i%3)),
			T:        t0 + int64(k)*10*sec + int64(i/20)*sec,
			V:        float64(k*1000 + i),
			Recorded: t0 + int64(k),
		}
		if i%2 == 0 {
			x.MessageID = fmt.Sprintf("k%d-i%d", k, i)
		}
		in = append(in, x)
	}
	return in
}

// durabilityWriter is TestDurabilityKill's child process: it writes
// durabilityBatch after durabilityBatch until killed.
func durabilityWriter(dir string, ack func(int)) error {
	db, err := Open(dir, Options{ChunkWindow: 5 * time.Minute, OutOfOrder: 10 * time.Minute, RetainEvery: -1}, hclog.NewNullLogger())
	if err != nil {
		return err
	}
	for k := 0; ; k++ {
		if _, err := db.Write(context.Background(), durabilityBatch(k)); err != nil {
			return err
		}
		ack(k)
	}
}

func TestDurabilityKill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Kill -9 once at least 150 batches are acknowledged (some windows
	// packed, some not); the last acknowledged batch is the floor of what
	// must survive.
	acked := crashtest.KillAfter(t, "durability", dir, 150)

	db := openTest(t, dir, Options{OutOfOrder: 10 * time.Minute})
	ctx := context.Background()
	type stored struct {
		id   ID
		t    int64
		v    float64
		msg  string
		recd int64
	}
	have := map[stored]bool{}
	var total int64
	for _, s := range db.SeriesList() {
		total += s.Count
		pts := scanAll(t, db, s.ID, 0, 0, false)
		require.Equal(t, s.Count, int64(len(pts)), "catalog count of series %d", s.ID)
		for _, p := range pts {
			have[stored{s.ID, p.T, p.V, p.MessageID, p.Recorded}] = true
		}
	}
	require.GreaterOrEqual(t, total, int64(200*(acked+1)))
	for k := 0; k <= acked; k++ {
		for _, x := range durabilityBatch(k) {
			id, ok := db.SeriesID(x.Key)
			require.True(t, ok)
			require.True(t, have[stored{id, x.T, x.V, x.MessageID, x.Recorded}], "acknowledged batch %d lost %+v", k, x)
		}
		res, err := db.Write(ctx, durabilityBatch(k))
		require.NoError(t, err)
		require.Zero(t, res.Written, "batch %d written twice", k)
	}
	_, p, ok, err := db.Lookup(ctx, fmt.Sprintf("k%d-i%d", acked, 198), "")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, float64(acked*1000+198), p.V)
	// The roll-ups were in the same batches: they agree with raw.
	st, err := db.Stats(ctx, Selector{Meter: "dur"}, 0, 0, 0)
	require.NoError(t, err)
	require.Len(t, st, 1)
	require.Equal(t, total, st[0].Agg.Count)
}
