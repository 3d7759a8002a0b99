// Package wire converts between the Go types of package sample and the
// generated protobuf messages. Plugin authors never need it; the SDK's gRPC
// glue and the host do. It must not import the host.
package wire
