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

	"github.com/altimeter/altimeter/host/store/series/chunk"
	"github.com/cockroachdb/pebble/v2"
)

type packJob struct {
	s *series
	w int64
}

// packClosed packs the windows of the given series that the series moved
// OutOfOrder past. Called with writeMu held.
func (db *DB) packClosed(ctx context.Context, touched []*series) error {
	var jobs []packJob
	db.mu.RLock()
	// writeMu (held) guards packGen.
	db.packGen++
	for _, s := range touched {
		if s.packGen == db.packGen {
			continue
		}
		s.packGen = db.packGen
		for _, w := range s.open {
			if w+db.window > s.maxT-db.ooo {
				break
			}
			jobs = append(jobs, packJob{s, w})
		}
	}
	db.mu.RUnlock()
	return db.pack(ctx, jobs)
}

// packIdle packs the windows the wall clock moved OutOfOrder past (series
// that stopped receiving samples).
func (db *DB) packIdle(ctx context.Context) error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	now := db.opts.Now().UnixMicro()
	return db.packWhere(ctx, func(s *series, w int64) bool {
		return w+db.window <= s.maxT-db.ooo || w+db.window <= now-db.ooo
	})
}

// packWhere packs every open window for which keep returns true. Called
// with writeMu held.
func (db *DB) packWhere(ctx context.Context, keep func(*series, int64) bool) error {
	var jobs []packJob
	db.mu.RLock()
	if err := db.checkOpen(); err != nil {
		db.mu.RUnlock()
		return err
	}
	for _, s := range db.byID {
		for _, w := range s.open {
			if keep(s, w) {
				jobs = append(jobs, packJob{s, w})
			}
		}
	}
	db.mu.RUnlock()
	return db.pack(ctx, jobs)
}

// pack merges the head samples of each job's window into the window's
// chunk, committing every few thousand windows (each window atomically).
// Called with writeMu held.
func (db *DB) pack(ctx context.Context, jobs []packJob) error {
	const perBatch = 2000
	for len(jobs) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(len(jobs), perBatch)
		if err := db.packBatch(jobs[:n]); err != nil {
			return fmt.Errorf("pack %d windows: %w", n, err)
		}
		jobs = jobs[n:]
	}
	return nil
}

func (db *DB) packBatch(jobs []packJob) error {
	b := db.pdb.NewBatch()
	defer func() { _ = b.Close() }()
	type cstats struct{ first, last, count int64 }
	db.mu.RLock()
	cs := make(map[*series]*cstats, len(jobs))
	for _, j := range jobs {
		if cs[j.s] == nil {
			cs[j.s] = &cstats{j.s.cFirst, j.s.cLast, j.s.cCount}
		}
	}
	db.mu.RUnlock()
	slices.SortFunc(jobs, func(a, b packJob) int {
		return cmp.Or(cmp.Compare(a.s.id, b.s.id), cmp.Compare(a.w, b.w))
	})
	wr, err := db.newWindowReader()
	if err != nil {
		return err
	}
	defer func() { _ = wr.Close() }()
	var samples, heads []chunk.Sample
	for _, j := range jobs {
		var err error
		samples, heads, err = wr.read(samples[:0], heads[:0], j.s.id, j.w)
		if err != nil {
			return err
		}
		if len(heads) == 0 {
			continue
		}
		enc, err := chunk.Encode(samples)
		if err != nil {
			return fmt.Errorf("encode chunk of series %d: %w", j.s.id, err)
		}
		if err := b.Set(timeKey(pChunk, j.s.id, j.w), enc, nil); err != nil {
			return err
		}
		if err := b.DeleteRange(timeKey(pHead, j.s.id, j.w), timeKey(pHead, j.s.id, j.w+db.window), nil); err != nil {
			return err
		}
		c := cs[j.s]
		for _, h := range heads {
			if c.count == 0 || h.T < c.first {
				c.first = h.T
			}
			if c.count == 0 || h.T > c.last {
				c.last = h.T
			}
			c.count++
		}
	}
	db.mu.RLock()
	for s, c := range cs {
		if err := b.Set(idKey(pStats, s.id), encodeStats(c.first, c.last, c.count, s.maxT), nil); err != nil {
			db.mu.RUnlock()
			return err
		}
	}
	db.mu.RUnlock()
	if err := db.apply(func() error { return b.Commit(pebble.NoSync) }); err != nil {
		db.fail(err)
		return err
	}
	db.mu.Lock()
	for _, j := range jobs {
		if i, ok := slices.BinarySearch(j.s.open, j.w); ok {
			j.s.open = slices.Delete(j.s.open, i, i+1)
		}
	}
	for s, c := range cs {
		s.cFirst, s.cLast, s.cCount = c.first, c.last, c.count
	}
	db.mu.Unlock()
	return nil
}

// windowReader reads windows through two long-lived iterators (a Pebble
// iterator is costly to create, cheap to seek).
type windowReader struct {
	db         *DB
	chunks, hd *pebble.Iterator
}

func (db *DB) newWindowReader() (*windowReader, error) {
	c, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{pChunk}, UpperBound: []byte{pChunk + 1}})
	if err != nil {
		return nil, err
	}
	h, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{pHead}, UpperBound: []byte{pHead + 1}})
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return &windowReader{db: db, chunks: c, hd: h}, nil
}

func (wr *windowReader) Close() error { return errors.Join(wr.chunks.Close(), wr.hd.Close()) }

// read appends the committed samples of one window (chunk and head, merged
// in time order, chunk first on ties) to dst, and the head samples alone
// to heads.
func (wr *windowReader) read(dst, heads []chunk.Sample, id ID, w int64) ([]chunk.Sample, []chunk.Sample, error) {
	var old []chunk.Sample
	ck := timeKey(pChunk, id, w)
	if wr.chunks.SeekGE(ck) && bytes.Equal(wr.chunks.Key(), ck) {
		var err error
		if old, err = chunk.Decode(wr.chunks.Value()); err != nil {
			return dst, heads, fmt.Errorf("read chunk of series %d: %w", id, err)
		}
	} else if err := wr.chunks.Error(); err != nil {
		return dst, heads, err
	}
	end := timeKey(pHead, id, w+wr.db.window)
	for ok := wr.hd.SeekGE(timeKey(pHead, id, w)); ok && bytes.Compare(wr.hd.Key(), end) < 0; ok = wr.hd.Next() {
		s, err := decodeHead(wr.hd.Key(), wr.hd.Value())
		if err != nil {
			return dst, heads, err
		}
		for len(old) > 0 && old[0].T <= s.T {
			dst = append(dst, old[0])
			old = old[1:]
		}
		dst = append(dst, s)
		heads = append(heads, s)
	}
	return append(dst, old...), heads, wr.hd.Error()
}

// decodeHead decodes a head key and value; Recorded holds the epoch.
func decodeHead(k, v []byte) (chunk.Sample, error) {
	_, t, msgID, err := parseHeadKey(k)
	if err != nil {
		return chunk.Sample{}, err
	}
	if len(v) < 9 {
		return chunk.Sample{}, fmt.Errorf("decode head value: %w", errCorrupt)
	}
	ep, n := binary.Varint(v[8:])
	if n <= 0 {
		return chunk.Sample{}, fmt.Errorf("decode head value: %w", errCorrupt)
	}
	return chunk.Sample{T: t, V: math.Float64frombits(binary.BigEndian.Uint64(v)), MessageID: msgID, Recorded: ep}, nil
}
