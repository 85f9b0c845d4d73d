terraform {
  # check blocks need Terraform 1.5 (or OpenTofu 1.6).
  required_version = ">= 1.5"
  required_providers {
    rootmail = {
      source = "rootmail/rootmail"
    }
  }
}

provider "rootmail" {
  storage_account = "companyrootmail"
  use_azuread     = true
}
