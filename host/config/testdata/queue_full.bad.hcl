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
      full = "wait"
    }
  }
}
