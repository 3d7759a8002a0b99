plugin "pollster" "host" {
  sha256 = "sha256:e3b0c44298fc1c149afbf4c8996fb924"
}

pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.*"]
  sinks    = ["out"]
}

sink "out" {
  publish "store" {}
}
