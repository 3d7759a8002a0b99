// Command accumulator is the "accumulator" transformer plugin, after
// Ceilometer's TransformerAccumulator (Pike to Rocky): it holds the samples
// its meters take until it has size of them, then lets them all go on at
// once, so the publishers after it see fewer, larger batches. The host's
// Flush (shutdown, reload) lets go of whatever it holds. What it holds is
// lost if its process dies.
//
// It imports only the SDK and the shared internal/xform; it never imports
// the host.
package main
