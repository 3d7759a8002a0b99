package index

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
)

// ResourceUpdate is what one sample tells the index about its resource: the
// facade passes one per sample (or per distinct resource, meter and time).
type ResourceUpdate struct {
	ResourceID string
	ProjectID  string
	UserID     string
	Source     string
	// Meter, Type and Unit name the meter of the sample; an empty Meter
	// records no meter.
	Meter string
	Type  string
	Unit  string
	// T is the sample's timestamp, at the precision the caller reads samples
	// back with (truncate it first: a version starts exactly at T, and a
	// change that arrives out of order inside a version gets [T, T+1ns)).
	T time.Time
	// Metadata is the resource metadata at T; nil is the same as empty.
	Metadata map[string]string
}

// MeterRef is one meter a resource has samples of.
type MeterRef struct {
	Name string
	Type string
	Unit string
}

// Resource is one entry of the resource index.
type Resource struct {
	ResourceID string
	ProjectID  string
	UserID     string
	Source     string
	// First and Last are the times of the first and the last sample.
	First, Last time.Time
	// Metadata is the latest metadata (the version valid at Last).
	Metadata map[string]string
	// Meters are sorted by name, type and unit.
	Meters []MeterRef
}

// resState is the cached current state of one resource: enough to decide
// whether an update changes anything but the sample times.
type resState struct {
	id                    int64
	project, user, source string
	first, last           int64
	curFrom               int64 // from of the open metadata version
	curHash               uint64
	meters                []MeterRef
	dirty                 bool // first or last changed in this call
	dirtyAttrs            bool // project, user or source changed in this call
}

