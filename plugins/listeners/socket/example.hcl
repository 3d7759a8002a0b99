listener "socket" "local" {
  tcp   = "127.0.0.1:8094"
  sinks = ["socket"]
}
