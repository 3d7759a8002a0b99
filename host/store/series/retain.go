package series

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/altimeter/altimeter/host/store/series/chunk"
	"github.com/cockroachdb/pebble/v2"
)

// Retain applies retention now. For each series it deletes the chunk
// windows (and unpacked head samples) that end at or before now minus the
// policy's raw retention, with their message ids, after adding their
// samples to the series' own archives (those that outlive raw retention:
// per-series roll-ups hold exactly the expired samples, so a series costs
// no roll-up space while its raw samples exist); for each roll-up scope
// and archive the buckets that end at or before now minus the archive's
// span (Granularity x Points). Nothing else is deleted: series stay in the
// catalog with Count 0 when all their samples expired.
func (db *DB) Retain(ctx context.Context) error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	if err := db.reopenIfBroken(); err != nil {
		return fmt.Errorf("retain: %w", err)
	}
	now := db.opts.Now().UnixMicro()
	db.mu.RLock()
	if err := db.checkOpen(); err != nil {
		db.mu.RUnlock()
		return fmt.Errorf("retain: %w", err)
	}
	all := make([]*series, 0, len(db.byID))
	for _, s := range db.byID {
		all = append(all, s)
	}
	scopes := make([]*scope, 0, len(db.scopes))
	for _, sc := range db.scopes {
		scopes = append(scopes, sc)
	}
	db.mu.RUnlock()

	b := db.pdb.NewBatch()
	defer func() { _ = b.Close() }()
	flush := func(force bool) error {
		if b.Empty() || (!force && b.Len() < 4<<20) {
			return nil
		}
		if err := db.apply(func() error { return b.Commit(db.sync) }); err != nil {
			// The catalog already counts the deletions.
			db.fail(err)
			return err
		}
		_ = b.Close()
		b = db.pdb.NewBatch()
		return nil
	}
	for _, s := range all {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("retain: %w", err)
		}
		if err := db.retainSeries(b, s, now); err != nil {
			return fmt.Errorf("retain series %d: %w", s.id, err)
		}
		for i := range s.pol.archives {
			if a := s.pol.archives[i]; a.perSeries {
				if err := db.retainRollup(b, s.id, a, &s.retained, i, now); err != nil {
					return fmt.Errorf("retain series %d: %w", s.id, err)
				}
			}
		}
		if err := flush(false); err != nil {
			return fmt.Errorf("retain: %w", err)
		}
	}
	for _, sc := range scopes {
		for i, a := range sc.pol.archives {
			if err := db.retainRollup(b, sc.id, a, &sc.retained, i, now); err != nil {
				return fmt.Errorf("retain scope %d: %w", sc.id, err)
			}
		}
	}
	if err := db.retainEpochs(b, now); err != nil {
		return fmt.Errorf("retain: %w", err)
	}
	if err := flush(true); err != nil {
		return fmt.Errorf("retain: %w", err)
	}
	return nil
}

// epochSlack is how long record times outlive raw retention: samples are
// kept by sample time and a sample may be written a while after it was
// taken.
const epochSlack = 24 * int64(time.Hour/time.Microsecond)

// retainEpochs deletes the oldest epochs whose record time is older than
// the longest raw retention plus OutOfOrder plus a day, up to the first
// younger one. A sample that outlives its epoch (one stamped far in the
// future) reads back with Recorded 0.
func (db *DB) retainEpochs(b *pebble.Batch, now int64) error {
	var maxRaw int64
	for _, p := range db.policies {
		maxRaw = max(maxRaw, p.rawRet)
	}
	limit := now - maxRaw - db.ooo - epochSlack
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{pEpoch}, UpperBound: []byte{pEpoch + 1}})
	if err != nil {
		return err
	}
	defer func() { _ = it.Close() }()
	var last []byte
	for ok := it.First(); ok; ok = it.Next() {
		t, n := binary.Varint(it.Value())
		if n <= 0 || t >= limit {
			break
		}
		last = append(last[:0], it.Key()...)
	}
	if last == nil {
		return it.Error()
	}
	return b.DeleteRange([]byte{pEpoch}, append(last, 0), nil)
}

// retainRollup deletes the buckets of archive i of scope id that end at or
// before now - span.
func (db *DB) retainRollup(b *pebble.Batch, id ID, a archive, retained *[]int64, i int, now int64) error {
	if len(*retained) <= i {
		r := make([]int64, i+1)
		copy(r, *retained)
		for k := len(*retained); k <= i; k++ {
			r[k] = math.MinInt64
		}
		*retained = r
	}
	cut := floorTo(now-a.span, a.gran) // buckets starting before cut have ended by now-span
	if cut <= (*retained)[i] {
		return nil
	}
	if err := b.DeleteRange(rollupKey(id, a.gran, MinTime-a.gran), rollupKey(id, a.gran, cut), nil); err != nil {
		return err
	}
	(*retained)[i] = cut
	return nil
}

