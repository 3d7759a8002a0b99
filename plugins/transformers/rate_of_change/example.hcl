sink "cpu_util" {
  # Ceilometer's cpu_util: the share of the instance's vCPUs it used.
  transform "rate_of_change" {
    meters    = ["cpu"]
    unmatched = "drop"
    name      = "cpu_util"
    unit      = "%"
    type      = "gauge"
    scale     = "100.0 / (10**9 * (resource_metadata.cpu_number or 1))"
    max       = 100
  }
  publish "store" {}
}
