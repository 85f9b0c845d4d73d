# override_resource: one resource gets other values than the mocked
# provider's defaults (in a file of its own: each file has its own state, so
# no earlier run has created the alias already).
mock_provider "rootmail" {
  mock_resource "rootmail_alias" {
    defaults = {
      on_destroy      = "retire_if_used"
      quarantine_days = 90
    }
  }
}

variables {
  account_name = "workload-prod"
  owner        = "platform-team@company.com"
}

run "an_alias_of_another_mailbox" {
  override_resource {
    target = rootmail_alias.this
    values = {
      email   = "aws_00000000-0000-4000-8000-000000000002@company.com"
      mailbox = "comp002@company.com"
    }
  }

  assert {
    condition     = output.email == "aws_00000000-0000-4000-8000-000000000002@company.com"
    error_message = "The overridden alias should be used."
  }

  assert {
    condition     = rootmail_alias.this.mailbox == "comp002@company.com"
    error_message = "The overridden mailbox should be kept."
  }
}
