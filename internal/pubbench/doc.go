// Package pubbench measures a publisher plugin against its real peer: it
// publishes batches through the plugin over real gRPC (sdktest), each
// batch waited for until the plugin answers (the peer took it), and
// reports samples/s and the CPU seconds per million samples of this
// process (plugin and host side) and of the peer's process. Benchmarks
// only; it must not be imported by non-test code.
package pubbench
