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
      max_bytes     = "64MiB"
      full          = "block"
      sync_interval = "100ms"
    }
  }
  publish "file" {
    path = "out2.jsonl"
    queue {
      type = "memory"
    }
  }
  publish "file" {
    path = "out3.jsonl"
  }
}
