package series

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// SeriesArchives returns the archives series id keeps per series (those
// that outlive raw retention, so they hold the samples it removed), finest
// first, and a time before which all their samples lie (now minus raw
// retention: retention removes only older samples); no archives for an
// unknown series or a policy whose archives all end with raw retention.
func (v *View) SeriesArchives(id ID) ([]Archive, int64) {
	v.db.mu.RLock()
	s := v.db.byID[id]
	if s == nil {
		v.db.mu.RUnlock()
		return nil, 0
	}
	pol := s.pol
	v.db.mu.RUnlock()
	var out []Archive
	for _, a := range pol.archives {
		if a.perSeries {
			out = append(out, Archive{Granularity: time.Duration(a.gran * usPerNs), Points: int(a.span / a.gran)})
		}
	}
	return out, v.now - pol.rawRet
}

// RolledBefore returns a time at and after which no series' per-series
// roll-ups hold a sample (math.MinInt64 when no policy keeps any), so a
// read of later times need not look for them.
func (v *View) RolledBefore() int64 { return v.rolled }

// ScanRollup calls fn, in time order until it returns false, for each
// non-empty bucket of series id's per-series archive of granularity gran
// whose start lies in [floorTo(start, gran), end) µs. Those buckets hold
// exactly the samples raw retention removed from the series, so in one
// View they and Scan's samples are disjoint, the roll-ups older.
func (v *View) ScanRollup(ctx context.Context, id ID, gran time.Duration, start, end int64, fn func(Bucket) bool) error {
	if v.db.readCtx.Err() != nil {
		return fmt.Errorf("scan roll-ups of series %d: %w", id, ErrClosed)
	}
	g := int64(gran / time.Microsecond)
	if g <= 0 {
		return fmt.Errorf("scan roll-ups of series %d: granularity %s: must be at least 1µs", id, gran)
	}
	start, end = bounds(start, end)
	if start >= end {
		return nil
	}
	it, err := v.snap.NewIter(&pebble.IterOptions{
		LowerBound: rollupKey(id, g, floorTo(start, g)),
		UpperBound: rollupKey(id, g, floorTo(end-1, g)+1),
	})
	if err != nil {
		return fmt.Errorf("scan roll-ups of series %d: %w", id, err)
	}
	defer func() { _ = it.Close() }()
	for ok := it.First(); ok; ok = it.Next() {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("scan roll-ups of series %d: %w", id, err)
		}
		ag, err := decodeAgg(it.Value())
		if err != nil {
			return fmt.Errorf("scan roll-ups of series %d: %w", id, err)
		}
		if ag.Count == 0 {
			continue
		}
		k := it.Key()
		if !fn(Bucket{Start: unord(binary.BigEndian.Uint64(k[17:])), Agg: ag}) {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("scan roll-ups of series %d: %w", id, err)
	}
	return nil
}
