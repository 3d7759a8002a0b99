alarm {
  store_url = "ftp://x"
}
