package index

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ResourceFilter selects resources. Zero fields do not filter.
type ResourceFilter struct {
	ResourceID string
	ProjectID  string
	UserID     string
	Source     string
	// Meter keeps the resources that have samples of this meter.
	Meter string
	// Start (inclusive) and End (exclusive) keep the resources whose
	// [First, Last] overlaps [Start, End).
	Start, End time.Time
	// Metadata keeps the resources whose latest metadata has these values.
	Metadata map[string]string
	// Marker is the resource_id of the last resource of the previous page:
	// the listing resumes after it.
	Marker string
	// Limit caps the resources returned; 0 means no limit.
	Limit int
}

// Resources lists the resources f selects, ordered by resource_id.
func (db *DB) Resources(ctx context.Context, f ResourceFilter) ([]Resource, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list resources: %w: negative limit %d", ErrInvalid, f.Limit)
	}
	if err := db.flushSpans(ctx); err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	// The statement text depends only on which fields are set (and on the
	// number of metadata terms); every value is a parameter.
	var q strings.Builder
	var args []any
	q.WriteString(`SELECT r.id, r.resource_id, r.project_id, r.user_id, r.source, s.first_ns, s.last_ns, r.metadata
FROM resource r JOIN resource_span s ON s.id = r.id WHERE 1`)
	eq := func(col, v string) {
		if v != "" {
			q.WriteString(" AND r." + col + " = ?")
			args = append(args, v)
		}
	}
	eq("resource_id", f.ResourceID)
	eq("project_id", f.ProjectID)
	eq("user_id", f.UserID)
	eq("source", f.Source)
	if f.Meter != "" {
		q.WriteString(" AND r.id IN (SELECT m.rid FROM resource_meter m WHERE m.name = ?)")
		args = append(args, f.Meter)
	}
	if !f.Start.IsZero() {
		q.WriteString(" AND s.last_ns >= ?")
		args = append(args, bound(f.Start, 0))
	}
	if !f.End.IsZero() {
		q.WriteString(" AND s.first_ns < ?")
		args = append(args, bound(f.End, 0))
	}
	for _, k := range slices.Sorted(maps.Keys(f.Metadata)) {
		q.WriteString(" AND EXISTS (SELECT 1 FROM metadata_kv k WHERE k.key = ? AND k.value = ? AND k.rid = r.id)" +
			" AND EXISTS (SELECT 1 FROM json_each(r.metadata) j WHERE j.key = ? AND j.value = ?)")
		args = append(args, k, f.Metadata[k], k, f.Metadata[k])
	}
	if f.Marker != "" {
		q.WriteString(" AND r.resource_id > ?")
		args = append(args, f.Marker)
	}
	q.WriteString(" ORDER BY r.resource_id")
	if f.Limit > 0 {
		q.WriteString(" LIMIT ?")
		args = append(args, f.Limit)
	}

	var out []Resource
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := db.query(ctx, tx, q.String(), args...)
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		var ids []int64
		for rows.Next() {
			var r Resource
			var id, first, last int64
			var md string
			if err := rows.Scan(&id, &r.ResourceID, &r.ProjectID, &r.UserID, &r.Source, &first, &last, &md); err != nil {
				return err
			}
			r.First, r.Last = fromNanos(first), fromNanos(last)
			if err := json.Unmarshal([]byte(md), &r.Metadata); err != nil {
				return fmt.Errorf("decode metadata of %q: %w", r.ResourceID, err)
			}
			out = append(out, r)
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		return db.attachMeters(ctx, tx, ids, out)
	})
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	return out, nil
}

