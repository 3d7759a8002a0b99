agent {
  data_dir = "data-n1"
  api { address = "127.0.0.1:8777" }
  cluster {
    node_id            = "n1"
    bind               = "127.0.0.1:8301"
    advertise          = "127.0.0.1:8301"
    join               = ["127.0.0.1:8302", "127.0.0.1:8303"]
    heartbeat_timeout  = "1s"
    snapshot_threshold = 1024
    snapshot_interval  = "30s"
    tls {
      ca_file   = "ca.pem"
      cert_file = "n1.pem"
      key_file  = "n1-key.pem"
    }
  }
}
