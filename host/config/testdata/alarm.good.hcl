alarm {
  evaluation_interval   = "15s"
  history_max_per_alarm = 50
  history_max_age       = "7d"
  webhook_timeout       = "2s"
  webhook_retries       = 5
  webhook_ca_file       = "ca.pem"
  store_url             = "http://127.0.0.1:8777"
  store_token_file      = "token"
  delivery_delay        = "500ms"
  takeover_delay        = "4s"
}
