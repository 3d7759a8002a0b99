sink "hourly_objects" {
  # Swift's incoming bytes, one sample per container and project an hour.
  transform "aggregator" {
    meters            = ["storage.objects.incoming.bytes"]
    retention_time    = "1h"
    user_id           = "last"
    resource_metadata = "drop"
  }
  publish "store" {}
}
