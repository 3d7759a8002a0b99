// Package wire converts between the Go types of package sample and the
// generated protobuf messages, and moves batches between package sample's
// types and protobuf bytes directly: Decoder, AppendBatch, and Codec, the
// plugin server's gRPC codec. The SDK's gRPC glue and the host use it; a
// plugin author needs it only for a transformer.RawTransformer, which reads
// and writes batches in their encoded form with BatchView, SampleView,
// AppendSample and AppendDerived (a SampleView's strings alias the batch's
// bytes and are valid only during the call). It must not import the host.
package wire
