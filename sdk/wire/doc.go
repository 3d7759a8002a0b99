// Package wire converts between the Go types of package sample and the
// generated protobuf messages, and moves batches between package sample's
// types and protobuf bytes directly: Decoder, AppendBatch, and Codec, the
// plugin server's gRPC codec. Plugin authors never need it; the SDK's gRPC
// glue and the host do. It must not import the host.
package wire
