pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.*"
  sinks    = ["out"]
}
