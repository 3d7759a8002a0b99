// Package rawbatch carries sample batches through the host in their encoded
// form. The host forwards what a listener or pollster produced to
// transformers and publishers without decoding it: a Batch is the bytes of
// an altimeter.v1.Batch message, checked once on arrival (Parse) against
// the message's wire structure, with its sample and event counts.
//
// Codec is the gRPC codec the host's plugin clients force on their calls:
// it sends a Batch as its bytes behind a field header (no marshal) and hands
// a received batch over after one copy and a check (no unmarshal). Every
// other message goes through the ordinary proto codec. Plugins see ordinary
// protobuf on the wire; nothing changes for them.
//
// Parse refuses any input that the proto decoder would refuse (fuzzed in
// FuzzParse) and a known field with the wrong wire type, so a malformed
// batch from a plugin stops at the host with an error rather than reaching
// the next plugin.
//
// Batch field 3 (notifications, a listener's raw notifications for the
// host's archive, added on main while this package was written) is checked
// and split off on arrival: Notifications returns the encoded messages and
// Bytes no longer holds them, so they never reach a sink.
package rawbatch
