sink "example" {
  # SNMP memory meters come in KB; publish them in MB under new names.
  transform "unit_conversion" {
    meters   = ["hardware.memory.*", "!hardware.memory.swap.*"]
    map_from = "^hardware\\.memory\\.(.*)$"
    map_to   = "hardware.memory.$1.mb"
    unit     = "MB"
    type     = "gauge"
    scale    = "volume / 1024"
  }
  publish "file" { path = "data/samples.jsonl" }
}
