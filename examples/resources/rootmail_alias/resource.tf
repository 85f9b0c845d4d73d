resource "rootmail_alias" "workload" {
  owner     = "platform-team@company.com"
  purpose   = "workload-prod"
  # Unique per state: every workspace has a state of its own.
  claim_key = "${terraform.workspace}-workload-prod"

  # on_destroy is left at its default, "retire_if_used": an alias no AWS
  # account used goes back to the pool, one an account used is retired for
  # good, because AWS never frees a root e-mail address.
}

output "root_email" {
  value = rootmail_alias.workload.email
}
