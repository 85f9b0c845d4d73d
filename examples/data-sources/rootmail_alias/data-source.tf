# Which alias does this AWS account use?
data "rootmail_alias" "by_account" {
  aws_account_id = "123456789012"
}

output "root_email_of_account" {
  value = data.rootmail_alias.by_account.email
}
