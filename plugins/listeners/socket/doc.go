// Package main is listener.socket: it accepts samples written to TCP
// connections (one per line) or sent as UDP datagrams, in Influx line
// protocol (decoded by internal/influx) or as Ceilometer JSON
// metering messages (decoded by sdk/sample), optionally checking their
// HMAC signatures, and emits them to the host in batches. It must not
// import host packages.
package main
