terraform {
  required_providers {
    rootmail = {
      source = "rootmail/rootmail"
    }
  }
}

# The pool table of an existing storage account, with Azure AD
# (the identity needs "Storage Table Data Contributor").
provider "rootmail" {
  storage_account = "companyrootmail"
  table           = "awsrootaccounts"
  use_azuread     = true
}
