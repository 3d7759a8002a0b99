agent {
  strict_plugin_permissions = false
}

plugin "pollster" "host" {
  sha256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
}

plugin "publisher" "file" {
  sha256 = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
}
