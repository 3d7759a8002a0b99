pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.cpu.*", "disk.device.*"]
  sinks    = ["out"]
}

sink "out" {
  publish "file" { path = "data/out.jsonl" }
}
