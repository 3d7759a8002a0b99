pollster "host" {}

polling "host" {
  interval = "30s"
  meters   = ["hardware.*"]
  sinks    = ["out"]
}
