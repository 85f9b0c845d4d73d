data "rootmail_pool" "this" {
  lifecycle {
    postcondition {
      condition     = self.claimable >= 10
      error_message = "Fewer than 10 free root-mail aliases are left: add aliases to the pool."
    }
  }
}

output "claimable_aliases" {
  value = data.rootmail_pool.this.claimable
}

# Fail-soft alternative (Terraform 1.5+): a check block warns instead of
# failing the run when the pool runs low.
check "pool_capacity" {
  data "rootmail_pool" "capacity" {}

  assert {
    condition     = data.rootmail_pool.capacity.claimable >= 50
    error_message = "Only ${data.rootmail_pool.capacity.claimable} claimable aliases left: add aliases to the pool soon."
  }
}
