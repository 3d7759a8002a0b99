# Member n1 of a three-member cluster on one machine (see the README's
# "Cluster" section): it bootstraps the cluster and is the store member,
# whose API answers for the whole cluster. Run from the repository root:
#   bin/altimeter agent -config examples/cluster/n1.hcl

agent {
  data_dir   = "data-n1"
  plugin_dir = "bin/plugins"
  api { address = "127.0.0.1:8777" }
  cluster {
    node_id = "n1"
    bind    = "127.0.0.1:8301"
  }
}

pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.cpu.*", "hardware.memory.*"]
  sinks    = ["local"]
}

sink "local" {
  publish "store" {}
}
