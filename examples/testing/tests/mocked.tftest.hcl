# Tests of the module with the provider mocked: nothing is claimed, no table
# is needed. `mock_provider` fills computed attributes it has no value for
# with random text, which is not an e-mail address, not an `on_destroy`
# value and not a number of days: give them valid defaults.
mock_provider "rootmail" {
  mock_resource "rootmail_alias" {
    defaults = {
      id                     = "aws_00000000-0000-4000-8000-000000000001@company.com"
      email                  = "aws_00000000-0000-4000-8000-000000000001@company.com"
      alias_id               = "00000000-0000-4000-8000-000000000001"
      mailbox                = "comp001@company.com"
      claimed_at             = "2025-01-01T00:00:00Z"
      claim_token            = "00000000-0000-4000-8000-00000000000a"
      status                 = "claimed"
      aws_account_id         = ""
      used_by_aws_account_id = ""
      on_destroy             = "retire_if_used"
      quarantine_days        = 90
    }
  }

  mock_resource "rootmail_alias_account" {
    defaults = {
      id = "aws_00000000-0000-4000-8000-000000000001@company.com"
    }
  }
}

variables {
  account_name = "workload-prod"
  owner        = "platform-team@company.com"
}

run "the_account_gets_a_valid_root_email" {
  assert {
    condition     = output.email == "aws_00000000-0000-4000-8000-000000000001@company.com"
    error_message = "The mocked alias should be the account's root e-mail."
  }

  assert {
    condition     = output.on_destroy == "retire_if_used"
    error_message = "The default on_destroy should retire an alias an account used."
  }

  assert {
    condition     = rootmail_alias.this.quarantine_days == 90
    error_message = "quarantine_days should be the provider's default."
  }
}

run "the_link_is_made_once_the_account_exists" {
  variables {
    aws_account_id = "123456789012"
  }

  assert {
    condition     = rootmail_alias_account.this[0].aws_account_id == "123456789012"
    error_message = "The alias should be linked to the account."
  }
}

# The module's own checks can be expected to fail; the provider's cannot.
run "an_owner_that_is_not_an_address_is_refused" {
  command = plan

  variables {
    owner = "platform team"
  }

  expect_failures = [var.owner]
}

run "quarantine_days_out_of_range_is_refused" {
  command = plan

  variables {
    on_destroy      = "quarantine"
    quarantine_days = 0
  }

  expect_failures = [var.quarantine_days]
}

run "an_account_id_that_is_not_twelve_digits_is_refused" {
  command = plan

  variables {
    aws_account_id = "12345"
  }

  expect_failures = [var.aws_account_id]
}