// retainSeries deletes the expired windows of one series.
func (db *DB) retainSeries(b *pebble.Batch, s *series, now int64) error {
	db.mu.RLock()
	first, count := s.first, s.count
	db.mu.RUnlock()
	cut := db.windowOf(now - s.pol.rawRet) // windows starting before cut have ended
	if count == 0 || first >= cut {
		return nil
	}
	lo := db.windowOf(first)
	var removed, removedPacked int64
	// Expiring samples go into the per-series archives, which outlive raw.
	rolls := map[rollKey]*Agg{}
	msgIDs := func(samples []chunk.Sample) error {
		for _, x := range samples {
			for _, a := range s.pol.archives {
				if a.perSeries {
					k := rollKey{s.id, a.gran, floorTo(x.T, a.gran)}
					if rolls[k] == nil {
						rolls[k] = &Agg{}
					}
					rolls[k].Add(x.T, x.V)
				}
			}
			removed++
			if x.MessageID != "" {
				if err := b.Delete(msgKey(s.key.ProjectID, x.MessageID), nil); err != nil {
					return err
				}
			}
		}
		return nil
	}
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: timeKey(pChunk, s.id, lo), UpperBound: timeKey(pChunk, s.id, cut)})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		ss, err := chunk.Decode(it.Value())
		if err != nil {
			_ = it.Close()
			return err
		}
		if err := msgIDs(ss); err != nil {
			_ = it.Close()
			return err
		}
		removedPacked += int64(len(ss))
	}
	if err := it.Close(); err != nil {
		return err
	}
	hit, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: timeKey(pHead, s.id, lo), UpperBound: timeKey(pHead, s.id, cut)})
	if err != nil {
		return err
	}
	var heads []chunk.Sample
	for ok := hit.First(); ok; ok = hit.Next() {
		x, err := decodeHead(hit.Key(), hit.Value())
		if err != nil {
			_ = hit.Close()
			return err
		}
		heads = append(heads, x)
	}
	if err := hit.Close(); err != nil {
		return err
	}
	if err := msgIDs(heads); err != nil {
		return err
	}
	for k, ag := range rolls {
		if err := b.Merge(rollupKey(k.scope, k.gran, k.bucket), ag.encode(nil), nil); err != nil {
			return err
		}
	}
	if err := b.DeleteRange(timeKey(pChunk, s.id, lo), timeKey(pChunk, s.id, cut), nil); err != nil {
		return err
	}
	if err := b.DeleteRange(timeKey(pHead, s.id, lo), timeKey(pHead, s.id, cut), nil); err != nil {
		return err
	}
	// The new first samples: the oldest remaining one, and the oldest
	// remaining packed one.
	newFirst, found := int64(0), false
	err = db.scan(context.Background(), db.pdb, s.id, cut, 0, false, true, func(p Point) bool {
		newFirst, found = p.T, true
		return false
	})
	if err != nil {
		return err
	}
	newCFirst, cFound, err := db.firstPacked(s.id, cut)
	if err != nil {
		return err
	}
	db.mu.Lock()
	s.count -= removed
	if !found || s.count <= 0 {
		s.count, s.first, s.last = 0, 0, 0
	} else {
		s.first = newFirst
	}
	s.cCount -= removedPacked
	if !cFound || s.cCount <= 0 {
		s.cCount, s.cFirst, s.cLast = 0, 0, 0
	} else {
		s.cFirst = newCFirst
	}
	for len(s.open) > 0 && s.open[0] < cut {
		s.open = s.open[1:]
	}
	rec := encodeStats(s.cFirst, s.cLast, s.cCount, s.maxT)
	db.mu.Unlock()
	return b.Set(idKey(pStats, s.id), rec, nil)
}

// firstPacked returns the time of the first packed sample at or after the
// window starting at from.
func (db *DB) firstPacked(id ID, from int64) (int64, bool, error) {
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: timeKey(pChunk, id, from), UpperBound: idKey(pChunk, id+1)})
	if err != nil {
		return 0, false, err
	}
	defer func() { _ = it.Close() }()
	if !it.First() {
		return 0, false, it.Error()
	}
	ci, err := chunk.NewIterator(it.Value())
	if err != nil {
		return 0, false, err
	}
	if !ci.Next() {
		return 0, false, ci.Err()
	}
	return ci.At().T, true, nil
}

// Compact packs every head sample into its chunk, then compacts the whole
// keyspace, so that DiskUsage reports the settled size.
func (db *DB) Compact(ctx context.Context) error {
	db.writeMu.Lock()
	err := db.packWhere(ctx, func(*series, int64) bool { return true })
	db.writeMu.Unlock()
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	ctx, end, err := db.beginRead(ctx)
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	defer end()
	if err := db.pdb.Flush(); err != nil {
		return fmt.Errorf("compact: flush: %w", err)
	}
	if err := db.pdb.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	return nil
}
