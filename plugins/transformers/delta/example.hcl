sink "cpu_delta" {
  # Ceilometer's cpu.delta: CPU time used since the previous poll.
  transform "delta" {
    meters      = ["cpu"]
    unmatched   = "drop"
    name        = "cpu.delta"
    growth_only = true
  }
  publish "store" {}
}
