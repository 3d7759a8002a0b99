// Package archive keeps every notification a listener consumed, raw and
// searchable (StackTach's archive): the notification's JSON text,
// compressed with zstd, and its envelope fields (message_id, event_type,
// priority, publisher_id, host, timestamp, request_id, project, user,
// resource) as indexed columns of one SQLite table, in its own database
// file (archive.db under data_dir) so that archive writes never wait on the
// resource index's write lock, nor it on them.
//
// Put is durable when it returns (a committed SQLite transaction in WAL
// mode survives a crash of the process), which is what lets the pipeline
// answer a listener's delivery, and the listener ack its broker, only
// after the archive has the delivery's notifications. Put is idempotent:
// a message_id already archived is kept as it is (redeliveries cost
// nothing). Each row carries when it expires; Expire deletes the expired
// rows in bounded batches.
//
// This package must not import host/api, host/pipeline, host/store or
// plugins.
package archive
