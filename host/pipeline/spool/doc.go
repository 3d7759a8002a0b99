// Package spool is a publisher's durable queue: an append-only log of
// records (one record per batch) in segment files under one directory,
// bounded by bytes, read from the head and trimmed once delivered.
//
// On disk: segment files named after the sequence number of their first
// record (00000000000000000001.seg), each a run of records
//
//	u32 payload length | u32 CRC-32C of the rest | u64 seq | i64 enqueued (unix ns) | u32 items | payload
//
// (little endian), and a cursor file holding the last delivered sequence
// number with its CRC. Append writes a record with one write call and, by
// default, fsyncs before returning, so an appended record survives a crash
// of the process or the machine; with a sync interval, records written
// since the last sync may be lost with the machine (never with the
// process: the page cache survives SIGKILL). The cursor is written, not
// synced, on each Ack: a crash can only make the queue replay records that
// were delivered, so delivery is at least once and a consumer that
// deduplicates by message id sees each sample once.
//
// Open checks every record. A torn or corrupt tail (a crash in the middle
// of a write, a full disk) is cut off: the valid prefix stays and the rest
// is moved aside to <segment>.torn-<unix time>, named in a log line.
//
// The package knows nothing of samples or plugins; it must not import other
// host packages.
package spool
