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
// host's archive) is checked and split off on arrival: Notifications
// returns the encoded messages (DecodeNotifications decodes them for the
// archive) and Bytes no longer holds them, so they never reach a sink.
//
// Decoder decodes a Batch into package sample's types for the one host
// component that looks inside (the store publisher), through the sdk's
// wire.Decoder: samples and events without protobuf's generated messages in
// between, and with the strings that repeat from item to item interned.
// FuzzDecoder holds it to protobuf's result.
//
// A received Delivery without a batch field has a nil Batch: that is the
// listener's ready marker (id 0, no batch), told apart from an empty batch.
package rawbatch