// attachMeters fills out[i].Meters for the resource with row id ids[i].
func (db *DB) attachMeters(ctx context.Context, tx *sql.Tx, ids []int64, out []Resource) error {
	pos := make(map[int64]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	rows, err := db.query(ctx, tx, `SELECT rid, name, type, unit FROM resource_meter
WHERE rid IN (SELECT value FROM json_each(?)) ORDER BY rid, name, type, unit`, idsJSON(ids))
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var rid int64
		var m MeterRef
		if err := rows.Scan(&rid, &m.Name, &m.Type, &m.Unit); err != nil {
			return err
		}
		if i, ok := pos[rid]; ok {
			out[i].Meters = append(out[i].Meters, m)
		}
	}
	return rows.Err()
}

// Resource returns one resource; ErrNotFound when it does not exist.
func (db *DB) Resource(ctx context.Context, id string) (Resource, error) {
	if id == "" {
		return Resource{}, fmt.Errorf("get resource: %w: empty resource id", ErrInvalid)
	}
	rs, err := db.Resources(ctx, ResourceFilter{ResourceID: id, Limit: 1})
	if err != nil {
		return Resource{}, fmt.Errorf("get resource %q: %w", id, err)
	}
	if len(rs) == 0 {
		return Resource{}, fmt.Errorf("resource %q: %w", id, ErrNotFound)
	}
	return rs[0], nil
}

// Version is one metadata version of a resource: Metadata was valid from
// From (inclusive) to To (exclusive); To is zero for the current version.
type Version struct {
	From, To time.Time
	Metadata map[string]string
}

// History returns the metadata versions of a resource ordered by From;
// ErrNotFound when the resource does not exist.
func (db *DB) History(ctx context.Context, resourceID string) ([]Version, error) {
	out, gen, ok := db.hist.get(resourceID)
	if ok {
		return out, nil
	}
	out, err := db.loadHistory(ctx, resourceID)
	if err != nil {
		return nil, fmt.Errorf("metadata history: %w", err)
	}
	db.hist.put(resourceID, gen, out)
	return out, nil
}

// sqlHistory reads a resource and its metadata versions in one statement:
// one snapshot without a transaction's BEGIN and ROLLBACK round trips. A
// resource without versions answers one row of NULLs; an unknown one none.
const sqlHistory = `SELECT v.from_ns, v.to_ns, v.metadata FROM resource r
	LEFT JOIN metadata_version v ON v.rid = r.id
	WHERE r.resource_id = ? ORDER BY v.from_ns`

