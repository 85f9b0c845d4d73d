resource "rootmail_alias" "workload" {
  owner     = "platform-team@company.com"
  claim_key = "${terraform.workspace}-workload-prod"
}

resource "aws_organizations_account" "workload" {
  name  = "workload-prod"
  email = rootmail_alias.workload.email
}

resource "rootmail_alias_account" "workload" {
  email          = rootmail_alias.workload.email
  aws_account_id = aws_organizations_account.workload.id
}
