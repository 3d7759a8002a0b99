sink "to_collector" {
  publish "udp" {
    address              = "127.0.0.1:4952"
    telemetry_secret_env = "ALTIMETER_TELEMETRY_SECRET"
  }
}
