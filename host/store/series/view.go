package series

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// View is a consistent read view over many series: one Pebble snapshot and
// one pair of iterators that every Scan re-bounds, so a query that reads
// thousands of series pays for neither a snapshot nor two iterators per
// series. A View is not safe for concurrent use; Close it when done: an
// open View holds off Close of the DB (which makes its Scans fail with
// ErrClosed) and the reopen after a failed write.
type View struct {
	db     *DB
	end    func() // ends the read admitted by beginRead
	snap   *pebble.Snapshot
	ci, hi *pebble.Iterator
	lo, up [4][]byte // bound buffers: chunk lower/upper, head lower/upper
	now    int64     // µs, when the view was opened
	rolled int64     // no per-series roll-up holds a sample at or after this
}

// View opens a read view.
func (db *DB) View() (*View, error) {
	_, end, err := db.beginRead(context.Background())
	if err != nil {
		return nil, fmt.Errorf("open view: %w", err)
	}
	v := &View{db: db, end: end, snap: db.pdb.NewSnapshot(), now: db.opts.Now().UnixMicro(), rolled: math.MinInt64}
	for _, p := range db.policies {
		if slices.ContainsFunc(p.archives, func(a archive) bool { return a.perSeries }) {
			v.rolled = max(v.rolled, v.now-p.rawRet)
		}
	}
	if v.ci, err = v.snap.NewIter(&pebble.IterOptions{}); err != nil {
		_ = v.snap.Close()
		end()
		return nil, fmt.Errorf("open view: %w", err)
	}
	if v.hi, err = v.snap.NewIter(&pebble.IterOptions{}); err != nil {
		_ = v.ci.Close()
		_ = v.snap.Close()
		end()
		return nil, fmt.Errorf("open view: %w", err)
	}
	return v, nil
}

// Scan calls fn for each sample of series id with start <= T < end (0 and
// 0 mean unbounded), in time order, until fn returns false. Points carry
// no record time (Recorded is 0): a query reads times and values only.
func (v *View) Scan(ctx context.Context, id ID, start, end int64, fn func(Point) bool) error {
	if v.db.readCtx.Err() != nil {
		return fmt.Errorf("scan series %d: %w", id, ErrClosed)
	}
	start, end = bounds(start, end)
	if start >= end {
		return nil
	}
	// Bounds must stay valid until the next SetBounds: each pair has its
	// own buffers.
	v.lo[0] = appendTimeKey(v.lo[0][:0], pChunk, id, v.db.windowOf(start))
	v.up[0] = appendTimeKey(v.up[0][:0], pChunk, id, v.db.windowOf(end-1)+1)
	v.lo[1] = appendTimeKey(v.lo[1][:0], pHead, id, start)
	v.up[1] = appendTimeKey(v.up[1][:0], pHead, id, end)
	// Alternate buffers so the iterator never sees its current bounds
	// rewritten in place.
	v.lo[0], v.lo[2] = v.lo[2], v.lo[0]
	v.up[0], v.up[2] = v.up[2], v.up[0]
	v.lo[1], v.lo[3] = v.lo[3], v.lo[1]
	v.up[1], v.up[3] = v.up[3], v.up[1]
	v.ci.SetBounds(v.lo[2], v.up[2])
	v.hi.SetBounds(v.lo[3], v.up[3])
	n, closed := 0, false
	if err := mergeScan(ctx, v.ci, v.hi, start, end, false, func(p Point) bool {
		// Close of the DB cancels a long scan too.
		if n++; n&1023 == 0 && v.db.readCtx.Err() != nil {
			closed = true
			return false
		}
		p.Recorded = 0
		return fn(p)
	}); err != nil {
		return fmt.Errorf("scan series %d: %w", id, err)
	}
	if closed {
		return fmt.Errorf("scan series %d: %w", id, ErrClosed)
	}
	return nil
}

// Close releases the view. Safe to call twice.
func (v *View) Close() error {
	if v == nil || v.snap == nil {
		return nil
	}
	err := errors.Join(v.ci.Close(), v.hi.Close(), v.snap.Close())
	v.snap = nil
	v.end()
	return err
}

// Meters returns the names of the meters that have series, in no
// particular order.
func (db *DB) Meters() []string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	out := make([]string, 0, len(db.byMeter))
	for m, ss := range db.byMeter {
		if len(ss) > 0 {
			out = append(out, m)
		}
	}
	return out
}
