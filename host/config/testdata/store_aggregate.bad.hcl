store {
  archive_policy "fine" {
    aggregates = ["mean", "median"]
    archive {
      granularity = "1s"
      points      = 60
    }
  }
}
