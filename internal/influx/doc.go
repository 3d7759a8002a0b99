// Package influx converts between Influx line protocol and samples, for the
// plugins that speak it (listener.socket reads it, publisher.file writes it).
// Parsing is done by github.com/influxdata/line-protocol/v2; writing is done
// by hand (the bytes that encoder writes, checked against it by a
// differential test and fuzz target); this package owns the mapping:
//
//   - measurement and field give the sample name: "<measurement>" when the
//     field is called "value", "<measurement>.<field>" otherwise; one line
//     with several numeric fields gives one sample per field;
//   - int, uint and float fields become the volume, bool fields 1 or 0;
//     string fields are skipped;
//   - the tags resource_id, project_id, user_id, source, unit and type
//     (gauge, delta or cumulative; gauge when absent) fill those sample
//     fields, every other tag is resource metadata;
//   - the timestamp is read at a configurable precision; a line without one
//     is stamped with the decode time.
//
// The samples of one Decode share their repeated strings, and consecutive
// lines with the same tags (a series) one Metadata map: it is read-only.
//
// Encode writes the inverse: measurement = sample name, one field "value",
// the reserved tags plus metadata as tags, and a nanosecond timestamp.
// MessageID, MonotonicTime and Signature have no place in the line and are
// not written; neither are empty tag values (line protocol has none).
//
// Package influx must not import host packages; it is internal to plugins.
package influx
