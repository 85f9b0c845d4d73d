# A module that gives one AWS account its root e-mail from the pool, with the
# checks a module can make itself: `terraform test` can expect the failure of
# a variable's `validation` (expect_failures = [var.owner]), but never of the
# provider's own checks, which are diagnostics, not checkable objects.
# tests/ holds its tests, run with mocks: no table, no Azure account.
terraform {
  required_providers {
    rootmail = {
      source = "rootmail/rootmail"
    }
  }
}

variable "account_name" {
  type        = string
  description = "The AWS account name; also the alias's purpose and claim key."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$", var.account_name))
    error_message = "account_name must be 3 to 50 lower-case letters, digits and dashes."
  }
}

variable "owner" {
  type        = string
  description = "E-mail of the team that owns the account."

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.owner))
    error_message = "owner must be an e-mail address, such as platform-team@company.com."
  }
}

variable "on_destroy" {
  type        = string
  default     = null
  description = "What destroy does with the alias; null keeps the provider's default (retire_if_used)."

  validation {
    condition     = var.on_destroy == null || contains(["retire_if_used", "release", "quarantine", "retire"], coalesce(var.on_destroy, "retire_if_used"))
    error_message = "on_destroy must be retire_if_used, release, quarantine or retire."
  }
}

variable "quarantine_days" {
  type        = number
  default     = null
  description = "Days a quarantined alias rests before reuse (1 to 3650)."

  validation {
    condition     = var.quarantine_days == null || (try(floor(var.quarantine_days) == var.quarantine_days, false) && try(var.quarantine_days >= 1 && var.quarantine_days <= 3650, false))
    error_message = "quarantine_days must be a whole number from 1 to 3650."
  }
}

variable "aws_account_id" {
  type        = string
  default     = null
  description = "The AWS account using the alias, once it exists."

  validation {
    condition     = var.aws_account_id == null || can(regex("^[0-9]{12}$", coalesce(var.aws_account_id, "000000000000")))
    error_message = "aws_account_id must be the 12-digit id of an AWS account."
  }
}

resource "rootmail_alias" "this" {
  owner           = var.owner
  purpose         = var.account_name
  claim_key       = "${terraform.workspace}-${var.account_name}"
  on_destroy      = var.on_destroy
  quarantine_days = var.quarantine_days
}

resource "rootmail_alias_account" "this" {
  count          = var.aws_account_id == null ? 0 : 1
  email          = rootmail_alias.this.email
  aws_account_id = var.aws_account_id
}

output "email" {
  value = rootmail_alias.this.email

  precondition {
    # What aws_organizations_account will accept: one @, no spaces.
    condition     = can(regex("^[^@\\s]+@[^@\\s]+$", rootmail_alias.this.email))
    error_message = "The alias is not an e-mail address."
  }
}

output "on_destroy" {
  value = rootmail_alias.this.on_destroy
}
