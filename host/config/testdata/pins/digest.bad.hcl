plugin "pollster" "host" {
  sha256 = "9f86d081884c7d659a2feaa0c55ad015"
}
