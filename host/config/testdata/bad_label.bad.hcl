sink "my.sink" {
  publish "file" {
    path = "out.jsonl"
  }
}
