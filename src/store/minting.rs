//! Minting: plus addresses made on demand for a registered mailbox, beside
//! the Exchange aliases. Exchange Online delivers `local+anything@domain` to
//! the recipient that has `local@domain` (plus addressing, on by default in
//! every tenant since 2022), so such an address needs no alias, no
//! PowerShell, and does not count against the mailbox's limit.
//!
//! - A [`MintingMailbox`] is registered in a partition of its own beside the
//!   pool's ([`registry_partition`]): every read of the pool's partition (this
//!   provider's, and older versions') never sees it, and it keeps
//!   `in_use = true` and no address, so a tool that reads the whole table
//!   looking for `in_use eq false` never takes it for a free alias either.
//! - A minted row is an ordinary row of the pool in the seed's layout, with
//!   `minted = true`, inserted already claimed (an insert fails if the row
//!   exists). Its row key is derived from its address ([`address_row_key`], as for an address an audit imports),
//!   so two claims that minted the same address can never both insert it.
//!   It keeps `in_use = true` even when released: older tools, which read
//!   only `in_use`, never hand it out; its `status` column says it is free.
//! - [`AddressSource`] says whether a claim takes aliases, minted addresses,
//!   or aliases first.
//!
//! Nothing here does I/O; `pool/minting.rs` reads and writes registrations.

use std::fmt;

use rand::Rng;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::address::{
    address_row_key, check_aws_email, normalize_email, plus_base, AWS_EMAIL_LENGTH,
};
use super::error::StoreError;
use super::row::{col, put_time, status_value};
use crate::azure::table::Entity;

/// Which addresses a claim may hand out (the `address_source` setting and
/// the per-resource override).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum AddressSource {
    /// Only Exchange aliases: a claim never mints (today's behaviour) and
    /// never hands out a minted address.
    #[default]
    AliasesOnly,
    /// Aliases while there are free ones, then minted addresses (a released
    /// minted address first, then a new one).
    PreferAliases,
    /// Only minted addresses.
    MintedOnly,
}

impl AddressSource {
    /// Every value, in the order the docs list them.
    pub const ALL: [AddressSource; 3] = [
        AddressSource::AliasesOnly,
        AddressSource::PreferAliases,
        AddressSource::MintedOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AddressSource::AliasesOnly => "aliases_only",
            AddressSource::PreferAliases => "prefer_aliases",
            AddressSource::MintedOnly => "minted_only",
        }
    }

    /// Parses `aliases_only`, `prefer_aliases` or `minted_only`.
    pub fn parse(text: &str) -> Option<AddressSource> {
        AddressSource::ALL
            .into_iter()
            .find(|s| s.as_str() == text.trim())
    }

    /// True when a claim may take an Exchange alias (a row not minted).
    pub fn takes_aliases(self) -> bool {
        self != AddressSource::MintedOnly
    }

    /// True when a claim may take a minted address, or mint one.
    pub fn takes_minted(self) -> bool {
        self != AddressSource::AliasesOnly
    }

    /// True when a row may go to a claim with this source.
    pub fn admits(self, minted: bool) -> bool {
        if minted {
            self.takes_minted()
        } else {
            self.takes_aliases()
        }
    }
}

impl fmt::Display for AddressSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Characters of a minted id: digits and lower-case letters without `i`,
/// `l`, `o` and `u`, so an address read aloud or retyped stays unambiguous.
const ID_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Length of a minted id: 50 random bits, so ids of one mailbox do not
/// repeat in practice, and an address that did is refused by its row key.
pub const MINTED_ID_LEN: usize = 10;

/// The partition that holds the minting mailboxes registered for the pool
/// in `partition_key`.
pub fn registry_partition(partition_key: &str) -> String {
    format!("{partition_key}{REGISTRY_SUFFIX}")
}

const REGISTRY_SUFFIX: &str = ".minting-mailboxes";

