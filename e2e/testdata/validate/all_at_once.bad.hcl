pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.cpu.*", "!hardware.memory.*"]
  sinks    = ["out", "archive"]
}

sink "out" {
  transform "unit_conversion" {
    scale = "volume +"
  }
  publish "file" {
    path         = "data/out.jsonl"
    rotate_every = "1h"
  }
  publish "kafka" { topic = "samples" }
}
