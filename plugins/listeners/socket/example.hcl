listener "socket" "local" {
  tcp   = "127.0.0.1:8094"
  sinks = ["socket"]
}

# A collector for Ceilometer's udp:// publisher (or Altimeter's udp
# publisher): one signed msgpack metering message per datagram.
listener "socket" "ceilometer_udp" {
  udp                   = "127.0.0.1:4952"
  format                = "msgpack"
  telemetry_secret_file = "/etc/altimeter/telemetry_secret"
  read_buffer_size      = 4194304
  sinks                 = ["socket"]
}
