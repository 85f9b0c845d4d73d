# A fail-soft capacity alert: every plan and apply reads the pool and warns
# (without failing) when fewer free aliases are left than new accounts need.
check "pool_capacity" {
  data "rootmail_pool" "capacity" {}

  assert {
    condition     = data.rootmail_pool.capacity.claimable >= 50
    error_message = "Only ${data.rootmail_pool.capacity.claimable} claimable aliases left in the pool: add aliases (rootmail pool generate, then rootmail pool import) before new AWS accounts need them."
  }
}
