store {
  archive_policy_rule "cpu" {
    meters = ["cpu*"]
    policy = "hgih"
  }
}
