// Package sdk is what an Altimeter plugin author imports: the handshake and
// protocol version shared with the host. The plugin kinds live in the
// sub-packages pollster, listener, transformer and publisher; the Go types
// for samples and events in sample; config schemas in schema; and sdktest
// runs a plugin in a test over real gRPC.
//
// A transformer may also implement transformer.RawTransformer: it then
// receives each batch as its encoded bytes and returns encoded bytes, which
// spares the SDK decoding the batch into samples and encoding the result;
// package wire has the allocation-free views and appenders it uses.
//
// sdk never imports the host (a test in this module enforces it) and keeps
// its dependencies small: go-plugin, gRPC, protobuf, hclog and hcl/cty.
package sdk
