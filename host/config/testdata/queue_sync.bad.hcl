pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.*"]
  sinks    = ["out"]
}

sink "out" {
  publish "file" {
    path = "out.jsonl"
    queue {
      sync_interval = "1h"
    }
  }
}
