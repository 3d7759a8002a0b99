alarm {
  delivery_delay = "-1s"
}
