pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.*"]
  sinks    = ["out", "nowhere"]
}

sink "out" {
  publish "file" {
    path = "out.jsonl"
  }
}
