agent {}

agent {
  log_level = "debug"
}
