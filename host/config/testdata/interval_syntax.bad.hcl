pollster "host" {}

polling "host" {
  interval = "10 seconds"
  meters   = ["hardware.*"]
  sinks    = ["out"]
}

sink "out" {
  publish "file" {
    path = "out.jsonl"
  }
}