/// True for a partition that holds some pool's minting mailboxes, not aliases.
pub fn is_registry_partition(key: &str) -> bool {
    key.ends_with(REGISTRY_SUFFIX)
}

/// Registration columns beyond the seed's layout.
pub(crate) mod reg_col {
    /// The local part minted addresses extend (`prefix+id@domain`).
    pub const PREFIX: &str = "minting_prefix";
    /// The domain of minted addresses.
    pub const DOMAIN: &str = "minting_domain";
    pub const REGISTERED_AT: &str = "registered_at";
    /// When the admin who registered the mailbox stated that plus
    /// addressing is on in the tenant.
    pub const PLUS_ADDRESSING_CHECKED_AT: &str = "plus_addressing_checked_at";
    /// How the admin checked it, in their words or the command's.
    pub const PLUS_ADDRESSING_CHECK: &str = "plus_addressing_check";
}

/// The check an admin makes before registering a mailbox, recorded with it.
pub const PLUS_ADDRESSING_CHECK: &str = "Exchange Online PowerShell: Get-OrganizationConfig | fl \
DisablePlusAddressInRecipients shows False (plus addressing on in the tenant)";

/// A mailbox that claims may mint plus addresses for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintingMailbox {
    /// The mailbox (`root_mailbox` of the rows minted for it), lower case.
    pub mailbox: String,
    /// The local part minted addresses extend; an address of the mailbox.
    pub prefix: String,
    pub domain: String,
    /// Who registered it (`user_mail`), if given.
    pub registered_by: String,
    pub registered_at: Option<OffsetDateTime>,
    /// When the admin stated that plus addressing is on in the tenant.
    pub plus_addressing_checked_at: Option<OffsetDateTime>,
    /// How they checked it.
    pub plus_addressing_check: String,
    pub(crate) etag: String,
}

/// A freshly minted address and the row key its row gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedAddress {
    pub email: String,
    pub row_key: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::InvalidInput {
        field,
        reason: reason.into(),
    }
}

impl MintingMailbox {
    /// A registration for `mailbox` minting `prefix+id@<mailbox's domain>`
    /// (the prefix defaults to the mailbox's local part). Refuses a mailbox
    /// or prefix whose minted addresses AWS would not accept.
    pub fn new(
        mailbox: &str,
        prefix: Option<&str>,
        registered_by: &str,
    ) -> Result<MintingMailbox, StoreError> {
        let mailbox = normalize_email(mailbox);
        check_aws_email(&mailbox).map_err(|why| invalid("mailbox", why))?;
        let (local, domain) = mailbox
            .split_once('@')
            .ok_or_else(|| invalid("mailbox", "not an e-mail address"))?;
        let prefix = prefix.map_or_else(|| local.to_owned(), |p| p.trim().to_ascii_lowercase());
        check_prefix(&prefix)?;
        let registration = MintingMailbox {
            prefix,
            domain: domain.to_owned(),
            registered_by: registered_by.trim().to_owned(),
            registered_at: None,
            plus_addressing_checked_at: None,
            plus_addressing_check: PLUS_ADDRESSING_CHECK.to_owned(),
            etag: String::new(),
            mailbox: mailbox.clone(),
        };
        let longest = registration.prefix.len() + 1 + MINTED_ID_LEN + 1 + registration.domain.len();
        if longest > *AWS_EMAIL_LENGTH.end() {
            return Err(invalid(
                "prefix",
                format!(
                    "minted addresses `{}+<{MINTED_ID_LEN} characters>@{}` would be {longest} \
                     characters; AWS accepts at most {}: choose a shorter prefix",
                    registration.prefix,
                    registration.domain,
                    AWS_EMAIL_LENGTH.end()
                ),
            ));
        }
        let sample = registration.address_with(&"x".repeat(MINTED_ID_LEN));
        check_aws_email(&sample)
            .map_err(|why| invalid("prefix", format!("minted address {sample}: {why}")))?;
        Ok(registration)
    }

