store {
  event_retention = "a week"
}
