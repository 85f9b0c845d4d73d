data "aws_organizations_organization" "this" {}

# Fails the plan's checks when the pool could hand out an address an AWS
# account already uses (AWS never frees a root e-mail address).
check "root_mail_pool" {
  data "rootmail_audit" "this" {
    accounts_json = jsonencode(data.aws_organizations_organization.this.accounts)
  }

  assert {
    condition     = data.rootmail_audit.this.critical == 0
    error_message = join("\n", [for f in data.rootmail_audit.this.findings : f.message if f.severity == "critical"])
  }
}
