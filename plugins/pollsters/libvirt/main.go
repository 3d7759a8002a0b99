package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sample"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { pollster.Serve(spec()) }

// Meter names, as Ceilometer's compute pollsters name them.
const (
	mCPU            = "cpu"
	mVCPUs          = "vcpus"
	mMemory         = "memory"
	mMemoryUsage    = "memory.usage"
	mMemoryResident = "memory.resident"
	mMemoryAvail    = "memory.available"
	mSwapIn         = "memory.swap.in"
	mSwapOut        = "memory.swap.out"
	mPowerState     = "power.state"
	mDiskReadBytes  = "disk.device.read.bytes"
	mDiskWriteBytes = "disk.device.write.bytes"
	mDiskReadReqs   = "disk.device.read.requests"
	mDiskWriteReqs  = "disk.device.write.requests"
	mDiskCapacity   = "disk.device.capacity"
	mDiskAlloc      = "disk.device.allocation"
	mDiskUsage      = "disk.device.usage"
	mNetInBytes     = "network.incoming.bytes"
	mNetOutBytes    = "network.outgoing.bytes"
	mNetInPackets   = "network.incoming.packets"
	mNetOutPackets  = "network.outgoing.packets"
	mNetInDrop      = "network.incoming.packets.drop"
	mNetOutDrop     = "network.outgoing.packets.drop"
	mNetInError     = "network.incoming.packets.error"
	mNetOutError    = "network.outgoing.packets.error"
	mPerfCycles     = "perf.cpu.cycles"
	mPerfInstr      = "perf.instructions"
	mPerfCacheRefs  = "perf.cache.references"
	mPerfCacheMiss  = "perf.cache.misses"
)

// meters is the plugin's read-only meter table, declared in Spec.Meters.
var meters = []sample.MeterInfo{
	{Name: mCPU, Type: sample.Cumulative, Unit: "ns", Description: "CPU time used by the instance."},
	{Name: mVCPUs, Type: sample.Gauge, Unit: "vcpu", Description: "Number of virtual CPUs of the instance."},
	{Name: mMemory, Type: sample.Gauge, Unit: "MB", Description: "Memory allocated to the instance (current balloon size)."},
	{Name: mMemoryUsage, Type: sample.Gauge, Unit: "MB", Description: "Memory the guest uses (available - usable, or available - unused); needs a balloon driver in the guest."},
	{Name: mMemoryResident, Type: sample.Gauge, Unit: "MB", Description: "Host memory the instance's process occupies (RSS)."},
	{Name: mMemoryAvail, Type: sample.Gauge, Unit: "MB", Description: "Memory the guest sees as available; needs a balloon driver in the guest."},
	{Name: mSwapIn, Type: sample.Cumulative, Unit: "MB", Description: "Memory swapped in by the guest."},
	{Name: mSwapOut, Type: sample.Cumulative, Unit: "MB", Description: "Memory swapped out by the guest."},
	{Name: mPowerState, Type: sample.Gauge, Unit: "state", Description: "libvirt domain state: 0 nostate, 1 running, 2 blocked, 3 paused, 4 shutdown, 5 shutoff, 6 crashed, 7 pmsuspended."},
	{Name: mDiskReadBytes, Type: sample.Cumulative, Unit: "B", Description: "Bytes read, per disk device."},
	{Name: mDiskWriteBytes, Type: sample.Cumulative, Unit: "B", Description: "Bytes written, per disk device."},
	{Name: mDiskReadReqs, Type: sample.Cumulative, Unit: "request", Description: "Read requests, per disk device."},
	{Name: mDiskWriteReqs, Type: sample.Cumulative, Unit: "request", Description: "Write requests, per disk device."},
	{Name: mDiskCapacity, Type: sample.Gauge, Unit: "B", Description: "Capacity of a disk device (the guest's view)."},
	{Name: mDiskAlloc, Type: sample.Gauge, Unit: "B", Description: "Host storage allocated to a disk device."},
	{Name: mDiskUsage, Type: sample.Gauge, Unit: "B", Description: "Physical size of a disk device's image on the host."},
	{Name: mNetInBytes, Type: sample.Cumulative, Unit: "B", Description: "Bytes received, per vNIC."},
	{Name: mNetOutBytes, Type: sample.Cumulative, Unit: "B", Description: "Bytes sent, per vNIC."},
	{Name: mNetInPackets, Type: sample.Cumulative, Unit: "packet", Description: "Packets received, per vNIC."},
	{Name: mNetOutPackets, Type: sample.Cumulative, Unit: "packet", Description: "Packets sent, per vNIC."},
	{Name: mNetInDrop, Type: sample.Cumulative, Unit: "packet", Description: "Received packets dropped, per vNIC."},
	{Name: mNetOutDrop, Type: sample.Cumulative, Unit: "packet", Description: "Sent packets dropped, per vNIC."},
	{Name: mNetInError, Type: sample.Cumulative, Unit: "packet", Description: "Receive errors, per vNIC."},
	{Name: mNetOutError, Type: sample.Cumulative, Unit: "packet", Description: "Transmit errors, per vNIC."},
	{Name: mPerfCycles, Type: sample.Gauge, Unit: "cycle", Description: "CPU cycles (perf event cpu_cycles); only where libvirt's bulk stats offer perf events."},
	{Name: mPerfInstr, Type: sample.Gauge, Unit: "instruction", Description: "Instructions executed (perf event instructions); only with bulk stats."},
	{Name: mPerfCacheRefs, Type: sample.Gauge, Unit: "count", Description: "Cache references (perf event cache_references); only with bulk stats."},
	{Name: mPerfCacheMiss, Type: sample.Gauge, Unit: "count", Description: "Cache misses (perf event cache_misses); only with bulk stats."},
}

// discoveryLocalInstances is the discovery method's name.
const discoveryLocalInstances = "local_instances"

// spec declares the plugin; tests run the same value over gRPC.
func spec() pollster.Spec[config] {
	return pollster.Spec[config]{
		Name:        "libvirt",
		Version:     version,
		Description: "Ceilometer's compute agent: Nova instances of this host, discovered from Nova's libvirt metadata, and their cpu, memory, power, disk, network and perf meters from libvirt.",
		Meters:      meters,
		Discovery: []base.Discovery{{
			Name:        discoveryLocalInstances,
			Description: "Every libvirt domain carrying Nova's <nova:instance> metadata; resource id = instance uuid, with project, user, flavor and image from the metadata.",
		}},
		Defaults: config{
			URI:                 "qemu:///system",
			Socket:              "/var/run/libvirt/libvirt-sock",
			ConnectTimeout:      "5s",
			ReconnectMaxBackoff: "30s",
			Parallelism:         4,
		},
		New: func(c config, log hclog.Logger) (pollster.Pollster, error) {
			return newLibvirt(c, log)
		},
	}
}
