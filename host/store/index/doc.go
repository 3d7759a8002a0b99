// Package index is the relational half of Altimeter's embedded store: the
// resource index (first and last sample, project, user, source, the meters
// each resource has), the resource metadata history as validity intervals,
// and events with typed traits (Panko semantics). It keeps them in one SQLite
// file through the pure-Go driver modernc.org/sqlite (database/sql, driver
// name "sqlite"), in WAL mode.
//
// The time series themselves live in the series engine; the facade in
// host/store writes samples there first and then calls Upsert with one
// ResourceUpdate per sample (or per distinct resource, meter and time).
// Every write here is idempotent, so the facade can rebuild lost index rows
// by upserting the same samples again.
//
// Events are written in batches, many rows per INSERT, each event's traits
// packed into its row (traits.go): trait conditions are checked on the
// packed form of the rows the other conditions select, after SQLite's
// instr has dropped most of those that cannot match.
//
// Writes are serialised (one writer connection, one write lock); reads use a
// separate pool of query-only connections and see a consistent snapshot per
// call. The package keeps an in-memory cache of each resource's current
// state (row id, first and last sample time, attributes, metadata hash and
// meters), so an update that changes nothing but the sample times costs no
// SQL at all: the times are written lazily, before the reads that need them
// and at Close, and widened from the series engine after a crash
// (spans.go). History's answers
// are cached too (histcache.go), until a write transaction that may change
// a metadata history ends: listings that resolve each row's metadata then
// cost no SQL per resource while only sample times move.
//
// This package must not import host/store (which imports it), host/api,
// host/pipeline or plugins. Its errors are its own (ErrNotFound, ErrInvalid);
// the facade maps them to the store's. A write that fails because the disk
// is full (SQLite's SQLITE_FULL) wraps disk.ErrNoSpace: SQLite rolls the
// transaction back and the same write succeeds once space is back.
package index
