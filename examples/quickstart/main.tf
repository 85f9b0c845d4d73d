# Quickstart: claims three aliases from a local Azurite pool (`make demo` starts
# Azurite and fills the pool). No Azure account needed.
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

provider "rootmail" {
  endpoint     = var.endpoint
  use_emulator = true
}

resource "rootmail_alias" "account" {
  for_each  = toset(["sandbox", "workload-dev", "workload-prod"])
  owner     = "platform-team@company.com"
  purpose   = each.key
  claim_key = "${terraform.workspace}-${each.key}"
}

data "rootmail_pool" "this" {
  depends_on = [rootmail_alias.account]
}

output "claimed" {
  value = { for k, a in rootmail_alias.account : k => a.email }
}

output "free_left" {
  value = data.rootmail_pool.this.free
}
