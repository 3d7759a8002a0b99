sink "batched" {
  # Publish notification samples in batches of 500 rather than one by one.
  transform "accumulator" {
    size = 500
  }
  publish "store" {}
}
