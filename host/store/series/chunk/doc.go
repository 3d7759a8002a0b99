// Package chunk is the sample codec of the time-series engine: a compressed,
// append-only column block holding one series' samples in time order.
// Timestamps are delta-of-delta coded and values XOR coded as in Gorilla
// (Pelkonen et al., VLDB 2015); the record time is delta-of-delta coded as
// well, and each sample's message id costs one bit when empty, 16 bytes when
// it is a canonical lowercase UUID and its raw bytes otherwise.
//
// The package owns only the byte format. It must not import Pebble or any
// other part of the store.
package chunk
