# Claimed aliases of one team; those without an aws_account_id after a few
# days are likely leftovers of interrupted pipelines.
data "rootmail_aliases" "team" {
  owner  = "platform-team@company.com"
  status = "claimed"
}

output "unlinked" {
  value = [for a in data.rootmail_aliases.team.aliases : a.email if a.aws_account_id == ""]
}
