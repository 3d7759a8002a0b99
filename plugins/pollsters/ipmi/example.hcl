# Remote BMCs over IPMI 2.0 lanplus. The password comes from the agent's
# environment (IPMI_PASSWORD) or a file; never write it in this file.
pollster "ipmi" {
  mode          = "remote"
  username      = "admin"
  password_env  = "IPMI_PASSWORD" # or: password_file = "/etc/altimeter/ipmi-password"
  timeout       = "2s"
  retries       = 1
}

polling "ipmi" {
  interval  = "60s"
  meters    = ["hardware.ipmi.*"]
  resources = ["ipmi://bmc-compute-01.example.net?node=compute-01", "ipmi://10.0.0.12:623?node=compute-02"]
  sinks     = ["hardware"]
}
