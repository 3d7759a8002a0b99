// Package peer starts real external peers (snmpd, libvirtd, ipmi_sim,
// Prometheus, RabbitMQ) as processes on loopback for integration tests, each
// in its own directory and port, and stops them by PID. One file per peer;
// this file's Process is the shared machinery.
//
// It is imported only by tests. It must not import host/ or plugins/.
package peer
