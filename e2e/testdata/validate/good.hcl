pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["*", "!hardware.network.*"]
  sinks    = ["out"]
}

sink "out" {
  transform "unit_conversion" {
    meters = ["hardware.memory.*"]
    scale  = "volume / 1024"
    unit   = "MB"
  }
  publish "file" {
    path = "data/out.jsonl"
  }
}
