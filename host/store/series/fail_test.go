package series

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/store/disk"
)

// walFull fails every write to a WAL file with ENOSPC while it is on, as a
// full disk does once the WAL has to grow.
func walFull() (*errorfs.Toggle, vfs.FS) {
	tog := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() == errorfs.OpIsWrite && strings.HasSuffix(op.Path, ".log") {
			return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
		}
		return nil
	})}
	return tog, errorfs.Wrap(vfs.Default, tog)
}

func failBatch(k int) []Input {
	in := make([]Input, 100)
	for i := range in {
		in[i] = Input{
			Key: key("full", fmt.Sprintf("vm%d", i%10), "p"), T: t0 + int64(k*100+i)*sec, V: float64(k*100 + i),
			MessageID: fmt.Sprintf("m-%d-%d", k, i), Recorded: t0,
		}
	}
	return in
}

// TestWriteFailureReopens: a WAL write that fails for lack of space is a
// fatal commit error in Pebble (its Logger.Fatalf, and the commit pipeline
// takes no further write). The write returns an error recognised as no
// space, nothing panics or hangs, reads go on, and once space is back the
// engine reopens by itself: the failed batch is not stored, written again
// it is stored once, and everything acknowledged survives a restart.
func TestWriteFailureReopens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	tog, fs := walFull()
	// The guard measures no free space while the WAL fails (the engine
	// reopens only above its minimum).
	guard := disk.NewGuard(dir, 1<<20, testLogger(t))
	guard.SetStatfs(func(string) (disk.Usage, error) {
		if tog.MaybeError(errorfs.Op{Kind: errorfs.OpFileWrite, Path: "x.log"}) != nil {
			return disk.Usage{Total: 1 << 30}, nil
		}
		return disk.Usage{Avail: 1 << 30, Total: 1 << 30}, nil
	})
	db := openTest(t, dir, Options{FS: fs, ChunkWindow: time.Hour, Guard: guard})
	_, err := db.Write(ctx, failBatch(0))
	require.NoError(t, err)

	tog.On()
	for k := 1; k <= 3; k++ {
		_, err = db.Write(ctx, failBatch(k))
		require.Error(t, err, "batch %d", k)
		require.True(t, disk.IsNoSpace(err), "batch %d: %v", k, err)
	}
	require.True(t, db.WaitingForSpace())
	id, ok := db.SeriesID(key("full", "vm0", "p"))
	require.True(t, ok)
	n := 0
	require.NoError(t, db.Scan(ctx, id, 0, 0, false, func(Point) bool { n++; return true }), "reads go on")
	require.GreaterOrEqual(t, n, 10)

	tog.Off()
	// The engine reopens at most once a second; a write in between is
	// refused with ErrBroken.
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := db.Write(ctx, failBatch(1))
		if err == nil {
			require.Equal(t, 100, res.Written, "the failed batch was not stored")
			break
		}
		require.ErrorIs(t, err, ErrBroken)
		require.True(t, time.Now().Before(deadline), "no reopen: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
	require.False(t, db.WaitingForSpace())
	for k := 2; k <= 3; k++ {
		res, err := db.Write(ctx, failBatch(k))
		require.NoError(t, err)
		require.Equal(t, 100, res.Written)
	}
	res, err := db.Write(ctx, failBatch(0))
	require.NoError(t, err)
	require.Equal(t, 100, res.Duplicates, "acknowledged before the failure, still stored")

	require.NoError(t, db.Close())
	db = openTest(t, dir, Options{ChunkWindow: time.Hour})
	seen := map[string]bool{}
	for _, in := range db.SeriesList() {
		require.NoError(t, db.Scan(ctx, in.ID, 0, 0, false, func(p Point) bool {
			require.False(t, seen[p.MessageID], "stored twice: %s", p.MessageID)
			seen[p.MessageID] = true
			return true
		}))
	}
	require.Len(t, seen, 400)
}

// openFilled opens a DB with 5,000 samples compacted into sstables (so
// that iterators pin table readers in Pebble's file cache).
func openFilled(t *testing.T) (*DB, ID) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(t.TempDir(), Options{ChunkWindow: time.Hour, RetainEvery: -1}, testLogger(t))
	require.NoError(t, err)
	for k := range 50 {
		_, err := db.Write(ctx, failBatch(k))
		require.NoError(t, err)
	}
	require.NoError(t, db.Compact(ctx))
	id, ok := db.SeriesID(key("full", "vm0", "p"))
	require.True(t, ok)
	return db, id
}

// TestCloseWaitsForReads closes the DB while a scan holds Pebble iterators
// and a snapshot: Close cancels the read and waits for it instead of
// closing Pebble under it (which panics: "element has outstanding
// references"), and reads after Close fail with ErrClosed.
func TestCloseWaitsForReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, id := openFilled(t)
	inside, release := make(chan struct{}), make(chan struct{})
	n := 0
	readErr := make(chan error, 1)
	go func() {
		readErr <- db.Scan(ctx, id, 0, 0, false, func(Point) bool {
			if n++; n == 1 {
				close(inside)
				<-release
			}
			return true
		})
	}()
	<-inside
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned while a read held an iterator: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := <-readErr; err != nil {
		require.ErrorIs(t, err, context.Canceled)
	}
	require.ErrorIs(t, db.Scan(ctx, id, 0, 0, false, func(Point) bool { return true }), ErrClosed)
	_, err := db.Stats(ctx, Selector{IDs: []ID{id}}, 0, 0, 60*sec)
	require.ErrorIs(t, err, ErrClosed)
	_, _, _, err = db.Lookup(ctx, "m-0-0", "")
	require.ErrorIs(t, err, ErrClosed)
}