    /// The address plus addresses extend: `prefix@domain`.
    pub fn base_address(&self) -> String {
        format!("{}@{}", self.prefix, self.domain)
    }

    fn address_with(&self, id: &str) -> String {
        format!("{}+{id}@{}", self.prefix, self.domain)
    }

    /// A new address `prefix+<random id>@domain`, lower case, within AWS's
    /// rules, with the row key its row gets.
    pub fn mint(&self) -> MintedAddress {
        let mut rng = rand::rng();
        let id: String = (0..MINTED_ID_LEN)
            .map(|_| char::from(ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())]))
            .collect();
        let email = self.address_with(&id);
        MintedAddress {
            row_key: address_row_key(&email),
            email,
        }
    }

    /// The row of this registration in `partition` (see [`registry_partition`]).
    pub(crate) fn entity(&self, partition: &str, now: OffsetDateTime) -> Entity {
        let mut e = Map::new();
        let mut text = |name: &str, value: &str| {
            e.insert(name.to_owned(), Value::from(value));
        };
        text(col::PARTITION_KEY, partition);
        text(col::ROW_KEY, &self.mailbox);
        text(col::ID, &self.mailbox);
        // Not an alias: no address, and never free for a tool reading only in_use.
        text(col::AWS_MAIL, "");
        text(col::USER_MAIL, &self.registered_by);
        text(col::ROOT_MAILBOX, &self.mailbox);
        text(col::AWS_ACCOUNT_ID, "");
        text(col::STATUS, status_value::MINTING_MAILBOX);
        text(reg_col::PREFIX, &self.prefix);
        text(reg_col::DOMAIN, &self.domain);
        text(reg_col::PLUS_ADDRESSING_CHECK, &self.plus_addressing_check);
        e.insert(col::IN_USE.to_owned(), Value::Bool(true));
        put_time(&mut e, reg_col::REGISTERED_AT, now);
        put_time(&mut e, reg_col::PLUS_ADDRESSING_CHECKED_AT, now);
        e
    }

    /// A registration as read (with `odata.etag`); `None` for a row that is
    /// not one.
    pub(crate) fn from_entity(entity: &Entity) -> Option<MintingMailbox> {
        let text = |name: &str| {
            entity
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let time = |name: &str| {
            entity.get(name).and_then(Value::as_str).and_then(|t| {
                OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })
        };
        if text(col::STATUS) != status_value::MINTING_MAILBOX {
            return None;
        }
        let registration = MintingMailbox {
            mailbox: normalize_email(&text(col::ROOT_MAILBOX)),
            prefix: text(reg_col::PREFIX),
            domain: text(reg_col::DOMAIN),
            registered_by: text(col::USER_MAIL),
            registered_at: time(reg_col::REGISTERED_AT),
            plus_addressing_checked_at: time(reg_col::PLUS_ADDRESSING_CHECKED_AT),
            plus_addressing_check: text(reg_col::PLUS_ADDRESSING_CHECK),
            etag: text("odata.etag"),
        };
        // A row edited by hand into something that would mint addresses AWS
        // refuses is no registration.
        MintingMailbox::new(&registration.mailbox, Some(&registration.prefix), "")
            .ok()
            .filter(|checked| checked.domain == registration.domain)
            .map(|_| registration)
    }

    /// True when `address` is one this mailbox mints: `prefix+tag@domain`.
    pub fn mints(&self, address: &str) -> bool {
        plus_base(address).is_some_and(|base| base == self.base_address())
    }
}

