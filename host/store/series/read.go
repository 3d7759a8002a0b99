package series

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/altimeter/altimeter/host/store/series/chunk"
	"github.com/cockroachdb/pebble/v2"
)

// Point is one stored sample of a series. T and Recorded are unix µs.
type Point struct {
	T         int64
	V         float64
	MessageID string
	Recorded  int64
}

// bounds maps the [start, end) of the API (0 = unbounded) to the stored
// time range.
func bounds(start, end int64) (int64, int64) {
	if start == 0 || start < MinTime {
		start = MinTime
	}
	if end == 0 || end > MaxTime+1 {
		end = MaxTime + 1
	}
	return start, end
}

// Scan calls fn for each sample of series id with start <= T < end (0 and
// 0 mean unbounded), in time order, or reverse time order when desc, until
// fn returns false. Samples with equal T come in a stable order.
func (db *DB) Scan(ctx context.Context, id ID, start, end int64, desc bool, fn func(Point) bool) error {
	ctx, done, err := db.beginRead(ctx)
	if err != nil {
		return fmt.Errorf("scan series %d: %w", id, err)
	}
	defer done()
	snap := db.pdb.NewSnapshot()
	defer func() { _ = snap.Close() }()
	var rerr error
	err = db.scan(ctx, snap, id, start, end, desc, true, func(p Point) bool {
		if p.Recorded, rerr = db.recorded(snap, p.Recorded); rerr != nil {
			return false
		}
		return fn(p)
	})
	if err = errors.Join(err, rerr); err != nil {
		return fmt.Errorf("scan series %d: %w", id, err)
	}
	return nil
}

type reader interface {
	NewIter(*pebble.IterOptions) (*pebble.Iterator, error)
	Get(key []byte) ([]byte, io.Closer, error)
}

// scan is Scan over r without record times. With head false it reads
// the chunks only: the caller knows, from the catalog's open windows
// (headIn), that the range holds no head sample.
func (db *DB) scan(ctx context.Context, r reader, id ID, start, end int64, desc, head bool, fn func(Point) bool) error {
	start, end = bounds(start, end)
	if start >= end {
		return nil
	}
	sb := db.scanBufs.Get().(*scanBuf)
	cc := cursor{desc: desc, buf: sb.samples, lo: sb.keys[0], up: sb.keys[1], final: sb.keys[2]}
	hc := cursor{desc: desc, none: !head, lo: sb.keys[3], up: sb.keys[4]}
	defer func() {
		// Runs after the iterators are closed (they read the bounds until
		// then). mergeScan leaves the samples cleared; a very large
		// buffer is left to the collector.
		if cap(cc.buf) <= maxPooledScanBuf {
			*sb = scanBuf{samples: cc.buf[:0], keys: [5][]byte{cc.lo, cc.up, cc.final, hc.lo, hc.up}}
			db.scanBufs.Put(sb)
		}
	}()
	cc.boundChunks(id, db.windowOf(start), db.windowOf(end-1))
	var err error
	if cc.it, err = r.NewIter(&pebble.IterOptions{LowerBound: cc.lo, UpperBound: cc.up}); err != nil {
		return err
	}
	defer func() { _ = cc.it.Close() }()
	if head {
		hc.bound(pHead, id, start, end)
		if hc.it, err = r.NewIter(&pebble.IterOptions{LowerBound: hc.lo, UpperBound: hc.up}); err != nil {
			return err
		}
		defer func() { _ = hc.it.Close() }()
	}
	return mergeScan(ctx, &cc, &hc, start, end, desc, fn)
}

// scanBuf is what a scan reuses from the last (DB.scanBufs): its
// decoded-chunk buffer and the key buffers of its cursors' bounds.
type scanBuf struct {
	samples []chunk.Sample
	keys    [5][]byte
}

// maxPooledScanBuf bounds the decoded-chunk buffers scans keep for reuse,
// in samples.
const maxPooledScanBuf = 1 << 14

// headIn reports whether series s may have head (unpacked) samples in
// [lo, hi): whether a window its catalog entry lists as open overlaps the
// range. Called with mu held, before the read's snapshot is taken: a write
// lists its window before it commits, and packing unlists a window only
// after the commit that moved its samples into a chunk, so a snapshot
// taken later holds no head sample of a window found closed here. (Only
// retention unlists windows before its commit: callers that skip the head
// read for ranges it may be removing must not.)
func (db *DB) headIn(s *series, lo, hi int64) bool {
	if hi <= lo {
		return false
	}
	i, _ := slices.BinarySearch(s.open, db.windowOf(lo))
	return i < len(s.open) && s.open[i] <= db.windowOf(hi-1)
}

