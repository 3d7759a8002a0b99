# Ceilometer's compute agent: the Nova instances of this compute host.
pollster "libvirt" {
  uri    = "qemu:///system"
  socket = "/var/run/libvirt/libvirt-sock"
  # host as in nova.conf [DEFAULT] host; empty means the hostname.
  # host = "compute-01"
  connect_timeout       = "5s"
  reconnect_max_backoff = "30s"
  parallelism           = 4
}

polling "compute" {
  interval  = "30s"
  meters    = ["cpu", "vcpus", "memory.*", "power.state", "disk.device.*", "network.*", "perf.*"]
  discovery = ["libvirt.local_instances"]
  sinks     = ["compute"]
}

sink "compute" {
  publish "file" {
    path   = "data/compute.jsonl"
    format = "jsonl"
  }
}
