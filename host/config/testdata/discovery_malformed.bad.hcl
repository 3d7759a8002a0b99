pollster "host" {}

polling "host" {
  interval  = "10s"
  meters    = ["hardware.*"]
  discovery = ["local"]
  sinks     = ["out"]
}

sink "out" {
  publish "file" {
    path = "out.jsonl"
  }
}
