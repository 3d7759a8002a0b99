// Command host is the "host" pollster plugin: this machine's own meters
// (hardware.cpu.*, hardware.memory.*, hardware.disk.*, hardware.network.*,
// hardware.system_stats.io.*) read from a /proc tree and statfs(2), named as
// Ceilometer's SNMP hardware pollsters name them.
//
// It imports only the SDK; it never imports the host.
package main
