listener "socket" "local" {
  sinks = ["out"]
}

listener "socket" "remote" {
  sinks = ["out"]
}

listener "socket" "local" {
  sinks = ["out"]
}

sink "out" {
  publish "file" {
    path = "out.jsonl"
  }
}
