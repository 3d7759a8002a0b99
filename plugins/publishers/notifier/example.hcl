sink "to_collector" {
  publish "notifier" {
    transport_url        = "amqp://guest:guest@127.0.0.1:5672/"
    telemetry_secret_env = "ALTIMETER_TELEMETRY_SECRET"
  }
}
