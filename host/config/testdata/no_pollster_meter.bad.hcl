pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.*", "cpu_util"]
  sinks    = ["out"]
}

sink "out" {
  publish "file" {
    path = "out.jsonl"
  }
}
