# A complete pipeline exercising every block.
agent {
  data_dir   = "/var/lib/altimeter"
  plugin_dir = "/usr/libexec/altimeter"
  log_level  = "debug"
  api {
    address = "0.0.0.0:8777"
  }
}

pollster "host" {
  root = "/host"
}

pollster "libvirt" {
}

polling "host" {
  interval  = "10s"
  meters    = ["hardware.*"]
  discovery = ["host.local"]
  resources = ["snmp://127.0.0.1:161"]
  sinks     = ["host"]
}

polling "instances" {
  interval  = "5m"
  meters    = ["*", "!disk.*"]
  discovery = ["libvirt.local_instances"]
  sinks     = ["host", "archive"]
}

listener "socket" "local" {
  sinks = ["host"]
  tcp   = "127.0.0.1:8094"
}

sink "host" {
  transform "unit_conversion" {
    scale = 1024
  }
  transform "rate_of_change" {}
  transform "unit_conversion" {
    scale = 0.5
  }
  publish "file" {
    path = "/var/log/altimeter/samples.jsonl"
  }
}

sink "archive" {
  publish "file" {
    path = "/srv/archive.jsonl"
  }
  publish "file" {
    path = "/srv/archive2.jsonl"
  }
}

store {
  out_of_order    = "30m"
  event_retention = "90d"
  archive_policy "cpu_fine" {
    raw_retention = "2d"
    aggregates    = ["count", "sum", "min", "max", "mean", "stddev", "last", "p95"]
    archive {
      granularity = "10s"
      points      = 8640
    }
    archive {
      granularity = "1h"
      points      = 720
    }
  }
  archive_policy_rule "cpu" {
    meters = ["cpu", "cpu_util"]
    policy = "cpu_fine"
  }
  archive_policy_rule "hardware" {
    meters = ["hardware.*"]
    policy = "low"
  }
}