// TestCloseUnderReads closes the DB while readers of every kind run in a
// loop: no panic, no leaked iterator, and every read ends with a result,
// ErrClosed or a cancellation.
func TestCloseUnderReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, id := openFilled(t)
	reads := []func() error{
		func() error { return db.Scan(ctx, id, 0, 0, true, func(Point) bool { return true }) },
		func() error { _, err := db.Stats(ctx, Selector{Meter: "full"}, 0, 0, 60*sec); return err },
		func() error { _, _, _, err := db.Lookup(ctx, "m-7-3", ""); return err },
		func() error { _, err := db.DiskUsage(); return err },
	}
	errs := make(chan error, len(reads))
	started := make(chan struct{}, len(reads))
	for _, read := range reads {
		go func() {
			started <- struct{}{}
			for {
				if err := read(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range reads {
		<-started
	}
	time.Sleep(50 * time.Millisecond) // let the readers overlap Close
	require.NoError(t, db.Close())
	for range reads {
		err := <-errs
		require.True(t, errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled), "%v", err)
	}
}

// TestRetentionOnFullDisk: retention whose commit fails for lack of space
// returns an error (it used to end the process from the background loop,
// through Pebble's fatal commit error), the background loop keeps running,
// and retention succeeds once space is back.
func TestRetentionOnFullDisk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tog, fs := walFull()
	clk := &clock{}
	clk.Set(time.UnixMicro(t0))
	db := openTest(t, t.TempDir(), Options{FS: fs, ChunkWindow: time.Hour, Now: clk.Now, RetainEvery: 5 * time.Millisecond})
	for k := range 5 {
		_, err := db.Write(ctx, failBatch(k))
		require.NoError(t, err)
	}
	tog.On()
	clk.Set(time.UnixMicro(t0).Add(30 * 24 * time.Hour)) // past raw retention
	err := db.Retain(ctx)
	require.Error(t, err)
	require.True(t, disk.IsNoSpace(err), "%v", err)
	time.Sleep(50 * time.Millisecond) // the background loop fails too, and goes on
	select {
	case <-db.done:
		t.Fatal("the background loop ended")
	default:
	}
	tog.Off()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := db.Retain(ctx)
		if err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "retention did not recover: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
	for _, in := range db.SeriesList() {
		require.Zero(t, in.Count, "series %d kept samples past raw retention", in.ID)
	}
	select {
	case <-db.done:
		t.Fatal("the background loop ended")
	default:
	}
}

// TestReadsDuringReopen: a goroutine that holds a View (as the PromQL
// engine does for a whole query) and starts another read while the engine
// wants to reopen after a failed write is not deadlocked: the reopen waits
// a little for the reads, then gives up until the reads end; then it
// reopens and writes resume. Close turns new reads away at once.
func TestReadsDuringReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tog, fs := walFull()
	db := openTest(t, t.TempDir(), Options{FS: fs, ChunkWindow: time.Hour})
	_, err := db.Write(ctx, failBatch(0))
	require.NoError(t, err)
	id, ok := db.SeriesID(key("full", "vm0", "p"))
	require.True(t, ok)
	v, err := db.View()
	require.NoError(t, err)
	tog.On()
	_, err = db.Write(ctx, failBatch(1))
	require.True(t, disk.IsNoSpace(err), "%v", err)
	tog.Off()

	wrote := make(chan error, 1)
	go func() {
		_, err := db.Write(ctx, failBatch(1)) // reopens: waits for the view
		wrote <- err
	}()
	time.Sleep(100 * time.Millisecond)
	reads := make(chan error, 1)
	go func() {
		n := 0
		err := v.Scan(ctx, id, 0, 0, func(Point) bool { n++; return true })
		if err == nil {
			err = db.Scan(ctx, id, 0, 0, false, func(Point) bool { n++; return true }) // a second read inside the first
		}
		if err == nil && n < 20 {
			err = fmt.Errorf("read %d samples", n)
		}
		reads <- err
	}()
	select {
	case err := <-reads:
		require.NoError(t, err)
	case <-time.After(3 * reopenReadWait):
		t.Fatal("reads deadlocked against the reopen")
	}
	err = <-wrote
	require.ErrorIs(t, err, ErrBroken, "the reopen gave up while the view was open")
	require.NoError(t, v.Close())
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := db.Write(ctx, failBatch(1))
		if err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "no reopen: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
	v, err = db.View()
	require.NoError(t, err)
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	require.Eventually(t, func() bool {
		w, err := db.View()
		if err == nil {
			_ = w.Close() // opened before Close began
		}
		return errors.Is(err, ErrClosed)
	}, 5*time.Second, 10*time.Millisecond)
	require.ErrorIs(t, v.Scan(ctx, id, 0, 0, func(Point) bool { return true }), ErrClosed)
	require.NoError(t, v.Close())
	require.NoError(t, <-closed)
}
