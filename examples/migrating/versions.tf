terraform {
  # import blocks with for_each need Terraform 1.7 (or OpenTofu 1.7).
  required_version = ">= 1.7"
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
