// Command libvirt is the "libvirt" pollster plugin: Ceilometer's compute
// agent. It discovers the Nova instances of this compute host from Nova's
// libvirt metadata (<nova:instance>, discovery method local_instances) and
// polls their cpu, vcpus, memory.*, power.state, disk.device.*,
// network.* and perf.* meters over libvirt's RPC protocol
// (github.com/digitalocean/go-libvirt, no cgo), with bulk domain stats where
// the driver has them and per-domain calls where it does not.
//
// It imports only the SDK and go-libvirt; it never imports the host.
package main
