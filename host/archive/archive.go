package archive

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/klauspost/compress/zstd"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/altimeter/altimeter/sdk/sample"
)

// Limits of the archive.
const (
	// MaxLimit is the most rows one List returns.
	MaxLimit = 10000
	// maxRawBytes bounds what one stored body decompresses to.
	maxRawBytes = 256 << 20
	// expireBatch is how many rows one Expire statement deletes at most.
	expireBatch = 5000
	// maxFieldBytes bounds an indexed field; longer values are cut.
	maxFieldBytes = 255
)

const schema = `
CREATE TABLE IF NOT EXISTS notifications (
	seq          INTEGER PRIMARY KEY,
	message_id   TEXT NOT NULL UNIQUE,
	event_type   TEXT NOT NULL,
	priority     TEXT NOT NULL,
	publisher_id TEXT NOT NULL,
	host         TEXT NOT NULL,
	ts           INTEGER NOT NULL,
	request_id   TEXT NOT NULL,
	project_id   TEXT NOT NULL,
	user_id      TEXT NOT NULL,
	resource_id  TEXT NOT NULL,
	reason       TEXT NOT NULL,
	expires      INTEGER NOT NULL,
	raw_size     INTEGER NOT NULL,
	raw          BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_request  ON notifications(request_id, ts);
CREATE INDEX IF NOT EXISTS notifications_type     ON notifications(event_type, ts);
CREATE INDEX IF NOT EXISTS notifications_ts       ON notifications(ts);
CREATE INDEX IF NOT EXISTS notifications_project  ON notifications(project_id, ts);
CREATE INDEX IF NOT EXISTS notifications_resource ON notifications(resource_id, ts);
CREATE INDEX IF NOT EXISTS notifications_expires  ON notifications(expires);
`

// DB is the archive. Safe for concurrent use.
type DB struct {
	log  hclog.Logger
	path string
	w    *sql.DB // one connection: writes are serialised
	r    *sql.DB // query-only connections
	enc  *zstd.Encoder
	dec  *zstd.Decoder

	closeOnce sync.Once
	closeErr  error
}

// Entry is one archived notification as read back. Raw is set only when
// asked for.
type Entry struct {
	sample.Notification
	// StoredBytes is the compressed size of Raw on disk.
	StoredBytes int
	// RawBytes is the size of Raw.
	RawBytes int
}

// Open opens or creates the archive at path.
//
// Durability: WAL with synchronous=NORMAL, so a committed Put survives a
// crash of the process (the case the broker ack depends on); on power loss
// the last commits since a checkpoint may be lost, and the broker's
// redeliveries of what was not acked restore nothing of those, which is the
// accepted price of not fsyncing every batch.
func Open(ctx context.Context, path string, log hclog.Logger) (*DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open archive %q: %w: path must be a plain file name without ? or #", path, ErrInvalid)
	}
	const common = "?_pragma=busy_timeout(10000)&_pragma=temp_store(memory)&_pragma=cache_size(-16000)"
	w, err := sql.Open("sqlite", path+common+"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open archive %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if _, err := w.ExecContext(ctx, schema); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open archive %s: create schema: %w", path, err)
	}
	r, err := sql.Open("sqlite", path+common+"&_pragma=query_only(1)")
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open archive %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, fmt.Errorf("open archive: zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxRawBytes), zstd.WithDecoderConcurrency(0))
	if err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, fmt.Errorf("open archive: zstd decoder: %w", err)
	}
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &DB{log: log, path: path, w: w, r: r, enc: enc, dec: dec}, nil
}

// Close closes the archive; safe to call more than once.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.dec.Close()
		// Refresh the planner's statistics where stale (cheap; see
		// https://sqlite.org/pragma.html#pragma_optimize).
		if _, err := db.w.Exec(`PRAGMA optimize`); err != nil {
			db.log.Warn("optimize archive on close", "error", err)
		}
		db.closeErr = errors.Join(db.enc.Close(), db.r.Close(), db.w.Close())
	})
	return db.closeErr
}

// HostOf returns the host part of an oslo publisher_id ("compute.host1" is
// host1), or "" when it has none.
func HostOf(publisherID string) string {
	if _, h, ok := strings.Cut(publisherID, "."); ok {
		return h
	}
	return ""
}