// cursor walks the keys of one series and prefix in [lo, up) in time order
// (reverse when desc) over an iterator that may hold other keys too.
type cursor struct {
	it     *pebble.Iterator
	lo, up []byte
	desc   bool
	// The chunk cursor's decoding state, kept across a View's scans.
	buf []chunk.Sample
	cit chunk.Iterator
	// tight, for a View's head cursor, bounds the iterator to each range
	// (SetBounds): a seek without a near bound may walk range tombstones
	// (packing leaves one per window in the head keyspace) or read blocks
	// beyond the range, and measured slower. bufs alternate, as Pebble
	// reads the bounds until the next SetBounds.
	tight bool
	flip  int
	bufs  [2][2][]byte
	// none, set by a View, says the range holds no key: mergeScan does
	// not position the cursor. probe is a key buffer for that test.
	none  bool
	probe []byte
	// final, for a chunk cursor, is the key of the last window of the
	// range in the cursor's direction: step does not move past it (a
	// window has one chunk key), so a scan ends where its last chunk is
	// and the next scan's seek starts from there.
	final []byte
}

// bound sets the range to p|id|lo .. p|id|up.
func (c *cursor) bound(p byte, id ID, lo, up int64) {
	if !c.tight {
		c.lo = appendTimeKey(c.lo[:0], p, id, lo)
		c.up = appendTimeKey(c.up[:0], p, id, up)
		return
	}
	c.flip ^= 1
	b := &c.bufs[c.flip]
	b[0] = appendTimeKey(b[0][:0], p, id, lo)
	b[1] = appendTimeKey(b[1][:0], p, id, up)
	c.lo, c.up = b[0], b[1]
	c.it.SetBounds(c.lo, c.up)
}

// boundChunks sets a chunk cursor's range to the windows lo .. hi
// (inclusive) of series id.
func (c *cursor) boundChunks(id ID, lo, hi int64) {
	c.bound(pChunk, id, lo, hi+1)
	last := hi
	if c.desc {
		last = lo
	}
	c.final = appendTimeKey(c.final[:0], pChunk, id, last)
}

func (c *cursor) first() bool {
	if c.desc {
		return c.it.SeekLT(c.up) && bytes.Compare(c.it.Key(), c.lo) >= 0
	}
	return c.it.SeekGE(c.lo) && bytes.Compare(c.it.Key(), c.up) < 0
}

func (c *cursor) step() bool {
	if c.final != nil && bytes.Equal(c.it.Key(), c.final) {
		return false
	}
	if c.desc {
		return c.it.Prev() && bytes.Compare(c.it.Key(), c.lo) >= 0
	}
	return c.it.Next() && bytes.Compare(c.it.Key(), c.up) < 0
}

// mergeScan merges the chunk cursor cc and the head cursor hc, both
// bounded to one series and [start, end), into fn.
func mergeScan(ctx context.Context, cc, hc *cursor, start, end int64, desc bool, fn func(Point) bool) error {
	if hc.none && !desc {
		return chunkScan(ctx, cc, start, end, fn)
	}
	var err error
	// Chunk cursor: the decoded, range-filtered samples of the current
	// chunk (cc.buf), and the position in them.
	buf, pos, cit := cc.buf[:0], 0, &cc.cit
	defer func() {
		clear(buf) // drop the message ids
		cc.buf = buf[:0]
	}()
	load := func(ok bool) (bool, error) {
		for ; ok; ok = cc.step() {
			buf, pos = buf[:0], 0
			if err := cit.Reset(cc.it.Value()); err != nil {
				return false, err
			}
			for cit.Next() {
				s := cit.At()
				if s.T >= end {
					break // a chunk's samples are in time order
				}
				if s.T >= start {
					buf = append(buf, s)
				}
			}
			if err := cit.Err(); err != nil {
				return false, err
			}
			if len(buf) > 0 {
				if desc {
					for i, j := 0, len(buf)-1; i < j; i, j = i+1, j-1 {
						buf[i], buf[j] = buf[j], buf[i]
					}
				}
				return true, nil
			}
		}
		return false, cc.it.Error()
	}
	cok, err := load(cc.first())
	if err != nil {
		return err
	}
	hok := !hc.none && hc.first()
	var hs chunk.Sample
	if hok {
		if hs, err = decodeHead(hc.it.Key(), hc.it.Value()); err != nil {
			return err
		}
	}
	for n := 0; cok || hok; n++ {
		if n&1023 == 1023 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		// Ascending: chunk first on ties; descending: the exact reverse.
		takeChunk := cok && (!hok || (!desc && buf[pos].T <= hs.T) || (desc && buf[pos].T > hs.T))
		var s chunk.Sample
		if takeChunk {
			s = buf[pos]
			pos++
			if pos == len(buf) {
				if cok, err = load(cc.step()); err != nil {
					return err
				}
			}
		} else {
			s = hs
			if hok = hc.step(); hok {
				if hs, err = decodeHead(hc.it.Key(), hc.it.Value()); err != nil {
					return err
				}
			}
		}
		if !fn(Point(s)) {
			return nil
		}
	}
	if hc.it == nil { // not opened: the range holds no head sample
		return cc.it.Error()
	}
	return errors.Join(cc.it.Error(), hc.it.Error())
}

