# Altimeter's default pipelines: this machine's own meters into the embedded
# store (served by the REST API on 127.0.0.1:8777), plus a socket for anything
# that speaks Influx line protocol. Works on any Linux machine with nothing
# else installed. Check edits with: bin/altimeter validate pipelines.hcl

agent {
  data_dir   = "data"
  plugin_dir = "bin/plugins"
  log_level  = "info"
  api {
    address = "127.0.0.1:8777"
  }
}

# This machine's cpu, memory, disks, network and block I/O from /proc.
pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.*"]
  sinks    = ["host"]
}

# Send samples yourself: echo 'mem,resource_id=web-1 used=1048576' | nc -q0 127.0.0.1 8094
listener "socket" "local" {
  tcp   = "127.0.0.1:8094"
  udp   = "127.0.0.1:8094"
  sinks = ["socket"]
}

# "store" is built in: the embedded store under data_dir that the API reads.
sink "host" {
  publish "store" {}
}

sink "socket" {
  # Influx senders report memory in bytes; Ceilometer's meters use KB.
  transform "unit_conversion" {
    meters = ["mem.*"]
    scale  = "volume / 1024"
    unit   = "KB"
  }
  publish "store" {}
  publish "file" {
    path   = "data/socket.lp"
    format = "influx"
  }
}

# A compute node (Ceilometer's compute agent): Nova's instances through
# libvirt, stored as they are, and the meters Ceilometer's default
# pipeline.yaml derived from them with transformers: cpu_util, cpu.delta,
# and the disk and network rates. This machine has no libvirt by default;
# on a host with libvirtd, uncomment from here to "end compute" (the e2e
# test TestIntegrationCompute runs exactly these blocks).
#
# --- compute ---
# pollster "libvirt" {
#   uri    = "qemu:///system"
#   socket = "/var/run/libvirt/libvirt-sock"
# }
#
# polling "compute" {
#   interval  = "30s"
#   meters    = ["cpu", "vcpus", "memory", "memory.*", "disk.device.*", "network.*"]
#   discovery = ["libvirt.local_instances"]
#   sinks     = ["compute", "cpu_util", "cpu_delta", "disk_rates", "network_rates"]
# }
#
# sink "compute" {
#   publish "store" {}
# }
#
# # Ceilometer's cpu_sink: the share of the instance's vCPUs it used.
# sink "cpu_util" {
#   transform "rate_of_change" {
#     meters    = ["cpu"]
#     unmatched = "drop"
#     name      = "cpu_util"
#     unit      = "%"
#     type      = "gauge"
#     max       = 100
#     scale     = "100.0 / (10**9 * (resource_metadata.cpu_number or 1))"
#   }
#   publish "store" {}
# }
#
# # Ceilometer's cpu_delta_sink: CPU time used since the previous poll.
# sink "cpu_delta" {
#   transform "delta" {
#     meters      = ["cpu"]
#     unmatched   = "drop"
#     name        = "cpu.delta"
#     growth_only = true
#   }
#   publish "store" {}
# }
#
# # Ceilometer's disk_sink: disk.device.read.bytes.rate (B/s), ... .requests.rate (request/s).
# sink "disk_rates" {
#   transform "rate_of_change" {
#     meters        = ["disk.read.bytes", "disk.read.requests", "disk.write.bytes", "disk.write.requests",
#                      "disk.device.read.bytes", "disk.device.read.requests", "disk.device.write.bytes", "disk.device.write.requests"]
#     unmatched     = "drop"
#     map_from      = "(disk\\.device|disk)\\.(read|write)\\.(bytes|requests)"
#     map_to        = "$1.$2.$3.rate"
#     unit_map_from = "(B|request)"
#     unit_map_to   = "$1/s"
#     type          = "gauge"
#   }
#   publish "store" {}
# }
#
# # Ceilometer's network_sink: network.incoming.bytes.rate (B/s), ... .packets.rate (packet/s).
# sink "network_rates" {
#   transform "rate_of_change" {
#     meters        = ["network.incoming.bytes", "network.incoming.packets", "network.outgoing.bytes", "network.outgoing.packets"]
#     unmatched     = "drop"
#     map_from      = "network\\.(incoming|outgoing)\\.(bytes|packets)"
#     map_to        = "network.$1.$2.rate"
#     unit_map_from = "(B|packet)"
#     unit_map_to   = "$1/s"
#     type          = "gauge"
#   }
#   publish "store" {}
# }
# --- end compute ---

# Other destinations for a sink's samples: each publisher queues on disk
# under data_dir/queues/<sink>/<publisher> (see README "Publisher queues").
#
# sink "forward" {
#   # Ceilometer's UDP publisher: one signed msgpack sample per datagram.
#   publish "udp" {
#     address              = "127.0.0.1:4952"
#     telemetry_secret_env = "ALTIMETER_TELEMETRY_SECRET"
#     queue {
#       max_bytes = "256MiB"
#       full      = "drop_oldest"   # or "block": listeners are told to retry
#     }
#   }
#   # Prometheus remote write: to Prometheus (--web.enable-remote-write-receiver),
#   # VictoriaMetrics, Mimir or Thanos; names and labels as the PromQL API's.
#   publish "prometheus" {
#     url             = "http://127.0.0.1:9090/api/v1/write"
#     metadata_labels = ["flavor.name"]
#   }
#   # Ceilometer's Gnocchi publisher (resource types from ceilometer-upgrade).
#   publish "gnocchi" {
#     url  = "http://127.0.0.1:8041"
#     user = "admin"
#   }
#   # Ceilometer's notifier publisher: oslo "sample" notifications on RabbitMQ.
#   publish "notifier" {
#     transport_url        = "amqp://guest:guest@127.0.0.1:5672/"
#     telemetry_secret_env = "ALTIMETER_TELEMETRY_SECRET"
#   }
# }

# The store keeps raw samples for 7 days, and roll-ups per Gnocchi-style
# archive policy: "medium" (1 min for a week, 1 h for a year) unless a rule
# picks another, e.g.
#
# store {
#   archive_policy_rule "cpu" {
#     meters = ["hardware.cpu.*"]
#     policy = "high"   # 1 s for an hour, 1 min for a week, 1 h for a year
#   }
# }
