pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = []
  sinks    = ["out"]
}

sink "out" {
  publish "file" {
    path = "out.jsonl"
  }
}
