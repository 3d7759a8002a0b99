package series

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/altimeter/altimeter/host/store/disk"
)

// Failure handling. Pebble does not survive a failed commit: when a WAL
// write or sync fails (a full disk, a quota), it reports a fatal error
// (Logger.Fatalf) after applying the batch to its memtable, its WAL writer
// keeps the error, and every later commit fails the same way. So a DB whose
// commit failed is broken: it refuses writes, and before the next write (or
// at the next background tick) it closes Pebble and opens it again, which
// replays the WAL up to the last durable batch and reloads the catalog.
// The failed batch is gone then (its WAL record is torn or missing), as the
// caller was told. Reads go on in between, on the old instance.

// reopenEvery bounds how often a broken DB tries to reopen;
// reopenReadWait how long a reopen waits for the reads in flight (new reads
// wait meanwhile) before it gives up until the next attempt.
const (
	reopenEvery    = time.Second
	reopenReadWait = 2 * time.Second
)

// fail breaks the DB after a failed commit (or a failure after the
// catalog was updated in memory). Called with writeMu held.
func (db *DB) fail(err error) {
	db.mu.Lock()
	was := db.broken
	db.broken, db.brokenBy = true, err
	db.mu.Unlock()
	if was {
		return
	}
	if disk.IsNoSpace(err) {
		db.log.Warn("write failed for lack of disk space; writes refused until the engine reopens", "error", err)
		return
	}
	db.log.Error("write failed; writes refused until the engine reopens", "error", err)
}

// reopenIfBroken reopens a broken DB: at most once per reopenEvery, and
// only when the guard (if any) measures at least its minimum free space, as
// opening writes a new MANIFEST and may flush the replayed WAL. It returns
// nil when the DB is usable. Called with writeMu held.
func (db *DB) reopenIfBroken() error {
	db.mu.RLock()
	broken, closed, cause := db.broken, db.closed, db.brokenBy
	db.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if !broken {
		return nil
	}
	if time.Since(db.lastReopen) < reopenEvery {
		return fmt.Errorf("%w: %w", ErrBroken, cause)
	}
	if db.spaceBelow(db.minFree()) {
		return fmt.Errorf("%w: waiting for free space: %w", ErrBroken, cause)
	}
	db.lastReopen = time.Now()
	release := db.reads.hold(reopenReadWait)
	if release == nil {
		return fmt.Errorf("%w: reads still in flight after %s; reopen later: %w", ErrBroken, reopenReadWait, cause)
	}
	defer release()
	// Pebble cannot survive a fatal error during Open (its deferred
	// cleanup panics under the table-stats goroutine it started, and that
	// goroutine later reads a closed file cache): probe first that the disk
	// takes a synced write again, so that Open is tried only when it can
	// write its WAL and MANIFEST.
	if err := db.probeWritable(); err != nil {
		return fmt.Errorf("%w: disk not writable yet: %w", ErrBroken, err)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.pdb != nil {
		if err := closePebble(db.pdb); err != nil {
			db.log.Debug("close failed pebble", "error", err)
		}
		db.pdb = nil
	}
	// A reopened engine collects no table stats: a stats goroutine left by
	// an Open that failed halfway would read a closed file cache. Stats only
	// guide compaction picking after deletions; a restart restores them.
	ropts := db.popts.Clone()
	ropts.DisableTableStats = true
	pdb, err := openPebble(db.dir, ropts)
	if err != nil {
		db.brokenBy = fmt.Errorf("reopen: %w", err)
		db.log.Warn("reopen series db", "error", err)
		return fmt.Errorf("%w: %w", ErrBroken, db.brokenBy)
	}
	db.pdb = pdb
	db.resetCatalog()
	if err := db.load(); err != nil {
		_ = closePebble(pdb)
		db.pdb = nil
		db.brokenBy = fmt.Errorf("reopen: %w", err)
		db.log.Warn("reopen series db", "error", err)
		return fmt.Errorf("%w: %w", ErrBroken, db.brokenBy)
	}
	db.broken, db.brokenBy = false, nil
	db.log.Info("series db reopened after a failed write; writes resume", "series", len(db.byID))
	return nil
}

// ErrStalled means Pebble stalls writes because it cannot flush its
// memtables or compact level 0, for lack of disk space: a write would wait
// until space is back, so it is refused at once (the error also wraps
// disk.ErrNoSpace).
var ErrStalled = errors.New("series db writes stalled")

// stallErr returns ErrStalled while Pebble stalls writes and its flushes
// or compactions fail for lack of space. A stall for any other reason (a
// burst of writes that compactions have not caught up with yet) is waited
// out as usual.
func (db *DB) stallErr() error {
	if db.stalled.Load() && db.bgNoSpace.Load() {
		return fmt.Errorf("%w: %w: flushes fail for lack of space", ErrStalled, disk.ErrNoSpace)
	}
	return nil
}

// events is the Pebble event listener: it tracks write stalls and failing
// flushes and compactions, and logs Pebble's background errors, at most
// one line per errLogEvery (a flush that fails on a full disk is retried at
// once, over and over).
func (db *DB) events() *pebble.EventListener {
	return &pebble.EventListener{
		BackgroundError: func(err error) {
			if disk.IsNoSpace(err) {
				db.bgNoSpace.Store(true)
			}
			if n, ok := db.bgErrs.allow(time.Now()); ok {
				db.log.Warn("pebble background error", "error", err, "suppressed", n)
			}
		},
		WriteStallBegin: func(pebble.WriteStallBeginInfo) { db.stalled.Store(true) },
		WriteStallEnd: func() {
			db.stalled.Store(false)
			db.bgNoSpace.Store(false)
		},
		FlushEnd: func(i pebble.FlushInfo) {
			if i.Err == nil {
				db.bgNoSpace.Store(false)
			}
		},
	}
}

// errLogEvery is the least time between two logged background errors.
const errLogEvery = 30 * time.Second

// errLimiter lets one log line through per errLogEvery and counts the rest.
type errLimiter struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow reports whether to log now, and how many were suppressed since the
// last line.
func (l *errLimiter) allow(now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < errLogEvery {
		l.suppressed++
		return 0, false
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return n, true
}

// WaitingForSpace reports whether writes are refused or held up for lack of
// disk space: Pebble stalls writes while its flushes fail, or a failed
// commit broke the DB until it can reopen.
func (db *DB) WaitingForSpace() bool {
	if db.stallErr() != nil {
		return true
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.broken && disk.IsNoSpace(db.brokenBy)
}

// probeSize is what probeWritable writes: a WAL's first blocks and a
// MANIFEST's edit are of this order.
const probeSize = 64 << 10

// probeWritable writes, syncs and removes a probe file through the DB's
// file system, as the WAL would be written (hence its suffix).
func (db *DB) probeWritable() error {
	fs := db.popts.FS
	if fs == nil {
		fs = vfs.Default
	}
	name := fs.PathJoin(db.dir, "reopen-probe.log")
	f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("probe %s: %w", name, err)
	}
	_, werr := f.Write(make([]byte, probeSize))
	if werr == nil {
		werr = f.Sync()
	}
	werr = errors.Join(werr, f.Close(), fs.Remove(name))
	if werr != nil {
		return fmt.Errorf("probe %s: %w", name, werr)
	}
	return nil
}
