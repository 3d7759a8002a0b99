listener "socket" "local" {
  sinks = ["outt"]
  tcp   = "127.0.0.1:8094"
}

sink "out" {
  publish "file" {
    path = "out.jsonl"
  }
}
