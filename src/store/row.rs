//! The alias row: an [`AliasRow`] with its [`AliasStatus`] (derived so that
//! old rows, written by the legacy setup script without our extra columns,
//! are understood), whether it may be handed out, and which claim holds it.
//! The table's columns and reading a row from an entity are in `entity`.

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

mod entity;

pub use entity::col;
pub(crate) use entity::{
    check_alias_id, put_time, status_value, to_millis, Columns, SELECT_ALL_KNOWN,
};

/// Where an alias stands, derived from its columns.
///
/// `retired`, `quarantined` and `unroutable` come from the `status` column;
/// otherwise a row is free exactly when `in_use` is false, which is also how
/// older tools read it, except that a minted row keeps `in_use = true` when
/// it is free (so older tools never hand it out) and `status` says `free`.
/// A claimed row without a claim token was claimed by an older tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AliasStatus {
    Free,
    Claimed,
    Quarantined,
    Retired,
    /// Its mailbox does not have the address (found by `rootmail audit
    /// --exchange`): mail to it bounces, so it is never handed out. Kept
    /// `in_use = true` so that older tools skip it too.
    Unroutable,
}

impl AliasStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AliasStatus::Free => status_value::FREE,
            AliasStatus::Claimed => status_value::CLAIMED,
            AliasStatus::Quarantined => status_value::QUARANTINED,
            AliasStatus::Retired => status_value::RETIRED,
            AliasStatus::Unroutable => status_value::UNROUTABLE,
        }
    }

    /// Parses `free`, `claimed`, `quarantined`, `retired` or `unroutable`.
    pub fn parse(text: &str) -> Option<AliasStatus> {
        match text {
            status_value::FREE => Some(AliasStatus::Free),
            status_value::CLAIMED => Some(AliasStatus::Claimed),
            status_value::QUARANTINED => Some(AliasStatus::Quarantined),
            status_value::RETIRED => Some(AliasStatus::Retired),
            status_value::UNROUTABLE => Some(AliasStatus::Unroutable),
            _ => None,
        }
    }
}

impl fmt::Display for AliasStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a row is out of the pool although no one holds it and it is not
/// quarantined or retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unusable {
    /// AWS would refuse its address.
    AddressRefused,
    /// An AWS account used it, and AWS never frees a root address.
    UsedByAccount,
    /// Its mailbox does not have the address (marked by `rootmail audit`).
    Unroutable,
}

impl Unusable {
    pub fn as_str(self) -> &'static str {
        match self {
            Unusable::AddressRefused => "address_aws_refuses",
            Unusable::UsedByAccount => "used_by_aws_account",
            Unusable::Unroutable => "unroutable",
        }
    }
}

/// The random value a claim writes to its row. Carrying it is not
/// ownership on its own (see [`Claim`]): the old function app rewrites rows
/// whole and keeps it when it hands the row to someone else.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClaimToken(String);

impl ClaimToken {
    /// A fresh random token.
    pub fn generate() -> ClaimToken {
        ClaimToken(uuid::Uuid::new_v4().to_string())
    }

    /// Wraps a token read back from Terraform state. Empty strings are not tokens.
    pub fn new(value: impl Into<String>) -> Option<ClaimToken> {
        let value = value.into();
        if value.trim().is_empty() {
            None
        } else {
            Some(ClaimToken(value))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClaimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not a credential, but enough to release an alias: keep it out of logs.
        f.write_str("ClaimToken(<redacted>)")
    }
}

/// One alias as read from the table.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasRow {
    pub partition_key: String,
    /// The RowKey (a GUID), the alias's stable id.
    pub id: String,
    /// The alias address (`aws_mail`).
    pub email: String,
    pub in_use: bool,
    /// Who asked for it (`user_mail`); empty when free.
    pub owner: String,
    /// The shared mailbox that receives its mail.
    pub root_mailbox: String,
    /// The AWS account using it; empty until linked.
    pub aws_account_id: String,
    /// Free text about what it is for.
    pub purpose: String,
    /// The token of the current claim; `None` when free or when an older
    /// tool claimed it.
    pub claim_token: Option<ClaimToken>,
    /// The idempotency key the claim was made with, if any.
    pub claim_key: Option<String>,
    /// True while a claim made with `claim_key` has not been handed to its
    /// caller: only such a claim may be resumed by that key.
    pub claim_pending: bool,
    /// When this provider claimed it (millisecond precision).
    pub claimed_at: Option<OffsetDateTime>,
    /// When a quarantine ends.
    pub reusable_after: Option<OffsetDateTime>,
    pub status: AliasStatus,
    /// The AWS account that used the alias (`used_by_account`), kept after
    /// unlinking; empty when none was recorded.
    pub used_by: String,
    /// Why the row was retired, if this store retired it.
    pub retired_reason: String,
    /// The used account whose e-mail was changed away from this address
    /// (`freed_from_account`); empty when none was stated.
    pub freed_from: String,
    /// Why the row is unroutable, if the audit marked it so.
    pub unroutable_reason: String,
    /// Minted on demand for a minting mailbox (`minted`), not an Exchange alias.
    pub minted: bool,
    pub(crate) etag: String,
    pub(crate) columns: Columns,
}

impl AliasRow {
    /// The row's ETag when it was read (changes on every write).
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// True when a quarantined row's waiting time is over.
    pub fn quarantine_over(&self, now: OffsetDateTime) -> bool {
        self.status == AliasStatus::Quarantined && self.reusable_after.is_some_and(|t| t <= now)
    }

