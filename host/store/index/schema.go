package index

import (
	"context"
	"database/sql"
	"fmt"
	"time"
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
//     row, so the per-batch update of last_ns rewrites few pages; it has no
//     index on last_ns (ExpireResources scans it, rarely), so that update
//     maintains no index.
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
//   - trait PK (event_id, name): an event's traits, trait filters probed per
//     event; trait_text (name, t_text), partial (text traits only, so
//     other traits cost no index entry): text trait conditions, as a
//     covering probe per event or driving the query.
var migrations = []string{
	1: `
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
`,
}

// SchemaVersion is the schema version this package writes.
const SchemaVersion = 1

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
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return err
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
