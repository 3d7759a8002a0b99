package series

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// View is a consistent read view over many series: one Pebble snapshot and
// one pair of iterators that every Scan reuses (seeking forward through the
// chunks, re-bounding the head), so a query that reads thousands of series
// pays for neither a snapshot nor two iterators per series. A View is not
// safe for concurrent use; Close it when done: an open View holds off Close
// of the DB (which makes its Scans fail with ErrClosed) and the reopen
// after a failed write.
type View struct {
	db     *DB
	end    func() // ends the read admitted by beginRead
	snap   *pebble.Snapshot
	cc, hc cursor           // chunks, head samples
	ei     *pebble.Iterator // epochs, opened by the first RecordTimes
	now    int64            // µs, when the view was opened
	// headLo and headHi are the least and greatest head keys of the
	// snapshot (both nil when it has none): a scan whose range lies
	// outside them skips the head cursor's seek. After packing, most
	// series have no head sample, and a seek that finds nothing costs
	// as much as one that finds something.
	headLo, headHi []byte
	rolled         int64 // no per-series roll-up holds a sample at or after this
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
	// The chunk cursor keeps its iterator's bounds (the chunk keyspace):
	// a query reads series in id order, each scan seeks forward from
	// where the last one ended, and Pebble's seek then moves on from its
	// position instead of descending from the top, which a SetBounds
	// per scan would force. The head cursor stays tight (packing leaves
	// range tombstones there).
	v.hc.tight = true
	if v.cc.it, err = v.snap.NewIter(&pebble.IterOptions{LowerBound: []byte{pChunk}, UpperBound: []byte{pChunk + 1}}); err != nil {
		_ = v.snap.Close()
		end()
		return nil, fmt.Errorf("open view: %w", err)
	}
	if v.hc.it, err = v.snap.NewIter(&pebble.IterOptions{LowerBound: []byte{pHead}, UpperBound: []byte{pHead + 1}}); err != nil {
		_ = v.cc.it.Close()
		_ = v.snap.Close()
		end()
		return nil, fmt.Errorf("open view: %w", err)
	}
	if v.hc.it.First() {
		v.headLo = slices.Clone(v.hc.it.Key())
		if v.hc.it.Last() {
			v.headHi = slices.Clone(v.hc.it.Key())
		}
	}
	if err := v.hc.it.Error(); err != nil {
		_ = v.cc.it.Close()
		_ = v.hc.it.Close()
		_ = v.snap.Close()
		end()
		return nil, fmt.Errorf("open view: head extent: %w", err)
	}
	return v, nil
}

// Scan calls fn for each sample of series id with start <= T < end (0 and
// 0 mean unbounded), in time order, until fn returns false. Points carry
// no record time (Recorded is 0): a query reads times and values only.
func (v *View) Scan(ctx context.Context, id ID, start, end int64, fn func(Point) bool) error {
	return v.scan(ctx, id, start, end, false, func(p Point) bool {
		p.Recorded = 0
		return fn(p)
	})
}

// ScanDesc calls fn for each sample of series id with start <= T < end (0
// and 0 mean unbounded), newest first, until fn returns false. Each Point
// carries in Recorded the epoch of its write rather than its record time:
// RecordTimes resolves the epochs of the points a listing keeps, so that it
// pays nothing for those it reads and drops.
func (v *View) ScanDesc(ctx context.Context, id ID, start, end int64, fn func(Point) bool) error {
	return v.scan(ctx, id, start, end, true, fn)
}

func (v *View) scan(ctx context.Context, id ID, start, end int64, desc bool, fn func(Point) bool) error {
	if v.db.readCtx.Err() != nil {
		return fmt.Errorf("scan series %d: %w", id, ErrClosed)
	}
	start, end = bounds(start, end)
	if start >= end {
		return nil
	}
	v.cc.desc, v.hc.desc = desc, desc
	v.cc.boundChunks(id, v.db.windowOf(start), v.db.windowOf(end-1))
	if v.hc.none = v.headHi == nil; !v.hc.none {
		v.hc.probe = appendTimeKey(v.hc.probe[:0], pHead, id, end)
		v.hc.none = bytes.Compare(v.hc.probe, v.headLo) <= 0
	}
	if !v.hc.none {
		v.hc.probe = appendTimeKey(v.hc.probe[:0], pHead, id, start)
		v.hc.none = bytes.Compare(v.hc.probe, v.headHi) > 0
	}
	if !v.hc.none {
		v.hc.bound(pHead, id, start, end)
	}
	n, closed := 0, false
	err := mergeScan(ctx, &v.cc, &v.hc, start, end, desc, func(p Point) bool {
		// Close of the DB cancels a long scan too.
		if n++; n&1023 == 0 && v.db.readCtx.Err() != nil {
			closed = true
			return false
		}
		return fn(p)
	})
	if err != nil {
		return fmt.Errorf("scan series %d: %w", id, err)
	}
	if closed {
		return fmt.Errorf("scan series %d: %w", id, ErrClosed)
	}
	return nil
}

// RecordTimes returns the record times of the write epochs eps (as
// ScanDesc leaves them in Point.Recorded), in the order of eps; 0 for an
// epoch retention removed. It reads the epochs in ascending order through
// one iterator.
func (v *View) RecordTimes(eps []int64) ([]int64, error) {
	out := make([]int64, len(eps))
	order := make([]int, 0, len(eps))
	v.db.epochMu.Lock()
	for i, ep := range eps {
		if t, ok := v.db.epochCache[ep]; ok {
			out[i] = t
		} else {
			order = append(order, i)
		}
	}
	v.db.epochMu.Unlock()
	if len(order) == 0 {
		return out, nil
	}
	if v.ei == nil {
		it, err := v.snap.NewIter(&pebble.IterOptions{LowerBound: []byte{pEpoch}, UpperBound: []byte{pEpoch + 1}})
		if err != nil {
			return nil, fmt.Errorf("read record times: %w", err)
		}
		v.ei = it
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(eps[a], eps[b]) })
	var key [9]byte
	for _, i := range order {
		k := appendEpochKey(key[:0], eps[i])
		if !v.ei.SeekGE(k) || !bytes.Equal(v.ei.Key(), k) {
			if err := v.ei.Error(); err != nil {
				return nil, fmt.Errorf("read record times: %w", err)
			}
			continue // removed by retention
		}
		t, n := binary.Varint(v.ei.Value())
		if n <= 0 {
			return nil, fmt.Errorf("read record time of epoch %d: %w", eps[i], errCorrupt)
		}
		out[i] = t
		v.db.cacheEpoch(eps[i], t)
	}
	return out, nil
}

// Close releases the view. Safe to call twice.
func (v *View) Close() error {
	if v == nil || v.snap == nil {
		return nil
	}
	err := errors.Join(v.cc.it.Close(), v.hc.it.Close())
	if v.ei != nil {
		err = errors.Join(err, v.ei.Close())
	}
	err = errors.Join(err, v.snap.Close())
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