// chunkScan is mergeScan in time order without head samples: it hands
// each chunk's samples in [start, end) to fn as it decodes them.
func chunkScan(ctx context.Context, cc *cursor, start, end int64, fn func(Point) bool) error {
	cit := &cc.cit
	n := 0
	for ok := cc.first(); ok; ok = cc.step() {
		if err := cit.Reset(cc.it.Value()); err != nil {
			return err
		}
		for cit.Next() {
			s := cit.At()
			if s.T >= end {
				break // a chunk's samples are in time order
			}
			if s.T < start {
				continue
			}
			if n++; n&1023 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if !fn(Point(s)) {
				return nil
			}
		}
		if err := cit.Err(); err != nil {
			return err
		}
	}
	return cc.it.Error()
}

// Lookup returns the sample stored under a non-empty message id in
// project; with project "" (an admin), the first one in project order when
// several projects use the id.
func (db *DB) Lookup(ctx context.Context, messageID, project string) (ID, Point, bool, error) {
	if messageID == "" {
		return 0, Point{}, false, nil
	}
	ctx, done, err := db.beginRead(ctx)
	if err != nil {
		return 0, Point{}, false, fmt.Errorf("lookup %q: %w", messageID, err)
	}
	defer done()
	snap := db.pdb.NewSnapshot()
	defer func() { _ = snap.Close() }()
	var v []byte
	if project != "" {
		val, closer, err := snap.Get(msgKey(project, messageID))
		if errors.Is(err, pebble.ErrNotFound) {
			return 0, Point{}, false, nil
		}
		if err != nil {
			return 0, Point{}, false, fmt.Errorf("lookup %q: %w", messageID, err)
		}
		v = slices.Clone(val)
		_ = closer.Close()
	} else {
		lo := msgPrefix(messageID)
		it, err := snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(lo)})
		if err != nil {
			return 0, Point{}, false, fmt.Errorf("lookup %q: %w", messageID, err)
		}
		if it.First() {
			v = slices.Clone(it.Value())
		}
		if err := it.Close(); err != nil {
			return 0, Point{}, false, fmt.Errorf("lookup %q: %w", messageID, err)
		}
		if v == nil {
			return 0, Point{}, false, nil
		}
	}
	if len(v) != 16 {
		return 0, Point{}, false, fmt.Errorf("lookup %q: %w", messageID, errCorrupt)
	}
	id, t := ID(binary.BigEndian.Uint64(v)), unord(binary.BigEndian.Uint64(v[8:]))
	var p Point
	found := false
	err = db.scan(ctx, snap, id, t, t+1, false, true, func(q Point) bool {
		if q.MessageID == messageID {
			p, found = q, true
			return false
		}
		return true
	})
	if err == nil && found {
		p.Recorded, err = db.recorded(snap, p.Recorded)
	}
	if err != nil {
		return 0, Point{}, false, fmt.Errorf("lookup %q: %w", messageID, err)
	}
	return id, p, found, nil
}

// prefixEnd is the least key greater than every key with prefix p (p is
// never all 0xff here: it starts with a prefix byte).
func prefixEnd(p []byte) []byte {
	end := slices.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