    /// The AWS account AWS binds this address to: the recorded use, or for
    /// rows written before that column existed, the current link; none once
    /// that account's e-mail was changed away from it (`freed_from`).
    pub fn used_by_account(&self) -> Option<&str> {
        [self.used_by.as_str(), self.aws_account_id.as_str()]
            .into_iter()
            .find(|a| !a.trim().is_empty() && *a != self.freed_from)
    }

    /// Why a claim must not hand this row out even though it is claimable by
    /// status: an address AWS refuses, or a free alias an account already
    /// used (AWS never gives a root address back). `None` when it may go out.
    pub fn handout_refusal(&self) -> Option<String> {
        self.refusal().map(|(_, why)| why)
    }

    fn refusal(&self) -> Option<(Unusable, String)> {
        if let Err(problem) = super::address::check_aws_email(&self.email) {
            return Some((
                Unusable::AddressRefused,
                format!("its address is not one AWS accepts: {problem}"),
            ));
        }
        if self.status == AliasStatus::Free {
            if let Some(account) = self.used_by_account() {
                return Some((
                    Unusable::UsedByAccount,
                    format!("AWS account {account} used it, and AWS never frees a root address"),
                ));
            }
        }
        None
    }

    /// Why a row a claim could take by its status (free, or its quarantine
    /// is over) is still never handed out ([`AliasRow::handout_refusal`]),
    /// or why an unroutable row is out of the pool; `None` for every other
    /// row. The pool's counts, the CLI's listing and the claim all sort
    /// rows with it, so they agree.
    pub fn unusable(&self, now: OffsetDateTime) -> Option<(Unusable, String)> {
        if self.status == AliasStatus::Unroutable {
            let why = match self.unroutable_reason.trim() {
                "" => "unroutable: its mailbox does not have the address".to_owned(),
                why => format!("unroutable: {why}"),
            };
            return Some((Unusable::Unroutable, why));
        }
        let claimable = self.status == AliasStatus::Free || self.quarantine_over(now);
        claimable.then(|| self.refusal()).flatten()
    }

    /// The text of [`AliasRow::unusable`].
    pub fn unusable_reason(&self, now: OffsetDateTime) -> Option<String> {
        self.unusable(now).map(|(_, why)| why)
    }

    /// True for a free row that still carries a claim token: an older tool
    /// released it keeping this provider's columns (it rewrites rows whole),
    /// or a release was cut short. Nobody holds it.
    pub fn has_stale_claim_token(&self) -> bool {
        self.status == AliasStatus::Free && self.claim_token.is_some()
    }

    /// True when this row carries exactly this token: enough to tell that a
    /// write of ours landed, never enough for ownership (see [`AliasRow::holds`]).
    pub fn carries(&self, token: &ClaimToken) -> bool {
        self.claim_token.as_ref() == Some(token)
    }

    /// The claim this row carries as it is now, if it is claimed with a token.
    pub fn claim(&self) -> Option<Claim> {
        Some(Claim {
            token: self.claim_token.clone()?,
            owner: self.owner.clone(),
            claimed_at: self.claimed_at,
        })
        .filter(|_| self.status == AliasStatus::Claimed)
    }

    /// THE ownership predicate, used by every read, release, update and link
    /// of a held alias: the row is claimed and carries the claim's token,
    /// owner and claim time exactly as its holder last saw them.
    pub fn holds(&self, claim: &Claim) -> bool {
        self.not_held_because(claim).is_none()
    }

    /// Why [`AliasRow::holds`] is false for `claim`, if it is.
    pub fn not_held_because(&self, claim: &Claim) -> Option<NotHeldReason> {
        if self.status != AliasStatus::Claimed {
            Some(NotHeldReason::Status(self.status))
        } else if !self.carries(&claim.token) {
            Some(NotHeldReason::Token)
        } else if self.owner != claim.owner {
            Some(NotHeldReason::Owner {
                now: self.owner.clone(),
            })
        } else if self.claimed_at != claim.claimed_at {
            Some(NotHeldReason::ClaimedAt {
                now: self.claimed_at,
            })
        } else {
            None
        }
    }
}

/// One claim as its holder last saw it: the token it wrote, and the owner
/// and claim time the row showed. A row is held by the claim only while all
/// three are unchanged and the row is claimed, because the old function app
/// rewrites rows whole: when it releases an alias and hands it to someone
/// else, the row keeps our token but gets a new owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub token: ClaimToken,
    /// `user_mail` as last seen.
    pub owner: String,
    /// `claimed_at` as last seen.
    pub claimed_at: Option<OffsetDateTime>,
}

/// Why a row is not held by a claim (see [`AliasRow::holds`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotHeldReason {
    /// It is not claimed any more (released, quarantined or retired).
    Status(AliasStatus),
    /// It carries another claim's token, or none.
    Token,
    /// Its owner changed: re-issued by another tool.
    Owner { now: String },
    /// Its claim time changed: claimed anew.
    ClaimedAt { now: Option<OffsetDateTime> },
}

impl fmt::Display for NotHeldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotHeldReason::Status(s) => write!(f, "it is {s} now"),
            NotHeldReason::Token => f.write_str("it carries another claim's token"),
            NotHeldReason::Owner { now } if now.is_empty() => {
                f.write_str("its owner was cleared (it was released by another tool)")
            }
            NotHeldReason::Owner { now } => write!(
                f,
                "it was handed to `{now}` by another tool (its owner changed)"
            ),
            NotHeldReason::ClaimedAt { now } => write!(
                f,
                "it was claimed anew (claim time now {})",
                now.and_then(|t| t.format(&Rfc3339).ok())
                    .unwrap_or_else(|| "(none)".to_owned())
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_token_debug_is_redacted() {
        let t = ClaimToken::generate();
        assert!(!format!("{t:?}").contains(t.as_str()));
        assert_eq!(ClaimToken::new("  "), None);
    }
}
