# Step 2 of docs/guides/migrating.md: import every alias of the inventory.
# The plan reads only ("N to import, N to change"); the apply adopts each
# alias with a claim token, conditionally on the row not having changed.
locals {
  # Written by the inventory step (inventory/): address => { owner, purpose }.
  # A reviewed file, not a live query, so the set of resources stays stable.
  legacy_aliases = jsondecode(file("${path.module}/legacy-aliases.json"))
}

import {
  for_each = local.legacy_aliases
  to       = rootmail_alias.migrated[each.key]
  id       = each.key
}

resource "rootmail_alias" "migrated" {
  for_each = local.legacy_aliases

  owner   = each.value.owner
  purpose = each.value.purpose != "" ? each.value.purpose : null
}
