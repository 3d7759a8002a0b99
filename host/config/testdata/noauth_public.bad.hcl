agent {
  api {
    address = "0.0.0.0:8777"
    auth    = false
  }
}
