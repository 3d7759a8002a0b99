listener "oslo" "openstack" {
  transport_urls = ["amqp://ceilometer:secret@127.0.0.1:5672/"]
  exchanges      = ["nova", "cinder", "glance", "neutron", "heat", "keystone", "swift", "ceilometer"]
  topics         = ["notifications"]
  pool           = "altimeter"
  store_events   = true
  batch_size     = 500
  batch_timeout  = "200ms"
  sinks          = ["meters"]
}
