sink "to_prometheus" {
  publish "prometheus" {
    url             = "http://127.0.0.1:9090/api/v1/write"
    metadata_labels = ["flavor.name", "host"]
  }
}
