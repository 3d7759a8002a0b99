# Member n3 of a three-member cluster on one machine: it joins n1 on its
# first start (later starts rejoin from data-n3/raft) and publishes what it
# polls to the store member n1 with the http publisher, using its own admin
# token, which is valid on every member.
#   bin/altimeter agent -config examples/cluster/n3.hcl

agent {
  data_dir   = "data-n3"
  plugin_dir = "bin/plugins"
  api { address = "127.0.0.1:8779" }
  cluster {
    node_id = "n3"
    bind    = "127.0.0.1:8303"
    join    = ["127.0.0.1:8301"]
  }
}

pollster "host" {}

polling "host" {
  interval = "10s"
  meters   = ["hardware.cpu.*", "hardware.memory.*"]
  sinks    = ["to_store"]
}

sink "to_store" {
  publish "http" {
    url        = "http://127.0.0.1:8777"
    token_file = "data-n3/admin-token"
  }
}
