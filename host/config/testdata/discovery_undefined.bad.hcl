pollster "host" {}

polling "host" {
  interval  = "10s"
  meters    = ["hardware.*"]
  discovery = ["libvirt.local_instances"]
  sinks     = ["out"]
}

sink "out" {
  publish "file" {
    path = "out.jsonl"
  }
}
