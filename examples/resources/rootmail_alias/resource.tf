resource "rootmail_alias" "workload" {
  owner     = "platform-team@company.com"
  purpose   = "workload-prod"
  claim_key = "workload-prod"

  # Keep the address out of the pool for 90 days after the account is closed.
  on_destroy      = "quarantine"
  quarantine_days = 90
}

output "root_email" {
  value = rootmail_alias.workload.email
}
