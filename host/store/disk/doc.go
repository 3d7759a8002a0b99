// Package disk keeps the embedded store off a full file system: a Guard
// that refuses new writes while the file system holding the data dir has
// less free space than a configured minimum, and the classification of the
// engines' out-of-space errors (ENOSPC, EDQUOT, SQLite's SQLITE_FULL) as
// ErrNoSpace.
//
// The minimum matters because Pebble cannot survive running out of space:
// a failed WAL write or sync leaves its commit pipeline unusable until the
// engine is reopened, and a failed MANIFEST write during a flush or
// compaction is fatal to the process. Below the minimum, flushes,
// compactions and the WAL of the writes already under way still have room.
//
// The package imports neither the engines nor the store facade; both
// engines (host/store/series, host/store/index) and the facade import it.
package disk
