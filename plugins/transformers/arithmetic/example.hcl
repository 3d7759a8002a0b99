sink "memory_util" {
  # The share of its memory each instance uses.
  transform "arithmetic" {
    expr      = "100.0 * $(memory.usage) / $(memory)"
    name      = "memory.util"
    unit      = "%"
    type      = "gauge"
    unmatched = "drop"
  }
  publish "store" {}
}