// loadHistory is History's read of the database.
func (db *DB) loadHistory(ctx context.Context, resourceID string) ([]Version, error) {
	st, release, err := db.readStmt(ctx, sqlHistory)
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := st.QueryContext(ctx, resourceID)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	found := false
	out := []Version{}
	for rows.Next() {
		found = true
		var from, to sql.NullInt64
		var md sql.NullString
		if err := rows.Scan(&from, &to, &md); err != nil {
			return nil, err
		}
		if !from.Valid {
			continue // the resource has no versions
		}
		v := Version{From: fromNanos(from.Int64)}
		if to.Valid {
			v.To = fromNanos(to.Int64)
		}
		if err := json.Unmarshal([]byte(md.String), &v.Metadata); err != nil {
			return nil, fmt.Errorf("decode metadata: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("resource %q: %w", resourceID, ErrNotFound)
	}
	return out, nil
}

// Interval is a time interval [From, To); To zero means open-ended.
type Interval struct {
	From, To time.Time
}

// MatchingIntervals returns, per resource_id, the time intervals in which
// the resource's metadata had every given value (adjacent intervals are
// joined). With no resourceIDs it considers every resource; resources that
// never matched (or do not exist) are left out. With no metadata every
// resource matches over its whole history.
func (db *DB) MatchingIntervals(ctx context.Context, resourceIDs []string, metadata map[string]string) (map[string][]Interval, error) {
	keys := slices.Sorted(maps.Keys(metadata))
	out := make(map[string][]Interval)
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		var rows *sql.Rows
		var err error
		switch {
		case len(resourceIDs) > 0:
			b, jerr := json.Marshal(resourceIDs)
			if jerr != nil {
				return jerr
			}
			rows, err = db.query(ctx, tx, `SELECT id, resource_id FROM resource
WHERE resource_id IN (SELECT value FROM json_each(?))`, string(b))
		case len(keys) > 0:
			rows, err = db.query(ctx, tx, `SELECT r.id, r.resource_id FROM metadata_kv k
JOIN resource r ON r.id = k.rid WHERE k.key = ? AND k.value = ?`, keys[0], metadata[keys[0]])
		default:
			rows, err = db.query(ctx, tx, `SELECT id, resource_id FROM resource`)
		}
		if err != nil {
			return err
		}
		names := make(map[int64]string)
		var ids []int64
		for rows.Next() {
			var id int64
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				_ = rows.Close()
				return err
			}
			names[id] = name
			ids = append(ids, id)
		}
		_ = rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		rows, err = db.query(ctx, tx, `SELECT rid, from_ns, to_ns, metadata FROM metadata_version
WHERE rid IN (SELECT value FROM json_each(?)) ORDER BY rid, from_ns`, idsJSON(ids))
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		for rows.Next() {
			var rid, from int64
			var to sql.NullInt64
			var js string
			if err := rows.Scan(&rid, &from, &to, &js); err != nil {
				return err
			}
			var md map[string]string
			if err := json.Unmarshal([]byte(js), &md); err != nil {
				return fmt.Errorf("decode metadata: %w", err)
			}
			if !matches(md, metadata) {
				continue
			}
			iv := Interval{From: fromNanos(from)}
			if to.Valid {
				iv.To = fromNanos(to.Int64)
			}
			name := names[rid]
			if ivs := out[name]; len(ivs) > 0 && ivs[len(ivs)-1].To.Equal(iv.From) {
				ivs[len(ivs)-1].To = iv.To
				continue
			}
			out[name] = append(out[name], iv)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("matching intervals: %w", err)
	}
	return out, nil
}

func matches(md, want map[string]string) bool {
	for k, v := range want {
		if got, ok := md[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func idsJSON(ids []int64) string {
	b := make([]byte, 0, 12*len(ids)+2)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

// ExpireResources deletes the resources whose last sample is older than
// before, with their meters and metadata history, and returns how many
// resources it deleted.
func (db *DB) ExpireResources(ctx context.Context, before time.Time) (int64, error) {
	if before.IsZero() {
		return 0, nil
	}
	cut := bound(before, 0)
	db.wmu.Lock()
	defer db.wmu.Unlock()
	var gone []string
	var n int64
	err := db.writeTxHist(ctx, func() ([]string, bool) { return gone, false }, func(tx *sql.Tx) error {
		if err := db.updateTimes(&txStmts{ctx: ctx, tx: tx, ws: &db.ws}, db.appendSpans(nil, nil)); err != nil {
			return fmt.Errorf("write resource times: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT r.resource_id FROM resource r JOIN resource_span s ON s.id = r.id WHERE s.last_ns < ?`, cut)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				_ = rows.Close()
				return err
			}
			gone = append(gone, id)
		}
		_ = rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM resource_meter WHERE rid IN (SELECT id FROM resource_span WHERE last_ns < ?)`,
			`DELETE FROM metadata_kv WHERE rid IN (SELECT id FROM resource_span WHERE last_ns < ?)`,
			`DELETE FROM metadata_version WHERE rid IN (SELECT id FROM resource_span WHERE last_ns < ?)`,
			`DELETE FROM resource WHERE id IN (SELECT id FROM resource_span WHERE last_ns < ?)`,
		} {
			if _, err := tx.ExecContext(ctx, q, cut); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM resource_span WHERE last_ns < ?`, cut)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("expire resources before %s: %w", before.Format(time.RFC3339), err)
	}
	clear(db.spans)
	for _, id := range gone {
		delete(db.resources, id)
	}
	if n > 0 {
		db.log.Debug("resources expired", "count", n, "before", before)
	}
	return n, nil
}
