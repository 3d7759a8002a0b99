pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.*"]
  sinks    = ["out", "archive"]
}

sink "out" {
  publish "file" { path = "data/out.jsonl" }
}
