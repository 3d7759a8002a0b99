agent {
  cluster {
    bind      = "0.0.0.0:8300"
    advertise = "0.0.0.0:8300"
  }
}
