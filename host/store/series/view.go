package series

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// View is a consistent read view over many series: one Pebble snapshot and
// one pair of iterators that every Scan re-bounds, so a query that reads
// thousands of series pays for neither a snapshot nor two iterators per
// series. A View is not safe for concurrent use; Close it when done.
type View struct {
	db     *DB
	snap   *pebble.Snapshot
	ci, hi *pebble.Iterator
	lo, up [4][]byte // bound buffers: chunk lower/upper, head lower/upper
}

// View opens a read view.
func (db *DB) View() (*View, error) {
	db.mu.RLock()
	err := db.checkOpen()
	db.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("open view: %w", err)
	}
	v := &View{db: db, snap: db.pdb.NewSnapshot()}
	if v.ci, err = v.snap.NewIter(&pebble.IterOptions{}); err != nil {
		_ = v.snap.Close()
		return nil, fmt.Errorf("open view: %w", err)
	}
	if v.hi, err = v.snap.NewIter(&pebble.IterOptions{}); err != nil {
		_ = v.ci.Close()
		_ = v.snap.Close()
		return nil, fmt.Errorf("open view: %w", err)
	}
	return v, nil
}

// Scan calls fn for each sample of series id with start <= T < end (0 and
// 0 mean unbounded), in time order, until fn returns false. Points carry
// no record time (Recorded is 0): a query reads times and values only.
func (v *View) Scan(ctx context.Context, id ID, start, end int64, fn func(Point) bool) error {
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
	if err := mergeScan(ctx, v.ci, v.hi, start, end, false, func(p Point) bool {
		p.Recorded = 0
		return fn(p)
	}); err != nil {
		return fmt.Errorf("scan series %d: %w", id, err)
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
