pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.cpu.*", "!hardware.memory.*"]
  sinks    = ["out"]
}

sink "out" {
  publish "file" { path = "data/out.jsonl" }
}
