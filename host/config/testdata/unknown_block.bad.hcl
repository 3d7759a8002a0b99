pollster "host" {}

pipeline "host" {
  sources = ["host"]
}