/// Refuses a prefix that cannot start a plus address AWS accepts.
fn check_prefix(prefix: &str) -> Result<(), StoreError> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    let reason = if prefix.is_empty() {
        "must not be empty".to_owned()
    } else if let Some(c) = prefix.chars().find(|c| !ok_char(*c)) {
        format!(
            "character {c:?}: a prefix is letters, digits, `.`, `_` and `-` (it must be an \
             address of the mailbox, and `+` starts the minted part)"
        )
    } else if prefix.starts_with('.') || prefix.ends_with('.') || prefix.contains("..") {
        "a dot may not start or end it, nor follow another".to_owned()
    } else {
        return Ok(());
    };
    Err(invalid("prefix", reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::address::FORBIDDEN_IN_LOCAL_PART;

    #[test]
    fn minted_addresses_keep_to_aws_rules() {
        let m = MintingMailbox::new("AWS@Company.com", None, "admin@company.com").expect("ok");
        assert_eq!(
            (m.mailbox.as_str(), m.prefix.as_str()),
            ("aws@company.com", "aws")
        );
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let a = m.mint();
            assert_eq!(check_aws_email(&a.email), Ok(()), "{}", a.email);
            assert_eq!(a.email, a.email.to_ascii_lowercase());
            assert!(!a
                .email
                .chars()
                .any(|c| FORBIDDEN_IN_LOCAL_PART.contains(&c)));
            assert!(m.mints(&a.email) && m.mints(&a.email.to_ascii_uppercase()));
            assert_eq!(a.row_key, address_row_key(&a.email.to_ascii_uppercase()));
            assert!(uuid::Uuid::parse_str(&a.row_key).is_ok());
            assert!(seen.insert(a.email), "an id repeated");
        }
        assert!(!m.mints("aws@company.com") && !m.mints("other+x@company.com"));
    }

    #[test]
    fn prefixes_and_lengths_aws_would_refuse_are_refused() {
        let at_limit = format!(
            "{}@company.com",
            "a".repeat(64 - 1 - MINTED_ID_LEN - 1 - 11)
        );
        let m = MintingMailbox::new(&at_limit, None, "").expect("exactly 64");
        assert_eq!(m.mint().email.len(), 64);
        let long = format!("a{at_limit}");
        let err = MintingMailbox::new(&long, None, "")
            .expect_err("65")
            .to_string();
        assert!(err.contains("at most 64"), "{err}");
        for bad in ["", "a+b", "a b", "a(b", ".a", "a..b", "ä"] {
            assert!(
                MintingMailbox::new("aws@company.com", Some(bad), "").is_err(),
                "{bad:?}"
            );
        }
        let m = MintingMailbox::new("comp001@company.com", Some("Root.Mail"), "").expect("ok");
        assert_eq!(m.base_address(), "root.mail@company.com");
        assert!(MintingMailbox::new("not-an-address", None, "").is_err());
    }

    #[test]
    fn registrations_round_trip_and_others_are_not_registrations() {
        let m = MintingMailbox::new("aws@company.com", Some("root"), "a@company.com").expect("ok");
        let mut e = m.entity(&registry_partition("root"), OffsetDateTime::now_utc());
        assert_eq!(
            e[col::IN_USE],
            Value::Bool(true),
            "never free for older tools"
        );
        assert_eq!(e[col::AWS_MAIL], "", "not an alias");
        e.insert("odata.etag".into(), "W/\"1\"".into());
        let read = MintingMailbox::from_entity(&e).expect("registration");
        assert_eq!(
            (read.prefix.as_str(), read.etag.as_str()),
            ("root", "W/\"1\"")
        );
        assert!(read.plus_addressing_checked_at.is_some());
        e.insert(col::STATUS.into(), "claimed".into());
        assert_eq!(MintingMailbox::from_entity(&e), None);
    }

    #[test]
    fn sources_parse_and_say_what_they_take() {
        for s in AddressSource::ALL {
            assert_eq!(AddressSource::parse(s.as_str()), Some(s));
        }
        assert_eq!(AddressSource::default(), AddressSource::AliasesOnly);
        assert!(!AddressSource::AliasesOnly.admits(true));
        assert!(
            AddressSource::PreferAliases.admits(true) && AddressSource::PreferAliases.admits(false)
        );
        assert!(!AddressSource::MintedOnly.admits(false));
        assert_eq!(AddressSource::parse("always"), None);
    }
}
