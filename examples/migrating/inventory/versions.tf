terraform {
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
