pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.*"]
  sinks    = ["out"]
}

sink "out" {
  transform "rate_of_change" {
    meters = ["hardware.cpu.*"]
    scale  = "100.0 / (10**9 * (cpu_number or 1))"
  }
  publish "store" {}
}
