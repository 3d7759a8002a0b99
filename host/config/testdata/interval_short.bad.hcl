pollster "host" {}

polling "host" {
  meters   = ["hardware.*"]
  interval = "500ms"
  sinks    = ["out"]
}

sink "out" {
  publish "file" {
    path = "out.jsonl"
  }
}
