sink "files" {
  publish "file" {
    path = "data/samples.jsonl"
  }
}
