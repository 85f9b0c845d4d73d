# Step 1 of docs/guides/migrating.md: list the aliases that older tools (the
# function app) claimed. It only reads the pool. Save the result next to the
# migration configuration and review it:
#
#   terraform apply && terraform output -json legacy_aliases > ../legacy-aliases.json
data "rootmail_aliases" "claimed" {
  status = "claimed"
}

output "legacy_aliases" {
  description = "Address => owner and purpose of every alias claimed without a claim token."
  value = {
    for a in data.rootmail_aliases.claimed.aliases : a.email => {
      owner   = a.owner
      purpose = a.purpose
    } if a.claim_type == "legacy"
  }
}
