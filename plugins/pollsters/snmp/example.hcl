pollster "snmp" {
  concurrency    = 32     # targets polled at once
  timeout        = "1s"   # per SNMP request, then retries
  retries        = 1
  target_timeout = "10s"  # bound on one target's whole round

  # Secrets for targets whose URL carries none: from the environment (or
  # from a file: community_file, password_file, priv_password_file), never
  # written in this file.
  community_env     = "SNMP_COMMUNITY"
  user              = "ceilometer"
  password_env      = "SNMP_AUTH_PASSWORD"
  priv_password_env = "SNMP_PRIV_PASSWORD"

  # Add a meter without code: a scalar...
  meter "hardware.system.uptime" {
    oid   = "1.3.6.1.2.1.25.1.1.0" # hrSystemUptime, TimeTicks (1/100 s)
    type  = "gauge"
    unit  = "s"
    value = "value / 100"
  }

  # ...or a table, one sample per row named <host>.<descr>.
  meter "hardware.storage.used" {
    oid             = "1.3.6.1.2.1.25.2.3.1.6" # hrStorageUsed
    type            = "gauge"
    unit            = "B"
    table           = true
    vars            = { units = "1.3.6.1.2.1.25.2.3.1.4" } # hrStorageAllocationUnits
    value           = "value * units"
    resource_suffix = "descr"
    metadata "descr" {
      oid = "1.3.6.1.2.1.25.2.3.1.3" # hrStorageDescr
    }
  }
}

polling "switches_and_servers" {
  interval = "60s"
  meters   = ["hardware.*"]
  resources = [
    "snmp://10.0.0.5",                                         # v2c, community from community_env
    "snmp://monitor@10.0.0.6?version=3",                       # v3 authPriv, passwords from the env vars above
    "snmp://10.0.0.7:1161?community_file=/etc/altimeter/c7",   # v2c on another port
    "snmp://ops@10.0.0.8?auth_protocol=md5&priv_protocol=des&password_env=OPS_AUTH&priv_password_env=OPS_PRIV",
  ]
  sinks = ["hardware"]
}

sink "hardware" {
  publish "file" {
    path = "data/hardware.jsonl"
  }
}
