//! `address_source` of `rootmail_alias` (which addresses its claim may take:
//! Exchange aliases, plus addresses minted on demand, or aliases first) and
//! `source` (which one it got). Minting itself lives in the store
//! (`store/minting.rs`, `store/pool/mint.rs`).

use serde::{Deserialize, Serialize};

use crate::store::{AddressSource, StoreError};
use crate::tfplugin::Diagnostic;

/// The attributes.
pub const ADDRESS_SOURCE: &str = "address_source";
pub const SOURCE: &str = "source";

/// `address_source` as the configuration writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressSourceChoice {
    AliasesOnly,
    PreferAliases,
    MintedOnly,
}

impl From<AddressSourceChoice> for AddressSource {
    fn from(choice: AddressSourceChoice) -> Self {
        match choice {
            AddressSourceChoice::AliasesOnly => AddressSource::AliasesOnly,
            AddressSourceChoice::PreferAliases => AddressSource::PreferAliases,
            AddressSourceChoice::MintedOnly => AddressSource::MintedOnly,
        }
    }
}

/// The description of `address_source`.
pub const ATTRIBUTE_DOC: &str = "Which addresses this claim may take, overriding the provider's \
`address_source`: `aliases_only` (only Exchange aliases; fails when none is free), `prefer_aliases` (a free \
alias while there is one, otherwise a plus address minted for a minting mailbox) or `minted_only`. Used when \
the alias is claimed; changing it later changes nothing in the table.";

/// The description of `source`.
pub const SOURCE_DOC: &str =
    "`alias` when the address is an Exchange alias of the pool, `minted` when it is \
a plus address minted on demand for a minting mailbox.";

/// The docs section about minting (shown above the argument reference).
pub const DOCS: &str = "### When the pool runs dry: minted plus addresses\n\n\
Exchange Online delivers `local+anything@domain` to the mailbox that has `local@domain` (plus addressing, on by \
default in every tenant since 2022), and AWS accepts `+` in a root address. With a minting mailbox registered \
(`rootmail pool add-minting-mailbox aws@company.com`, after checking that plus addressing is on) and \
`address_source = \"prefer_aliases\"` (in the provider block or on the resource), a claim that finds no free alias \
mints a new address such as `aws+k3j9x2m4pq@company.com` instead of failing: a new row of the pool, inserted \
already claimed in one write that fails if the row exists, so minting is as safe under parallelism as claiming. \
`minted_only` always mints (or reuses a released minted address no AWS account used). Minted addresses are \
ordinary pool rows: the burn rule, `on_destroy`, `rootmail_alias_account`, import, the data sources and \
`rootmail audit` treat them like aliases, and older tools such as the function app never hand them out. With \
the default `aliases_only` nothing is minted and an empty pool fails the apply as before.";

/// The error for a claim that found no alias and could mint none.
pub fn exhausted(e: &StoreError) -> Option<Diagnostic> {
    let StoreError::PoolExhausted { minting, .. } = e else {
        return None;
    };
    let what_to_do = match minting {
        // aliases_only: today's message, and the way out.
        None => "Add aliases to the pool (see `rootmail pool generate` and `rootmail pool import`) and apply again, or let claims mint plus addresses (`address_source = \"prefer_aliases\"` with a minting mailbox)",
        Some(_) => "Register a minting mailbox (`rootmail pool add-minting-mailbox`), or add aliases to the pool (`rootmail pool generate`, `rootmail pool import`), and apply again",
    };
    Some(Diagnostic::error(
        "Alias pool exhausted",
        format!("{e}. {what_to_do}; aliases already claimed in this apply are kept in state."),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tfplugin::model;

    #[test]
    fn the_choices_are_the_stores_sources() {
        let names: Vec<&str> = AddressSource::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(model::variants::<AddressSourceChoice>(), names);
        assert_eq!(
            AddressSource::from(AddressSourceChoice::MintedOnly),
            AddressSource::MintedOnly
        );
    }
}
