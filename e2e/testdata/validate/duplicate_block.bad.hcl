pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.*"]
  sinks    = ["out"]
}

pollster "host" {}

sink "out" {
  publish "file" { path = "data/out.jsonl" }
}
