package index

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
)

// migrations are applied in order, each once, recorded in schema_migrations.
// Append only: never edit a released migration.
//
// Indexes and the queries they serve:
//   - resource(resource_id) UNIQUE: lookups by id, the resource listing in
//     resource_id order and its marker (resource_id > ?).
//   - resource_project, resource_user: listings filtered by project or user,
//     still in resource_id order. A source filter walks resource_id order
//     (sources are few and rarely filtered on; one index less to write).
//   - resource_span holds the sample times apart from the wide resource
//     row, so an update of last_ns rewrites few pages; it has no index on
//     last_ns (ExpireResources scans it, rarely), so that update maintains
//     no index. The times are written lazily (spans.go), not per batch.
//   - resource_meter PK (rid, name, type, unit): a resource's meters;
//     resource_meter_name (name, rid): listings filtered by meter.
//   - metadata_version PK (rid, from_ns): History and MatchingIntervals.
//   - metadata_kv PK (key, value, rid): which resources ever had a metadata
//     value, one row per distinct (key, value, resource) whatever the number
//     of versions, so a metadata change that revisits a value writes nothing
//     there. The latest-metadata filter probes it per resource before it
//     checks the current metadata (JSON); MatchingIntervals without ids
//     scans the (key, value) prefix for candidates. Rows are never removed
//     but with their resource (ExpireResources scans the table, rarely): a
//     stale row only makes a candidate that the exact check drops.
//   - event(message_id) UNIQUE: dedup and the marker lookup.
//   - event_generated (generated_ns, message_id): time ranges, order, markers.
//   - event_type_generated (event_type_id, generated_ns): type filters,
//     EventTypes and TraitDescriptions, orphan type cleanup.
//   - event_project (project_id, generated_ns): project scoping.
//   - event.traits (version 2) holds an event's traits packed (traits.go),
//     with no index of its own: trait conditions are checked on the rows
//     the other conditions select (Events), and the trait listings read
//     the rows of the event type (TraitDescriptions, Traits). Version 1
//     kept a row per trait in a trait table, PK (event_id, name), with a
//     partial index trait_text (name, t_text): about 40 B-tree inserts per
//     event, most of the agent's CPU on the notification path.
var migrations = []migration{
	1: {sql: `
CREATE TABLE resource (
	id          INTEGER PRIMARY KEY,
	resource_id TEXT    NOT NULL UNIQUE,
	project_id  TEXT    NOT NULL,
	user_id     TEXT    NOT NULL,
	source      TEXT    NOT NULL,
	cur_from_ns INTEGER NOT NULL, -- from_ns of the open metadata version
	cur_hash    INTEGER NOT NULL, -- its metadata hash
	metadata    TEXT    NOT NULL  -- its metadata, JSON object
);
-- The sample times of each resource (id = resource.id), kept narrow because
-- every batch updates them.
CREATE TABLE resource_span (
	id       INTEGER PRIMARY KEY,
	first_ns INTEGER NOT NULL,
	last_ns  INTEGER NOT NULL
);

CREATE INDEX resource_project ON resource (project_id, resource_id);
CREATE INDEX resource_user    ON resource (user_id, resource_id);

CREATE TABLE resource_meter (
	rid  INTEGER NOT NULL,
	name TEXT    NOT NULL,
	type TEXT    NOT NULL,
	unit TEXT    NOT NULL,
	PRIMARY KEY (rid, name, type, unit)
) WITHOUT ROWID;
CREATE INDEX resource_meter_name ON resource_meter (name, rid);

CREATE TABLE metadata_version (
	rid      INTEGER NOT NULL,
	from_ns  INTEGER NOT NULL,
	to_ns    INTEGER,          -- NULL: the open (current) version
	seen_ns  INTEGER NOT NULL, -- see version.seen; unused for the open version
	hash     INTEGER NOT NULL,
	metadata TEXT    NOT NULL, -- JSON object
	PRIMARY KEY (rid, from_ns)
) WITHOUT ROWID;

CREATE TABLE metadata_kv (
	key   TEXT    NOT NULL,
	value TEXT    NOT NULL,
	rid   INTEGER NOT NULL,
	PRIMARY KEY (key, value, rid)
) WITHOUT ROWID;

CREATE TABLE event_type (
	id   INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE
);

CREATE TABLE event (
	id            INTEGER PRIMARY KEY,
	message_id    TEXT    NOT NULL UNIQUE,
	event_type_id INTEGER NOT NULL,
	generated_ns  INTEGER NOT NULL,
	project_id    TEXT    NOT NULL,
	raw           BLOB
);
CREATE INDEX event_generated      ON event (generated_ns, message_id);
CREATE INDEX event_type_generated ON event (event_type_id, generated_ns);
CREATE INDEX event_project        ON event (project_id, generated_ns);

CREATE TABLE trait (
	event_id   INTEGER NOT NULL,
	name       TEXT    NOT NULL,
	type       INTEGER NOT NULL,
	t_text     TEXT,
	t_int      INTEGER,
	t_float    REAL,
	t_datetime INTEGER,
	PRIMARY KEY (event_id, name)
) WITHOUT ROWID;
CREATE INDEX trait_text ON trait (name, t_text) WHERE t_text IS NOT NULL;
`},
	// The traits move into the event row, packed; the trait table goes.
	2: {sql: `ALTER TABLE event ADD COLUMN traits BLOB; -- NULL: no traits`, fn: packTraitTable},
	// The index's own state: spans_clean (spans.go) is 1 when the last
	// process wrote every resource's sample times before it closed.
	3: {sql: `CREATE TABLE index_state (
	name  TEXT    PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;`},
}

