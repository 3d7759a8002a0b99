package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// The write statements, prepared once on the writer connection.
const (
	sqlResGet = `SELECT r.id, r.project_id, r.user_id, r.source, s.first_ns, s.last_ns, r.cur_from_ns, r.cur_hash
FROM resource r JOIN resource_span s ON s.id = r.id WHERE r.resource_id = ?`
	sqlResMeters = `SELECT name, type, unit FROM resource_meter WHERE rid = ? ORDER BY name, type, unit`
	sqlResInsert = `INSERT INTO resource
(resource_id, project_id, user_id, source, cur_from_ns, cur_hash, metadata)
VALUES (?, ?, ?, ?, ?, ?, ?)`
	sqlSpanInsert     = `INSERT INTO resource_span (id, first_ns, last_ns) VALUES (?, ?, ?)`
	sqlResUpdateAttrs = `UPDATE resource SET project_id = ?, user_id = ?, source = ? WHERE id = ?`
	sqlResUpdateCur   = `UPDATE resource SET cur_from_ns = ?, cur_hash = ?, metadata = ? WHERE id = ?`
	sqlMeterInsert    = `INSERT OR IGNORE INTO resource_meter (rid, name, type, unit) VALUES (?, ?, ?, ?)`
	sqlVerClose       = `UPDATE metadata_version SET to_ns = ?, seen_ns = ? WHERE rid = ? AND from_ns = ?`
	sqlVerInsert      = `INSERT INTO metadata_version (rid, from_ns, to_ns, seen_ns, hash, metadata) VALUES (?, ?, ?, ?, ?, ?)`
	sqlVerLoad        = `SELECT from_ns, to_ns, seen_ns, hash, metadata FROM metadata_version WHERE rid = ? ORDER BY from_ns`
	sqlVerDelete      = `DELETE FROM metadata_version WHERE rid = ?`
	sqlKVInsert       = `INSERT OR IGNORE INTO metadata_kv (key, value, rid) VALUES (?, ?, ?)`

	sqlTypeGet    = `SELECT id FROM event_type WHERE name = ?`
	sqlTypeInsert = `INSERT INTO event_type (name) VALUES (?)`
)

type stmtID int

const (
	stResGet stmtID = iota
	stResMeters
	stResInsert
	stSpanInsert
	stResUpdateAttrs
	stResUpdateCur
	stMeterInsert
	stVerClose
	stVerInsert
	stVerLoad
	stVerDelete
	stKVInsert
	stTypeGet
	stTypeInsert
	numStmts
)

var writeSQL = [numStmts]string{
	stResGet:         sqlResGet,
	stResMeters:      sqlResMeters,
	stResInsert:      sqlResInsert,
	stSpanInsert:     sqlSpanInsert,
	stResUpdateAttrs: sqlResUpdateAttrs,
	stResUpdateCur:   sqlResUpdateCur,
	stMeterInsert:    sqlMeterInsert,
	stVerClose:       sqlVerClose,
	stVerInsert:      sqlVerInsert,
	stVerLoad:        sqlVerLoad,
	stVerDelete:      sqlVerDelete,
	stKVInsert:       sqlKVInsert,
	stTypeGet:        sqlTypeGet,
	stTypeInsert:     sqlTypeInsert,
}

// writeStmts are the statements prepared on the writer connection.
type writeStmts [numStmts]*sql.Stmt

func (ws *writeStmts) prepare(ctx context.Context, w *sql.DB) error {
	for i, q := range writeSQL {
		s, err := w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		ws[i] = s
	}
	return nil
}

func (ws *writeStmts) close() error {
	var errs []error
	for i, s := range ws {
		if s != nil {
			errs = append(errs, s.Close())
			ws[i] = nil
		}
	}
	return errors.Join(errs...)
}

// txStmts binds the write statements to one transaction, lazily.
type txStmts struct {
	ctx context.Context
	tx  *sql.Tx
	ws  *writeStmts
	b   [numStmts]*sql.Stmt
	// versions counts the statements that wrote metadata_version.
	versions int
}

func (t *txStmts) get(id stmtID) *sql.Stmt {
	if t.b[id] == nil {
		t.b[id] = t.tx.StmtContext(t.ctx, t.ws[id])
	}
	return t.b[id]
}

