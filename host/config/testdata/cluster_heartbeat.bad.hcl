agent {
  cluster {
    heartbeat_timeout = "10ms"
  }
}