func cut(s string) string {
	if len(s) > maxFieldBytes {
		return s[:maxFieldBytes]
	}
	return s
}

// Put archives ns in one transaction, durable when Put returns nil. A
// message_id already archived is skipped; a notification without one is
// an error (nothing of the call is stored).
func (db *DB) Put(ctx context.Context, ns []sample.Notification) error {
	if len(ns) == 0 {
		return nil
	}
	for i := range ns {
		if ns[i].MessageID == "" {
			return fmt.Errorf("archive notification %d: %w: empty message_id", i, ErrInvalid)
		}
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("archive: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	st, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO notifications
		(message_id, event_type, priority, publisher_id, host, ts, request_id, project_id, user_id, resource_id, reason, expires, raw_size, raw)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("archive: prepare: %w", err)
	}
	defer func() { _ = st.Close() }()
	var buf []byte
	for i := range ns {
		n := &ns[i]
		host := n.Host
		if host == "" {
			host = HostOf(n.PublisherID)
		}
		buf = db.enc.EncodeAll(n.Raw, buf[:0])
		var exp int64 = 1<<63 - 1
		if !n.Expires.IsZero() {
			exp = n.Expires.UnixNano()
		}
		if _, err := st.ExecContext(ctx, n.MessageID, cut(n.EventType), cut(n.Priority), cut(n.PublisherID), cut(host),
			n.Timestamp.UnixNano(), cut(n.RequestID), cut(n.ProjectID), cut(n.UserID), cut(n.ResourceID), n.Reason,
			exp, len(n.Raw), buf); err != nil {
			return fmt.Errorf("archive %s: %w", n.MessageID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("archive: commit: %w", err)
	}
	return nil
}

// Filter selects archived notifications. Zero fields do not filter.
type Filter struct {
	// Scope confines the result to one project ("" for an admin).
	Scope       string
	MessageID   string
	EventType   string // a glob: '*' matches any run of characters
	Priority    string
	PublisherID string
	Host        string
	RequestID   string
	Project     string
	User        string
	Resource    string
	// Start and End bound the notification's timestamp: Start <= ts < End.
	Start, End time.Time
	// Marker is a message_id: the result starts after it.
	Marker string
	// Limit is the most rows returned; 0 or more than MaxLimit is MaxLimit.
	Limit int
	// Raw asks for the raw bodies too.
	Raw bool
}

// globRE is what an event_type glob may hold.
var globRE = regexp.MustCompile(`^[A-Za-z0-9_.:*-]{1,255}$`)

// MaxGlobStars bounds the wildcards of an event_type glob (here and in
// the events API): SQLite matches each '*' by backtracking, so many of
// them against long event types cost time.
const MaxGlobStars = 4

// ValidGlob reports whether g is an event_type glob List accepts.
func ValidGlob(g string) bool {
	return globRE.MatchString(g) && strings.Count(g, "*") <= MaxGlobStars
}

// List returns the notifications f selects, in timestamp order (ties in
// arrival order).
func (db *DB) List(ctx context.Context, f Filter) ([]Entry, error) {
	var (
		where []string
		args  []any
	)
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	if f.Scope != "" {
		if f.Project != "" && f.Project != f.Scope {
			return nil, nil
		}
		f.Project = f.Scope
	}
	eq("message_id", f.MessageID)
	eq("priority", f.Priority)
	eq("publisher_id", f.PublisherID)
	eq("host", f.Host)
	eq("request_id", f.RequestID)
	if f.MessageID != "" || f.RequestID != "" || f.Resource != "" {
		// A few rows at most: keep the planner on their index, not on
		// the project's (which also gives the order, and tempts it).
		eq("+project_id", f.Project)
	} else {
		eq("project_id", f.Project)
	}
	eq("user_id", f.User)
	eq("resource_id", f.Resource)
	if f.EventType != "" {
		if !ValidGlob(f.EventType) {
			return nil, fmt.Errorf("%w: event_type %q: want letters, digits, '.', '_', ':', '-' and at most %d '*'", ErrInvalid, f.EventType, MaxGlobStars)
		}
		if strings.Contains(f.EventType, "*") {
			where = append(where, "event_type GLOB ?")
		} else {
			where = append(where, "event_type = ?")
		}
		args = append(args, f.EventType)
	}
	if !f.Start.IsZero() {
		where = append(where, "ts >= ?")
		args = append(args, f.Start.UnixNano())
	}
	if !f.End.IsZero() {
		where = append(where, "ts < ?")
		args = append(args, f.End.UnixNano())
	}
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if f.Marker != "" {
		// The marker is looked up within the scope: another project's
		// notification is no marker (nor does its time leak).
		var ts, seq int64
		err := tx.QueryRowContext(ctx, `SELECT ts, seq FROM notifications WHERE message_id = ? AND (? = '' OR project_id = ?)`,
			f.Marker, f.Scope, f.Scope).Scan(&ts, &seq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%w: marker %q: no such notification", ErrInvalid, f.Marker)
		}
		if err != nil {
			return nil, fmt.Errorf("list notifications: marker: %w", err)
		}
		where = append(where, "(ts > ? OR (ts = ? AND seq > ?))")
		args = append(args, ts, ts, seq)
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxLimit {
		limit = MaxLimit
	}
	cols := "message_id, event_type, priority, publisher_id, host, ts, request_id, project_id, user_id, resource_id, reason, expires, raw_size, length(raw)"
	if f.Raw {
		cols += ", raw"
	}
	q := "SELECT " + cols + " FROM notifications"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY ts, seq LIMIT ?"
	args = append(args, limit)
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []Entry
	for rows.Next() {
		var (
			e       Entry
			ts, exp int64
			raw     []byte
		)
		dst := []any{&e.MessageID, &e.EventType, &e.Priority, &e.PublisherID, &e.Host, &ts, &e.RequestID,
			&e.ProjectID, &e.UserID, &e.ResourceID, &e.Reason, &exp, &e.RawBytes, &e.StoredBytes}
		if f.Raw {
			dst = append(dst, &raw)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		e.Timestamp = time.Unix(0, ts).UTC()
		if exp != 1<<63-1 {
			e.Expires = time.Unix(0, exp).UTC()
		}
		if f.Raw {
			if e.Raw, err = db.dec.DecodeAll(raw, nil); err != nil {
				return nil, fmt.Errorf("notification %s: decompress: %w", e.MessageID, err)
			}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return out, nil
}

// Get returns one notification with its raw body, confined to scope ("" for
// an admin): another project's notification is ErrNotFound.
func (db *DB) Get(ctx context.Context, messageID, scope string) (Entry, error) {
	es, err := db.List(ctx, Filter{MessageID: messageID, Scope: scope, Raw: true, Limit: 1})
	if err != nil {
		return Entry{}, err
	}
	if len(es) == 0 {
		return Entry{}, fmt.Errorf("notification %s: %w", messageID, ErrNotFound)
	}
	return es[0], nil
}

// Expire deletes the notifications expired at now, at most max of them
// (0: all), in statements of a bounded size; it returns how many it
// deleted.
func (db *DB) Expire(ctx context.Context, now time.Time, max int) (int, error) {
	total := 0
	for max == 0 || total < max {
		n := expireBatch
		if max > 0 {
			n = min(n, max-total)
		}
		res, err := db.w.ExecContext(ctx, `DELETE FROM notifications WHERE seq IN
			(SELECT seq FROM notifications WHERE expires <= ? LIMIT ?)`, now.UnixNano(), n)
		if err != nil {
			return total, fmt.Errorf("expire notifications: %w", err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("expire notifications: %w", err)
		}
		total += int(k)
		if int(k) < n {
			break
		}
	}
	return total, nil
}

// Run expires notifications every interval until ctx is done.
func (db *DB) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := db.Expire(ctx, time.Now(), 0)
			if err != nil && ctx.Err() == nil {
				db.log.Warn("expire notifications", "error", err)
			} else if n > 0 {
				db.log.Debug("expired notifications", "count", n)
			}
		}
	}
}

// Stats is the size of the archive.
type Stats struct {
	Count       int64
	RawBytes    int64
	StoredBytes int64
}

// Stats counts the archive's notifications and their sizes (a full scan).
func (db *DB) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := db.r.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(raw_size), 0), coalesce(sum(length(raw)), 0) FROM notifications`).
		Scan(&s.Count, &s.RawBytes, &s.StoredBytes)
	if err != nil {
		return s, fmt.Errorf("archive stats: %w", err)
	}
	return s, nil
}