func (t *txStmts) exec(id stmtID, args ...any) (sql.Result, error) {
	switch id {
	case stVerClose, stVerInsert, stVerDelete:
		t.versions++
	}
	return t.get(id).ExecContext(t.ctx, args...)
}

func (t *txStmts) query(id stmtID, args ...any) (*sql.Rows, error) {
	return t.get(id).QueryContext(t.ctx, args...)
}

func (t *txStmts) queryRow(id stmtID, args ...any) *sql.Row {
	return t.get(id).QueryRowContext(t.ctx, args...)
}

// multiRow is one statement shape that carries many rows, such as a
// multi-row INSERT or an UPDATE ... FROM (VALUES ...): head, then n groups
// of cols placeholders, then tail, prepared on the writer connection for
// each power of two n up to max. A statement per power of two of rows
// costs less than a statement per row. (They are prepared at Open: the
// writer pool has one connection, which a transaction holds.)
type multiRow struct {
	cols, max int
	stmts     map[int]*sql.Stmt
}

func prepareMultiRow(ctx context.Context, w *sql.DB, head, tail string, cols, maxRows int) (*multiRow, error) {
	m := &multiRow{cols: cols, max: maxRows, stmts: make(map[int]*sql.Stmt)}
	for n := 1; n <= maxRows; n *= 2 {
		q := multiRowSQL(head, tail, cols, n)
		s, err := w.PrepareContext(ctx, q)
		if err != nil {
			_ = m.close()
			return nil, fmt.Errorf("prepare %d rows of %q: %w", n, head, err)
		}
		m.stmts[n] = s
	}
	return m, nil
}

func multiRowSQL(head, tail string, cols, n int) string {
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	var q strings.Builder
	q.WriteString(head)
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(row)
	}
	q.WriteString(tail)
	return q.String()
}

// exec runs the statement on args, cols values per row, in statements of
// decreasing powers of two of rows, and returns the rows they changed.
func (m *multiRow) exec(ts *txStmts, args []any) (int64, error) {
	if len(args)%m.cols != 0 {
		return 0, fmt.Errorf("%d values for rows of %d", len(args), m.cols)
	}
	var changed int64
	for len(args) > 0 {
		n := m.max
		for n*m.cols > len(args) {
			n /= 2
		}
		res, err := ts.tx.StmtContext(ts.ctx, m.stmts[n]).ExecContext(ts.ctx, args[:n*m.cols]...)
		if err != nil {
			return 0, err
		}
		c, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		changed += c
		args = args[n*m.cols:]
	}
	return changed, nil
}

func (m *multiRow) close() error {
	if m == nil {
		return nil
	}
	var errs []error
	for _, s := range m.stmts {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// The multi-row statements.
const (
	// maxTimesBatch is the largest number of rows one times update carries.
	maxTimesBatch = 256
	timesHead     = "UPDATE resource_span SET first_ns = v.column2, last_ns = v.column3 FROM (VALUES "
	timesTail     = ") AS v WHERE resource_span.id = v.column1"
	// maxEventBatch is the largest number of events one insert carries
	// (eventCols values each). INSERT OR IGNORE: a stored message_id, or
	// one earlier in the batch, is skipped.
	maxEventBatch = 128
	eventCols     = 6
	eventHead     = "INSERT OR IGNORE INTO event (message_id, event_type_id, generated_ns, project_id, traits, raw) VALUES "
)

// prepareMulti prepares the multi-row statements.
func (db *DB) prepareMulti(ctx context.Context) error {
	var err error
	if db.times, err = prepareMultiRow(ctx, db.w, timesHead, timesTail, 3, maxTimesBatch); err != nil {
		return fmt.Errorf("times update: %w", err)
	}
	if db.events, err = prepareMultiRow(ctx, db.w, eventHead, "", eventCols, maxEventBatch); err != nil {
		return fmt.Errorf("event insert: %w", err)
	}
	return nil
}

// updateTimes writes the sample times of rows, [id, first, last] each.
func (db *DB) updateTimes(ts *txStmts, rows []int64) error {
	args := make([]any, len(rows))
	for i, v := range rows {
		args[i] = v
	}
	_, err := db.times.exec(ts, args)
	return err
}
