package series

import (
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
	defer snap.Close()
	var rerr error
	err = db.scan(ctx, snap, id, start, end, desc, func(p Point) bool {
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

func (db *DB) scan(ctx context.Context, r reader, id ID, start, end int64, desc bool, fn func(Point) bool) error {
	start, end = bounds(start, end)
	if start >= end {
		return nil
	}
	ci, err := r.NewIter(&pebble.IterOptions{
		LowerBound: timeKey(pChunk, id, db.windowOf(start)),
		UpperBound: timeKey(pChunk, id, db.windowOf(end-1)+1),
	})
	if err != nil {
		return err
	}
	defer ci.Close()
	hi, err := r.NewIter(&pebble.IterOptions{LowerBound: timeKey(pHead, id, start), UpperBound: timeKey(pHead, id, end)})
	if err != nil {
		return err
	}
	defer hi.Close()
	return mergeScan(ctx, ci, hi, start, end, desc, fn)
}

// mergeScan merges the chunk iterator ci and the head iterator hi, both
// already bounded to one series and [start, end), into fn.
func mergeScan(ctx context.Context, ci, hi *pebble.Iterator, start, end int64, desc bool, fn func(Point) bool) error {
	var err error
	// Chunk cursor: the decoded, range-filtered samples of the current chunk.
	var buf []chunk.Sample
	pos := 0
	var cit chunk.Iterator
	load := func(ok bool) (bool, error) {
		for ; ok; ok = step(ci, desc) {
			buf, pos = buf[:0], 0
			if err := cit.Reset(ci.Value()); err != nil {
				return false, err
			}
			for cit.Next() {
				if s := cit.At(); s.T >= start && s.T < end {
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
		return false, ci.Error()
	}
	cok, err := load(first(ci, desc))
	if err != nil {
		return err
	}
	hok := first(hi, desc)
	var hs chunk.Sample
	if hok {
		if hs, err = decodeHead(hi.Key(), hi.Value()); err != nil {
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
				if cok, err = load(step(ci, desc)); err != nil {
					return err
				}
			}
		} else {
			s = hs
			if hok = step(hi, desc); hok {
				if hs, err = decodeHead(hi.Key(), hi.Value()); err != nil {
					return err
				}
			}
		}
		if !fn(Point(s)) {
			return nil
		}
	}
	return errors.Join(ci.Error(), hi.Error())
}

func first(it *pebble.Iterator, desc bool) bool {
	if desc {
		return it.Last()
	}
	return it.First()
}

func step(it *pebble.Iterator, desc bool) bool {
	if desc {
		return it.Prev()
	}
	return it.Next()
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
	defer snap.Close()
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
	err = db.scan(ctx, snap, id, t, t+1, false, func(q Point) bool {
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