// migration is one schema version: sql, then fn when set, in one
// transaction.
type migration struct {
	sql string
	fn  func(ctx context.Context, tx *sql.Tx) error
}

// SchemaVersion is the schema version this package writes.
const SchemaVersion = 3

// packTraitTable (migration 2) packs the rows of the version 1 trait table
// into their events' traits column and drops the table. A float stored as
// NULL (a NaN) stays a NaN, which reads back as 0 and compares to nothing,
// as the NULL did.
func packTraitTable(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT event_id, name, type, t_text, t_int, t_float, t_datetime
FROM trait ORDER BY event_id, name`)
	if err != nil {
		return fmt.Errorf("read traits: %w", err)
	}
	defer func() { _ = rows.Close() }()
	upd, err := tx.PrepareContext(ctx, `UPDATE event SET traits = ? WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer func() { _ = upd.Close() }()
	var (
		cur int64 = -1
		trs []sample.Trait
		buf []byte
		pk  packer
	)
	flush := func() error {
		if cur < 0 {
			return nil
		}
		buf = pk.appendPacked(buf[:0], trs)
		if _, err := upd.ExecContext(ctx, buf, cur); err != nil {
			return fmt.Errorf("event row %d: %w", cur, err)
		}
		return nil
	}
	for rows.Next() {
		var id, typ int64
		var name string
		var text sql.NullString
		var integer, datetime sql.NullInt64
		var float sql.NullFloat64
		if err := rows.Scan(&id, &name, &typ, &text, &integer, &float, &datetime); err != nil {
			return fmt.Errorf("read traits: %w", err)
		}
		if id != cur {
			if err := flush(); err != nil {
				return err
			}
			cur, trs = id, trs[:0]
		}
		tr := sample.Trait{Name: name, Type: sample.TraitType(typ)}
		switch tr.Type {
		case sample.TraitText:
			tr.Text = text.String
		case sample.TraitInt:
			tr.Int = integer.Int64
		case sample.TraitFloat:
			tr.Float = float.Float64
			if !float.Valid {
				tr.Float = math.NaN()
			}
		case sample.TraitDatetime:
			tr.Datetime = fromNanos(datetime.Int64)
		default:
			return fmt.Errorf("event row %d: trait %q of unknown type %d", id, name, typ)
		}
		trs = append(trs, tr)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read traits: %w", err)
	}
	if err := flush(); err != nil {
		return err
	}
	_ = rows.Close()
	if _, err := tx.ExecContext(ctx, `DROP TABLE trait`); err != nil {
		return fmt.Errorf("drop the trait table: %w", err)
	}
	return nil
}

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_ns INTEGER NOT NULL
)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var have int
	if err := db.w.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if have > SchemaVersion {
		return fmt.Errorf("schema version %d is newer than this binary's %d", have, SchemaVersion)
	}
	for v := have + 1; v <= SchemaVersion; v++ {
		err := db.writeTx(ctx, func(tx *sql.Tx) error {
			m := migrations[v]
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			if m.fn != nil {
				if err := m.fn(ctx, tx); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_ns) VALUES (?, ?)`, v, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", v, err)
		}
		db.log.Info("index schema migrated", "version", v)
	}
	return nil
}
