pollster "loadavg" {
  path = "/proc/loadavg"
}
