agent {
  strict_plugin_permissions = "no"
}
