# Fails the plan's checks when the pool could hand out an address an AWS
# account already uses (AWS never frees a root e-mail address), or when an
# alias in use is missing from its mailbox (the account's root mail bounces).
check "root_mail_pool" {
  data "rootmail_audit" "this" {
    aws      = true # every account of the organization, all pages
    exchange = true # every mailbox of the pool, through Microsoft Graph
  }

  assert {
    condition     = data.rootmail_audit.this.critical == 0
    error_message = join("\n", [for f in data.rootmail_audit.this.findings : f.message if f.severity == "critical"])
  }
}

# The accounts can also come from the aws provider.
data "aws_organizations_organization" "this" {}

data "rootmail_audit" "from_the_aws_provider" {
  accounts_json = jsonencode(data.aws_organizations_organization.this.accounts)
}