// Upsert records updates in one transaction. Per resource it keeps the first
// and the last sample time, the project, user and source of the latest
// update by T (ties: the later in ups), the set of meters, and the metadata
// history: when the metadata at T differs from the version valid at T, a new
// version starts at T, also for updates that arrive out of order. Applying
// the same updates again changes nothing, so the facade can replay samples
// to rebuild lost rows. Updates that move nothing but sample times cost no
// SQL: the times are written lazily (spans.go).
func (db *DB) Upsert(ctx context.Context, ups []ResourceUpdate) error {
	if len(ups) == 0 {
		return nil
	}
	for i := range ups {
		if ups[i].ResourceID == "" {
			return fmt.Errorf("upsert resources: update %d: %w: empty resource id", i, ErrInvalid)
		}
		if err := checkTime(ups[i].T); err != nil {
			return fmt.Errorf("upsert resources: update %d (resource %q): %w", i, ups[i].ResourceID, err)
		}
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if db.quietUpsert(ups) {
		return nil
	}
	order := updateOrder(ups)
	touched := db.touched
	if touched == nil {
		touched = make(map[string]*resState, len(ups))
	}
	defer func() {
		// Keep the map for the next call unless a large batch grew it:
		// clear costs its capacity.
		if len(touched) <= maxReusedTouched {
			clear(touched)
			db.touched = touched
		} else {
			db.touched = nil
		}
	}()
	var ts *txStmts
	// hist lists the resources whose metadata histories changed.
	var hist []string
	err := db.writeTxHist(ctx, func() ([]string, bool) { return hist, false }, func(tx *sql.Tx) error {
		ts = &txStmts{ctx: ctx, tx: tx, ws: &db.ws}
		// Updates of one resource tend to come together (one per meter):
		// the last resource seen spares a map lookup.
		var prev *resState
		var prevRID string
		for k := range ups {
			i := k
			if order != nil {
				i = order[k]
			}
			u := &ups[i]
			st, ok := prev, prev != nil && u.ResourceID == prevRID
			if !ok {
				st, ok = touched[u.ResourceID]
			}
			if !ok {
				var err error
				if st, err = db.loadState(ts, u.ResourceID); err != nil {
					return fmt.Errorf("resource %q: %w", u.ResourceID, err)
				}
				if st == nil {
					if st, err = insertResource(ts, u); err != nil {
						return fmt.Errorf("resource %q: %w", u.ResourceID, err)
					}
					touched[u.ResourceID] = st
					prev, prevRID = st, u.ResourceID
					continue
				}
				touched[u.ResourceID] = st
			}
			prev, prevRID = st, u.ResourceID
			versions := ts.versions
			err := applyUpdate(ts, st, u)
			if ts.versions != versions {
				hist = append(hist, u.ResourceID)
			}
			if err != nil {
				return fmt.Errorf("resource %q: %w", u.ResourceID, err)
			}
		}
		// The times of this call's resources, and those listed since the
		// last flush (spans.go).
		times := db.appendSpans(make([]int64, 0, 3*(len(touched)+len(db.spans))), touched)
		for rid, st := range touched {
			if _, listed := db.spans[rid]; st.dirty || listed {
				times = append(times, st.id, st.first, st.last)
				st.dirty = false
			}
			if st.dirtyAttrs {
				if _, err := ts.exec(stResUpdateAttrs, st.project, st.user, st.source, st.id); err != nil {
					return fmt.Errorf("update resource attributes: %w", err)
				}
				st.dirtyAttrs = false
			}
		}
		if err := db.updateTimes(ts, times); err != nil {
			return fmt.Errorf("update resource times: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("upsert resources: %w", err)
	}
	for id, st := range touched {
		db.resources[id] = st
	}
	clear(db.spans)
	return nil
}

// maxReusedTouched bounds the map of touched resources Upsert keeps for
// the next call.
const maxReusedTouched = 4096

// updateOrder returns the indexes of ups sorted by T (stable), so that most
// updates arrive in order; nil when they already are (ups' own order).
func updateOrder(ups []ResourceUpdate) []int {
	sorted := true
	for i := 1; i < len(ups); i++ {
		if ups[i].T.Before(ups[i-1].T) {
			sorted = false
			break
		}
	}
	if sorted {
		return nil
	}
	order := make([]int, len(ups))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return ups[order[a]].T.Before(ups[order[b]].T) })
	return order
}

// loadState returns a private copy of the cached state of resourceID,
// loading it from the database on a cache miss; nil when the resource does
// not exist. The copy is installed in the cache only after commit.
func (db *DB) loadState(ts *txStmts, resourceID string) (*resState, error) {
	if c, ok := db.resources[resourceID]; ok {
		st := *c
		st.meters = st.meters[:len(st.meters):len(st.meters)] // appends copy
		return &st, nil
	}
	var st resState
	var hash int64
	err := ts.queryRow(stResGet, resourceID).Scan(&st.id, &st.project, &st.user, &st.source,
		&st.first, &st.last, &st.curFrom, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	st.curHash = uint64(hash)
	rows, err := ts.query(stResMeters, st.id)
	if err != nil {
		return nil, fmt.Errorf("load meters: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var m MeterRef
		if err := rows.Scan(&m.Name, &m.Type, &m.Unit); err != nil {
			return nil, fmt.Errorf("load meters: %w", err)
		}
		st.meters = append(st.meters, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load meters: %w", err)
	}
	return &st, nil
}

func insertResource(ts *txStmts, u *ResourceUpdate) (*resState, error) {
	t := u.T.UnixNano()
	h := metadataHash(u.Metadata)
	md, err := metadataJSON(u.Metadata)
	if err != nil {
		return nil, err
	}
	res, err := ts.exec(stResInsert, u.ResourceID, u.ProjectID, u.UserID, u.Source, t, int64(h), md)
	if err != nil {
		return nil, fmt.Errorf("insert: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, fmt.Errorf("insert: %w", err)
	}
	if _, err := ts.exec(stSpanInsert, id, t, t); err != nil {
		return nil, fmt.Errorf("insert: %w", err)
	}
	st := &resState{id: id, project: u.ProjectID, user: u.UserID, source: u.Source,
		first: t, last: t, curFrom: t, curHash: h}
	if err := insertVersion(ts, id, version{from: t, to: openTo, seen: t, hash: h, md: u.Metadata}, md); err != nil {
		return nil, err
	}
	if err := addMeter(ts, st, u); err != nil {
		return nil, err
	}
	return st, nil
}

// applyUpdate applies u to the existing resource st.
func applyUpdate(ts *txStmts, st *resState, u *ResourceUpdate) error {
	t := u.T.UnixNano()
	h := metadataHash(u.Metadata)
	switch {
	case t >= st.curFrom && h == st.curHash:
		// Confirms the open version: nothing to write for the metadata.
	case t > st.last:
		// In order, new metadata: close the open version, open another.
		if _, err := ts.exec(stVerClose, t, st.last, st.id, st.curFrom); err != nil {
			return fmt.Errorf("close metadata version: %w", err)
		}
		md, err := metadataJSON(u.Metadata)
		if err != nil {
			return err
		}
		if err := insertVersion(ts, st.id, version{from: t, to: openTo, seen: t, hash: h, md: u.Metadata}, md); err != nil {
			return err
		}
		if _, err := ts.exec(stResUpdateCur, t, int64(h), md, st.id); err != nil {
			return fmt.Errorf("update current metadata: %w", err)
		}
		st.curFrom, st.curHash = t, h
	default:
		if err := rewriteHistory(ts, st, t, h, u.Metadata); err != nil {
			return err
		}
	}
	if t < st.first {
		st.first, st.dirty = t, true
	}
	if t >= st.last {
		if t > st.last {
			st.last, st.dirty = t, true
		}
		if st.project != u.ProjectID || st.user != u.UserID || st.source != u.Source {
			st.project, st.user, st.source, st.dirtyAttrs = u.ProjectID, u.UserID, u.Source, true
		}
	}
	return addMeter(ts, st, u)
}

func addMeter(ts *txStmts, st *resState, u *ResourceUpdate) error {
	if u.Meter == "" {
		return nil
	}
	m := MeterRef{Name: u.Meter, Type: u.Type, Unit: u.Unit}
	if slices.Contains(st.meters, m) {
		return nil
	}
	if _, err := ts.exec(stMeterInsert, st.id, m.Name, m.Type, m.Unit); err != nil {
		return fmt.Errorf("insert meter %q: %w", m.Name, err)
	}
	st.meters = append(st.meters, m)
	return nil
}

// insertVersion inserts v, with md its metadata as JSON.
func insertVersion(ts *txStmts, rid int64, v version, md string) error {
	var to any
	if v.to != openTo {
		to = v.to
	}
	if _, err := ts.exec(stVerInsert, rid, v.from, to, v.seen, int64(v.hash), md); err != nil {
		return fmt.Errorf("insert metadata version: %w", err)
	}
	for k, val := range v.md {
		if _, err := ts.exec(stKVInsert, k, val, rid); err != nil {
			return fmt.Errorf("insert metadata value %q: %w", k, err)
		}
	}
	return nil
}

// rewriteHistory is the general (out-of-order) path: it loads the whole
// history of st, applies the update and writes the history back.
func rewriteHistory(ts *txStmts, st *resState, t int64, h uint64, md map[string]string) error {
	vs, err := loadVersions(ts.query(stVerLoad, st.id))
	if err != nil {
		return fmt.Errorf("load metadata history: %w", err)
	}
	if len(vs) == 0 {
		return fmt.Errorf("load metadata history: no version")
	}
	vs[len(vs)-1].seen = st.last
	vs = applyVersion(vs, t, h, md)
	if _, err := ts.exec(stVerDelete, st.id); err != nil {
		return fmt.Errorf("rewrite metadata history: %w", err)
	}
	var curJSON string
	for _, v := range vs {
		js, err := metadataJSON(v.md)
		if err != nil {
			return err
		}
		if err := insertVersion(ts, st.id, v, js); err != nil {
			return err
		}
		curJSON = js
	}
	cur := vs[len(vs)-1]
	if cur.from != st.curFrom || cur.hash != st.curHash {
		if _, err := ts.exec(stResUpdateCur, cur.from, int64(cur.hash), curJSON, st.id); err != nil {
			return fmt.Errorf("update current metadata: %w", err)
		}
		st.curFrom, st.curHash = cur.from, cur.hash
	}
	return nil
}

// loadVersions scans metadata_version rows (from, to, seen, hash, metadata).
func loadVersions(rows *sql.Rows, err error) ([]version, error) {
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var vs []version
	for rows.Next() {
		var v version
		var to sql.NullInt64
		var hash int64
		var md string
		if err := rows.Scan(&v.from, &to, &v.seen, &hash, &md); err != nil {
			return nil, err
		}
		v.to, v.hash = openTo, uint64(hash)
		if to.Valid {
			v.to = to.Int64
		}
		if err := json.Unmarshal([]byte(md), &v.md); err != nil {
			return nil, fmt.Errorf("decode metadata: %w", err)
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

// metadataJSON encodes md as a JSON object (keys sorted; nil is {}).
func metadataJSON(md map[string]string) (string, error) {
	if len(md) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(md)
	if err != nil {
		return "", fmt.Errorf("encode metadata: %w", err)
	}
	return string(b), nil
}

// Owners returns the project of each of resourceIDs (distinct) that the
// index holds; resources it does not hold are absent from the map. It sees
// every Upsert that returned before it was called.
func (db *DB) Owners(ctx context.Context, resourceIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(resourceIDs))
	var miss []string
	db.wmu.Lock()
	for _, id := range resourceIDs {
		if st, ok := db.resources[id]; ok {
			out[id] = st.project
		} else {
			miss = append(miss, id)
		}
	}
	db.wmu.Unlock()
	if len(miss) == 0 {
		return out, nil
	}
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `SELECT project_id FROM resource WHERE resource_id = ?`)
		if err != nil {
			return err
		}
		defer func() { _ = st.Close() }()
		for _, id := range miss {
			var p string
			switch err := st.QueryRowContext(ctx, id).Scan(&p); {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return fmt.Errorf("resource %q: %w", id, err)
			default:
				out[id] = p
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("resource owners: %w", err)
	}
	return out, nil
}
