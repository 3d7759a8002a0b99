pollster "host" {
  # Read a host's /proc from inside a container: mount it at /host/proc and
  # the host's / at /rootfs.
  # proc_root    = "/host/proc"
  # mount_prefix = "/rootfs"

  resource_id          = "compute-01"
  exclude_interfaces   = ["lo", "veth*", "docker*"]
  exclude_mount_points = ["/boot/efi", "/snap/*"]
}
