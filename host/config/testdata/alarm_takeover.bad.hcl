alarm {
  webhook_timeout = "5s"
  delivery_delay  = "1s"
  takeover_delay  = "6s"
}
