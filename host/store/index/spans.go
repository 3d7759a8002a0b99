package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
)

// A resource's sample times (resource_span's first_ns and last_ns) are
// written lazily. Upsert keeps them in the resource cache; an Upsert whose
// updates change nothing else (known resources, the open metadata version,
// known meters, and no new project, user or source: nearly every batch of a
// poll) runs no SQL at all and lists the resources whose times moved in
// DB.spans. The listed times reach resource_span
//   - before every read of resource_span (Resources, Resource,
//     ExpireResources), so a read sees every Upsert that returned before it
//     began, as before;
//   - with the next Upsert that writes SQL anyway;
//   - at Close, which then marks the times complete (index_state's
//     spans_clean = 1, durably).
//
// Open reads that mark and clears it (durably) before any write. After a
// crash the listed times were lost; SpansClean reports it, and the store
// facade widens the times from the series engine, which holds every stored
// sample (ExpandSpans). A span only widens between flushes (retention
// removes whole resources, with their rows), so widening restores it.

// spansCleanKey names the mark in index_state.
const spansCleanKey = "spans_clean"

// openSpans reads whether the last process wrote every sample time before
// it closed, and clears the mark with a synchronous commit: the times this
// process keeps in memory are not in the database until a flush.
func (db *DB) openSpans(ctx context.Context) (bool, error) {
	var v int64
	err := db.w.QueryRowContext(ctx, `SELECT value FROM index_state WHERE name = ?`, spansCleanKey).Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("read %s: %w", spansCleanKey, err)
	}
	if err := db.markSpans(ctx, 0); err != nil {
		return false, err
	}
	return err == nil && v == 1, nil
}

// markSpans sets the mark with synchronous=FULL, so that it survives a
// power loss as well (the writer pool has one connection).
func (db *DB) markSpans(ctx context.Context, v int) error {
	if _, err := db.w.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return fmt.Errorf("mark %s: %w", spansCleanKey, err)
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO index_state (name, value) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET value = excluded.value`, spansCleanKey, v)
	if _, rerr := db.w.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("mark %s: %w", spansCleanKey, noSpace(err))
	}
	return nil
}

// SpansClean reports whether the process that used the index before this
// one wrote every resource's sample times before it closed. When it did
// not, the caller widens them with ExpandSpans; until then, Close does not
// mark the times complete.
func (db *DB) SpansClean() bool {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	return db.spansClean
}

// quietUpsert applies ups, already checked, in memory and reports true when
// none of them needs a statement: each names a cached resource, carries the
// metadata of its open version from that version's start on, and a known
// meter, and does not move the project, user or source. Otherwise it changes
// nothing and reports false. wmu held.
func (db *DB) quietUpsert(ups []ResourceUpdate) bool {
	var prev *resState
	var prevRID string
	for i := range ups {
		u := &ups[i]
		st := prev
		if st == nil || u.ResourceID != prevRID {
			if st = db.resources[u.ResourceID]; st == nil {
				return false
			}
			prev, prevRID = st, u.ResourceID
		}
		if t := u.T.UnixNano(); t < st.curFrom || metadataHash(u.Metadata) != st.curHash ||
			t >= st.last && (st.project != u.ProjectID || st.user != u.UserID || st.source != u.Source) {
			return false
		}
		if u.Meter != "" && !slices.Contains(st.meters, MeterRef{Name: u.Meter, Type: u.Type, Unit: u.Unit}) {
			return false
		}
	}
	// Only the times move; a resource's updates can come in any order.
	for i := range ups {
		u := &ups[i]
		st := db.resources[u.ResourceID]
		t := u.T.UnixNano()
		if t < st.first || t > st.last {
			st.first, st.last = min(st.first, t), max(st.last, t)
			db.spans[u.ResourceID] = struct{}{}
		}
	}
	return true
}

// appendSpans appends the listed times as [id, first, last] rows, except
// those of the resources in skip. wmu held.
func (db *DB) appendSpans(rows []int64, skip map[string]*resState) []int64 {
	for rid := range db.spans {
		if _, ok := skip[rid]; ok {
			continue
		}
		if st, ok := db.resources[rid]; ok {
			rows = append(rows, st.id, st.first, st.last)
		}
	}
	return rows
}

// flushSpans writes the listed times.
func (db *DB) flushSpans(ctx context.Context) error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	return db.flushSpansLocked(ctx)
}

// flushSpansLocked is flushSpans with wmu held.
func (db *DB) flushSpansLocked(ctx context.Context) error {
	if len(db.spans) == 0 {
		return nil
	}
	err := db.writeTxHist(ctx, noHistory, func(tx *sql.Tx) error {
		return db.updateTimes(&txStmts{ctx: ctx, tx: tx, ws: &db.ws}, db.appendSpans(nil, nil))
	})
	if err != nil {
		return fmt.Errorf("write resource times: %w", err)
	}
	clear(db.spans)
	return nil
}

// ExpandSpans widens the sample times of the resources named in spans
// ([first, last] unix nanoseconds each) to hold them; resources the index
// does not hold are skipped. The store calls it at open when SpansClean
// reports false, with the times of the samples the series engine holds.
func (db *DB) ExpandSpans(ctx context.Context, spans map[string][2]int64) error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if len(spans) == 0 {
		db.spansClean = true
		return nil
	}
	if err := db.flushSpansLocked(ctx); err != nil {
		return fmt.Errorf("expand resource times: %w", err)
	}
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE resource_span SET first_ns = min(first_ns, ?1), last_ns = max(last_ns, ?2)
WHERE id = (SELECT id FROM resource WHERE resource_id = ?3) AND (first_ns > ?1 OR last_ns < ?2)`)
		if err != nil {
			return err
		}
		defer func() { _ = st.Close() }()
		for rid, s := range spans {
			if _, err := st.ExecContext(ctx, s[0], s[1], rid); err != nil {
				return fmt.Errorf("resource %q: %w", rid, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("expand resource times: %w", err)
	}
	for rid := range spans {
		delete(db.resources, rid) // reloaded with the widened times
		delete(db.spans, rid)
	}
	db.spansClean = true
	return nil
}
