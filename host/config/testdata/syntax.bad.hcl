pollster "host" {
  root = "/host"

polling "host" {
  interval = "10s"
