// Command altimeter-pollster-snmp is the snmp pollster plugin: Ceilometer's
// hardware.* meters (CPU, memory, swap, disks, interfaces, IP and I/O
// counters) read over SNMP v1, v2c or v3 from the agents named by the
// polling block's resources (snmp://... URLs). Meter definitions are
// declarative (OID, scalar or table walk, value expression, metadata
// OIDs); the built-in set is defaultMeters and operators add their own in
// HCL. Targets are polled concurrently by a bounded worker pool, each
// within its own timeout.
//
// It imports only the SDK, gosnmp and expr; never host/.
package main
