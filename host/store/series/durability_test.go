package series

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const helperEnv = "ALTIMETER_SERIES_HELPER_DIR"

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

// TestDurabilityHelper is the child process of TestDurabilityKill: it
// writes batches until killed, printing each acknowledged batch number.
func TestDurabilityHelper(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	db, err := Open(dir, Options{ChunkWindow: 5 * time.Minute, OutOfOrder: 10 * time.Minute, RetainEvery: -1}, testLogger(t))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	for k := 0; ; k++ {
		if _, err := db.Write(context.Background(), durabilityBatch(k)); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("acked", k)
	}
}

func TestDurabilityKill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDurabilityHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL); _ = cmd.Wait() })

	// Kill -9 once at least 150 batches are acknowledged (some windows
	// packed, some not); the last acknowledged batch is the floor of what
	// must survive.
	acked := -1
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(60 * time.Second)
	for acked < 150 && sc.Scan() {
		line := sc.Text()
		require.False(t, strings.HasPrefix(line, "error"), line)
		if n, ok := strings.CutPrefix(line, "acked "); ok {
			acked, err = strconv.Atoi(n)
			require.NoError(t, err)
		}
		require.True(t, time.Now().Before(deadline), "helper too slow")
	}
	require.Equal(t, 150, acked, "helper output ended early")
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	_ = cmd.Wait()

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
