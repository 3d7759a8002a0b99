pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.*"]
  sinks    = ["out"]
}

sink "out" {
  publish "file" {
    path      = "data/out.jsonl"
    max_bytes = "big"
  }
}
