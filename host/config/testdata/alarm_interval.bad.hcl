alarm {
  evaluation_interval = "10ms"
}
