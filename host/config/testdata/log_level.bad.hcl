agent {
  log_level = "verbose"
}
