pollster "host" {}

polling "host" {
  interval = "1s"
  meters   = ["hardware.cpu.util", "hardware.memory.*"]
  sinks    = ["out"]
}

sink "out" {
  publish "file" {
    path = "out.jsonl"
  }
}
