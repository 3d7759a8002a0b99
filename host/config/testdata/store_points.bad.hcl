store {
  out_of_order = "2h"
  archive_policy "fine" {
    raw_retention = "7d"
    archive {
      granularity = "10s"
      points      = -3
    }
  }
}
