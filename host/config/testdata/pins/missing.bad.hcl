plugin "pollster" "host" {
}
