# A module that creates one AWS account with a root e-mail from the pool and
# records the link. Call it once per account:
#
#   module "workload_prod" {
#     source = "./aws-account"
#     name   = "workload-prod"
#     owner  = "platform-team@company.com"
#   }
terraform {
  required_providers {
    rootmail = {
      source = "rootmail/rootmail"
    }
    aws = {
      source = "hashicorp/aws"
    }
  }
}

variable "name" {
  type        = string
  description = "The AWS account name; also the alias's purpose and claim key."
}

variable "owner" {
  type        = string
  description = "E-mail of the team that owns the account."
}

variable "parent_id" {
  type        = string
  default     = null
  description = "Organizational unit or root to place the account in."
}

# No on_destroy: the default "retire_if_used" releases the alias if the account
# was never created with it, and retires it once an account used it. AWS never
# gives a root e-mail address back (not after the account is closed, not after
# it leaves the organization), so a used alias must never return to the pool.
resource "rootmail_alias" "this" {
  owner     = var.owner
  purpose   = var.name
  # Unique per state (each workspace has its own) and per account.
  claim_key = "${terraform.workspace}-${var.name}"
}

resource "aws_organizations_account" "this" {
  name      = var.name
  email     = rootmail_alias.this.email
  parent_id = var.parent_id

  lifecycle {
    # The root e-mail of an account cannot be changed through Organizations.
    ignore_changes = [email]
  }
}

# Records in the pool table that this account used the alias. Destroying the
# link (Terraform does that before destroying the alias) keeps that record, so
# the alias is still retired.
resource "rootmail_alias_account" "this" {
  email          = rootmail_alias.this.email
  aws_account_id = aws_organizations_account.this.id
}

output "account_id" {
  value = aws_organizations_account.this.id
}

output "root_email" {
  value = rootmail_alias.this.email
}
