pollster "host" {}

polling "host" {
  interval  = "10s"
  meters    = ["hardware.*"]
  discovery = ["host.local", "host.ipmi"]
  sinks     = ["out"]
}

sink "out" {
  publish "file" {
    path = "out.jsonl"
  }
}
