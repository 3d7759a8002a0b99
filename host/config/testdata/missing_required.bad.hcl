pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.*"]
}

sink "out" {
  publish "file" {
    path = "out.jsonl"
  }
}
