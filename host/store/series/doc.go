// Package series is the time-series engine of Altimeter's embedded store:
// samples of each series (meter, type, unit, resource, project, user,
// source) in Pebble, packed into compressed chunks per series and time
// window, and roll-ups per archive policy kept per meter, per (meter,
// project) and, for the archives that outlive raw retention, per series.
//
// Layout (one Pebble keyspace, keys ordered by series then time):
//
//	k ID                 series key (catalog)
//	n ID                 packed samples' first, last, count; newest time seen
//	g ID                 roll-up scope: meter or (meter, project)
//	h ID T msgid         head sample, not yet packed: value, epoch
//	c ID window          packed chunk of one window (package chunk)
//	e epoch              record time of the samples of one write
//	i 2 uuid project | i 3 len id project
//	                     message id in a project -> (ID, T), for non-empty
//	                     ids only (keys.go; i 0 / i 1 legacy, migrated at open)
//	r ID gran bucket     roll-up bucket (Agg, merged by a Pebble merge operator)
//
// Write puts new samples as head keys, their message ids, the record time
// of the write and the deltas of the meter and (meter, project) roll-ups in
// one synced Pebble batch; concurrent writes share a batch (group commit).
// Once a window can no longer receive samples (the series moved OutOfOrder
// past its end, or the wall clock did) its head samples are packed into the
// window's chunk, merged with the chunk already there, in one atomic batch.
// Reads merge chunks and head keys from one Pebble snapshot.
//
// Samples store the epoch of their write rather than its record time: the
// epochs of one series' samples advance regularly, so the chunk codes them
// in about a bit, and the time is read from e|epoch when a sample is read.
//
// Per-series roll-ups hold exactly the samples raw retention removed (Retain
// adds them on the way out), so a series pays no roll-up space while its raw
// samples exist and Stats answers one series from raw samples plus those
// roll-ups. Meter and (meter, project) roll-ups are written with the samples.
//
// A commit that fails (a full disk makes Pebble's commit pipeline unusable)
// breaks the DB: writes are refused until it reopens itself, and writes are
// refused at once while Pebble stalls them because its flushes fail for
// lack of space (fail.go). Close cancels the reads in flight and waits for
// them before it closes Pebble.
//
// The package must not import the store facade (host/store), the API or
// anything of the pipeline.
package series
