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
