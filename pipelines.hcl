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
