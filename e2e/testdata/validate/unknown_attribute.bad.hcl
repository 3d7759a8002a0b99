pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.*"]
  sinks    = ["out"]
}

sink "out" {
  publish "file" {
    path = "data/out.jsonl"
    rotate_every = "1h"
  }
}
