sink "out" {
  publish "file" {
    path = "again.jsonl"
  }
}
