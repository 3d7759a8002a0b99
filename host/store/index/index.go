package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/altimeter/altimeter/host/store/disk"
)

// DB is the index database. Its methods are safe for concurrent use: writes
// are serialised, reads run on their own connections and each sees one
// consistent snapshot.
type DB struct {
	log hclog.Logger
	w   *sql.DB // one connection; every write transaction is BEGIN IMMEDIATE
	r   *sql.DB // query-only connections for the read methods

	// wmu serialises the write methods and guards what follows it.
	wmu       sync.Mutex
	ws        writeStmts
	resources map[string]*resState // cache of the current state per resource_id
	types     map[string]int64     // cache of event_type ids
	times     *multiRow            // resource times update (prepareMulti)
	events    *multiRow            // event insert (prepareMulti)
	touched   map[string]*resState // Upsert's per-call map, kept empty between calls
	// spans lists the resources whose sample times in the cache are ahead
	// of resource_span (spans.go).
	spans map[string]struct{}
	// spansClean: resource_span is complete but for the listed spans
	// (SpansClean).
	spansClean bool

	smu   sync.Mutex
	stmts map[string]*sql.Stmt // prepared read statements by text

	// hist caches History's answers (histcache.go).
	hist historyCache

	closeOnce sync.Once
	closeErr  error
}

// maxCachedStmts bounds the read statement cache: the shapes of the dynamic
// queries are few, but the number of metadata and trait terms is not.
const maxCachedStmts = 256

// Open opens or creates the index database at path and migrates its schema.
//
// Durability: the database runs in WAL mode with synchronous=NORMAL. A commit
// survives a crash of the process; on power loss the commits since the last
// WAL checkpoint (at most 8192 pages, 32 MiB, of WAL) may be lost, but the
// database stays consistent. FULL would add an fsync to every Upsert call,
// milliseconds on most disks and more than the whole batch costs otherwise,
// to protect rows the facade can rebuild anyway: every update here is
// idempotent, so upserting the samples of the last minutes again after an
// unclean shutdown restores anything lost. The larger than default
// checkpoint interval lets the pages that every batch rewrites (the tails
// of the busiest b-trees) reach the database file once per checkpoint
// rather than once per batch.
func Open(ctx context.Context, path string, log hclog.Logger) (*DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open index %q: %w: path must be a plain file name without ? or #", path, ErrInvalid)
	}
	const common = "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(0)&_pragma=temp_store(memory)&_pragma=cache_size(-32000)"
	w, err := sql.Open("sqlite", path+common+"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(8192)&_pragma=journal_size_limit(67108864)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	db := &DB{
		log:       log,
		w:         w,
		resources: make(map[string]*resState),
		spans:     make(map[string]struct{}),
		types:     make(map[string]int64),
		stmts:     make(map[string]*sql.Stmt),
	}
	if err := db.migrate(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", path+common+"&_pragma=query_only(1)")
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	db.r = r
	if err := db.ws.prepare(ctx, w); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	if err := db.prepareMulti(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	if db.spansClean, err = db.openSpans(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	log.Debug("index opened", "path", path)
	return db, nil
}

// Close closes the database. It is safe to call more than once.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.wmu.Lock()
		defer db.wmu.Unlock()
		var errs []error
		if db.spansClean { // the times are complete but for the listed ones
			if err := db.flushSpansLocked(context.Background()); err != nil {
				errs = append(errs, err)
			} else if err := db.markSpans(context.Background(), 1); err != nil {
				errs = append(errs, err)
			}
		}
		db.smu.Lock()
		for _, s := range db.stmts {
			_ = s.Close()
		}
		db.stmts = nil
		db.smu.Unlock()
		errs = append(errs, db.ws.close())
		errs = append(errs, db.times.close(), db.events.close())
		if db.r != nil {
			errs = append(errs, db.r.Close())
		}
		// Let SQLite refresh its planner statistics where they are stale
		// (cheap; see https://sqlite.org/pragma.html#pragma_optimize), then
		// close: closing the last connection checkpoints the WAL.
		if _, err := db.w.Exec(`PRAGMA optimize`); err != nil {
			db.log.Warn("optimize index on close", "error", err)
		}
		errs = append(errs, db.w.Close())
		db.closeErr = errors.Join(errs...)
	})
	return db.closeErr
}

// readStmt returns the prepared read statement for query, preparing it once.
// The returned release func closes it when it was not cached.
func (db *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, func(), error) {
	db.smu.Lock()
	defer db.smu.Unlock()
	if db.stmts == nil {
		return nil, nil, errors.New("index is closed")
	}
	if s, ok := db.stmts[query]; ok {
		return s, func() {}, nil
	}
	s, err := db.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, nil, fmt.Errorf("prepare: %w", err)
	}
	if len(db.stmts) >= maxCachedStmts {
		return s, func() { _ = s.Close() }, nil
	}
	db.stmts[query] = s
	return s, func() {}, nil
}

// readTx runs fn in a read transaction: one snapshot for all its queries.
func (db *DB) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx)
}

// query runs a cached prepared statement inside tx.
func (db *DB) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	s, release, err := db.readStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	defer release()
	return tx.StmtContext(ctx, s).QueryContext(ctx, args...)
}

// writeTx runs fn in a write transaction under the write lock. An error
// because the disk is full wraps disk.ErrNoSpace (see noSpace). History's
// cache starts over after it: fn may have changed metadata histories.
func (db *DB) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.writeTxHist(ctx, func() ([]string, bool) { return nil, true }, fn)
}

// writeTxHist is writeTx for an fn after which (committed or not) touched
// names the resources whose metadata histories it may have changed, or
// reports all: History's cache drops only their answers.
func (db *DB) writeTxHist(ctx context.Context, touched func() (ids []string, all bool), fn func(tx *sql.Tx) error) error {
	defer func() {
		if ids, all := touched(); all {
			db.hist.invalidate()
		} else {
			db.hist.drop(ids)
		}
	}()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return noSpace(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return noSpace(err)
	}
	return noSpace(tx.Commit())
}

// noHistory is writeTxHist's touched for transactions that write no
// metadata history.
func noHistory() ([]string, bool) { return nil, false }

// noSpace marks SQLite's SQLITE_FULL (what its unix VFS answers to ENOSPC
// and EDQUOT) as disk.ErrNoSpace. SQLite rolls the transaction back and
// stays usable: the same write succeeds once space is back.
func noSpace(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return fmt.Errorf("%w: %w", disk.ErrNoSpace, err)
	}
	return err
}

// Times are stored as Unix nanoseconds, which cover 1678 to 2262.
var (
	minTime = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = MaxTime
)

// MaxTime is the first time the index cannot hold.
var MaxTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)

func checkTime(t time.Time) error {
	if t.Before(minTime) || !t.Before(maxTime) {
		return fmt.Errorf("%w: time %s outside 1678..2261", ErrInvalid, t.Format(time.RFC3339Nano))
	}
	return nil
}

// bound converts a filter bound (zero means none) to nanoseconds.
func bound(t time.Time, none int64) int64 {
	switch {
	case t.IsZero():
		return none
	case t.Before(minTime):
		return minTime.UnixNano()
	case !t.Before(maxTime):
		return maxTime.UnixNano()
	}
	return t.UnixNano()
}

func fromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }
