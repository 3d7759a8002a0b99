alarm {
  history_max_per_alarm = 20000
}
