pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.*"]
  sinks    = ["out"]
}

sink "out" {
  transform "unit_conversion" {
    scale = "volume +"
  }
  publish "file" { path = "data/out.jsonl" }
}
