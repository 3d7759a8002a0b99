agent {
  log_level = "warn"
}

sink "out" {
  publish "file" {
    path = "out.jsonl"
  }
}
