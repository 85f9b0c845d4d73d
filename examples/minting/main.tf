# Minting: more accounts than the pool has aliases. `make demo` registers a
# minting mailbox first (`rootmail pool add-minting-mailbox`); with
# address_source = "prefer_aliases" the claims take every free alias and mint
# plus addresses (aws+<id>@company.com) for the rest instead of failing.
terraform {
  required_providers {
    rootmail = {
      source = "rootmail/rootmail"
    }
  }
}

variable "endpoint" {
  type        = string
  description = "Azurite's table endpoint, e.g. http://127.0.0.1:10002/devstoreaccount1"
}

variable "accounts" {
  type        = number
  description = "How many AWS accounts need a root address"
  default     = 28
}

provider "rootmail" {
  endpoint       = var.endpoint
  use_emulator   = true
  address_source = "prefer_aliases" # the default, aliases_only, fails once the pool is empty
}

resource "rootmail_alias" "account" {
  count     = var.accounts
  owner     = "platform-team@company.com"
  purpose   = format("account-%02d", count.index)
  claim_key = "${terraform.workspace}-account-${count.index}"
}

data "rootmail_pool" "this" {
  depends_on = [rootmail_alias.account]
}

output "aliases_claimed" {
  value = length([for a in rootmail_alias.account : a if a.source == "alias"])
}

output "minted" {
  value = [for a in rootmail_alias.account : a.email if a.source == "minted"]
}

output "free_aliases_left" {
  value = data.rootmail_pool.this.free
}
