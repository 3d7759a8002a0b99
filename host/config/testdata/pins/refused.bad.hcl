pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.cpu.util"]
  sinks    = ["out"]
}

sink "out" {
  publish "file" { path = "out.jsonl" }
}
