agent {
  cluster {
    node_id = "n2"
    join    = ["127.0.0.1:8300", "nowhere"]
  }
}
