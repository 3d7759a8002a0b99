sink "to_store" {
  publish "http" {
    url        = "http://127.0.0.1:8777"
    token_file = "data/admin-token"
  }
}
