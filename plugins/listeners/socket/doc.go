// Package main is listener.socket: it accepts samples written to TCP
// connections (one per line) or sent as UDP datagrams, in Influx line
// protocol (decoded by internal/influx), as Ceilometer JSON metering
// messages, or as the msgpack datagrams of Ceilometer's udp publisher
// (msgpack.go; both turned into samples by sdk/sample), optionally checking their
// HMAC signatures, and emits them to the host in batches. It must not
// import host packages.
package main
