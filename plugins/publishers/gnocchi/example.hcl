sink "to_gnocchi" {
  publish "gnocchi" {
    url  = "http://127.0.0.1:8041"
    user = "admin"
  }
}
