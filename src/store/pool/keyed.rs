//! Claim keys: an idempotency key for one claim, as payment APIs have them.
//!
//! - A claim made with a key is *pending* (`claim_pending = true`) until it
//!   is handed to its caller, which happens only after the key was looked
//!   up again (below). A handed-over claim is never given to anyone else by
//!   its key: a later claim with that key fails with [`KeyRefusal::InUse`],
//!   naming it. So two callers that share a key (two Terraform states, a
//!   `terraform test` run beside production) never share an alias, and one's
//!   release never frees the other's.
//! - A pending claim is one whose caller never received it (its process was
//!   killed, or the table became unreachable before the hand-over). The
//!   next claim with its key *resumes* it, with a fresh claim token, if it
//!   asks for the same owner, purpose and mailbox, no AWS account used the
//!   alias, and the claim is less than [`RESUME_WINDOW`] old; otherwise it
//!   fails with the reason ([`KeyRefusal`]), naming the claim.
//! - Claims made with one key at the same moment: each looks the key up
//!   again before its hand-over, and hands over in one entity-group
//!   transaction that also gives back the other pending claims with that key,
//!   conditional on all of them being as read (`hand_over.rs`). Exactly one
//!   such transaction commits; the other claimers find their claim gone or a
//!   handed-over one beside it, give theirs back and fail with
//!   [`KeyRefusal::Raced`]. So a key ends with one claimed row, and no claim
//!   is left without an owner.

use std::collections::HashMap;
use std::fmt;

use futures::future::join_all;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::super::address::same_email;
use super::super::batch::KEYS_PER_QUERY;
use super::super::change::RowChange;
use super::super::error::StoreError;
use super::super::row::{col, AliasRow, AliasStatus, ClaimToken};
use super::{protocol, AliasPool, ClaimRequest, ClaimedAlias};
use crate::azure::odata::{and_all, eq_str, or_any};

/// How long a pending claim can be resumed by its key: long enough for a
/// pipeline to be run again the next day, as payment APIs keep their keys.
pub const RESUME_WINDOW: time::Duration = time::Duration::hours(24);

/// Rounds of look-up and hand-over before giving up (each lost round means
/// another claimer with the same key won or changed a row meanwhile).
pub(super) const MAX_ROUNDS: u32 = 8;

/// The longest claim key, in characters, as the provider's schema checks
/// it at plan time.
pub const MAX_KEY_LEN: usize = 256;

/// A claim a key names, as the error that refuses it shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedClaim {
    pub alias_id: String,
    pub email: String,
    pub owner: String,
    pub purpose: String,
    pub mailbox: String,
    pub claimed_at: Option<OffsetDateTime>,
    /// Not handed to its caller yet.
    pub pending: bool,
}

impl KeyedClaim {
    fn of(row: &AliasRow) -> Box<KeyedClaim> {
        Box::new(KeyedClaim {
            alias_id: row.id.clone(),
            email: row.email.clone(),
            owner: row.owner.clone(),
            purpose: row.purpose.clone(),
            mailbox: row.root_mailbox.clone(),
            claimed_at: row.claimed_at,
            pending: row.claim_pending,
        })
    }

    /// When it was claimed, as RFC 3339.
    pub fn claimed_at_text(&self) -> String {
        self.claimed_at
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| "(unknown)".to_owned())
    }
}

impl fmt::Display for KeyedClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "alias `{}` (owner `{}`, purpose `{}`, mailbox `{}`, claimed at {})",
            self.email,
            self.owner,
            self.purpose,
            self.mailbox,
            self.claimed_at_text()
        )
    }
}

/// Why a claim key gives its caller no claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRefusal {
    /// The key names a claim that was handed to its caller: someone holds it.
    InUse,
    /// The key names a pending claim made with other settings.
    Settings { differ: Vec<&'static str> },
    /// The key names a pending claim of an alias an AWS account used.
    Used { account: String },
    /// The key names a pending claim older than [`RESUME_WINDOW`].
    Expired,
    /// Another claim with the same key, made at the same moment, was
    /// handed over; this one was given back.
    Raced,
}

impl KeyRefusal {
    /// The sentence after "claim key `K` …" in the error message.
    pub(in crate::store) fn describe(&self, existing: &KeyedClaim) -> String {
        match self {
            KeyRefusal::InUse => format!(
                "already names {existing}, which was handed to the claimer that made it; it is \
                 never given to another claim"
            ),
            KeyRefusal::Settings { differ } => format!(
                "names the interrupted claim of {existing}, made with another {}; it is resumed \
                 only with the same owner, purpose and mailbox",
                differ.join(" and ")
            ),
            KeyRefusal::Used { account } => format!(
                "names the interrupted claim of {existing}, which AWS account {account} used; \
                 such a claim is never resumed"
            ),
            KeyRefusal::Expired => format!(
                "names the interrupted claim of {existing}, more than {} hours old; it is resumed \
                 only within {} hours",
                RESUME_WINDOW.whole_hours(),
                RESUME_WINDOW.whole_hours()
            ),
            KeyRefusal::Raced => format!(
                "was used by another claim at the same moment, which got {existing}; this claim \
                 was given back"
            ),
        }
    }
}

pub(super) fn taken(key: &str, row: &AliasRow, refusal: KeyRefusal) -> StoreError {
    StoreError::ClaimKeyTaken {
        key: key.to_owned(),
        existing: KeyedClaim::of(row),
        refusal,
    }
}

/// Refuses a key no claim may carry: empty or overlong.
pub(in crate::store) fn check_key(key: &str) -> Result<(), StoreError> {
    let chars = key.chars().count();
    let reason = if key.is_empty() {
        "must not be empty".to_owned()
    } else if chars > MAX_KEY_LEN {
        format!("{chars} characters, more than the {MAX_KEY_LEN} allowed")
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidInput {
        field: "claim_key",
        reason,
    })
}

/// The pending claim a request may resume among the claims its key names
/// (the oldest, with the others to give back), none when the key names no
/// claim, or why not.
fn choose<'a>(
    request: &ClaimRequest,
    key: &str,
    found: &'a [AliasRow],
    now: OffsetDateTime,
) -> Result<Option<(&'a AliasRow, Vec<&'a AliasRow>)>, StoreError> {
    if let Some(held) = found.iter().find(|r| !r.claim_pending) {
        return Err(taken(key, held, KeyRefusal::InUse));
    }
    let Some(oldest) = found.iter().min_by_key(|r| (r.claimed_at, r.id.clone())) else {
        return Ok(None);
    };
    if let Some(account) = oldest.used_by_account() {
        let account = account.to_owned();
        return Err(taken(key, oldest, KeyRefusal::Used { account }));
    }
    if oldest
        .claimed_at
        .is_none_or(|t| now - t > RESUME_WINDOW || t > now + RESUME_WINDOW)
    {
        return Err(taken(key, oldest, KeyRefusal::Expired));
    }
    let mut differ = Vec::new();
    if oldest.owner != request.owner {
        differ.push("owner");
    }
    if oldest.purpose != request.purpose {
        differ.push("purpose");
    }
    if request
        .mailbox
        .as_deref()
        .is_some_and(|m| !same_email(m, &oldest.root_mailbox))
    {
        differ.push("mailbox");
    }
    if !differ.is_empty() {
        return Err(taken(key, oldest, KeyRefusal::Settings { differ }));
    }
    let others = found.iter().filter(|r| r.id != oldest.id).collect();
    Ok(Some((oldest, others)))
}

impl AliasPool {
    /// Every claimed row that carries one of `keys`, by key, with all its
    /// columns (a release may replace it whole).
    pub(in crate::store) async fn claims_with_keys(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, Vec<AliasRow>>, StoreError> {
        let io = &self.io;
        let queries = keys.chunks(KEYS_PER_QUERY).map(|chunk| {
            let filter = and_all([
                eq_str(col::PARTITION_KEY, &io.partition_key),
                or_any(chunk.iter().map(|k| eq_str(col::CLAIM_KEY, k))),
            ]);
            async move { io.query_all(&filter, None).await }
        });
        let mut found: HashMap<String, Vec<AliasRow>> = HashMap::new();
        for page in join_all(queries).await {
            for entity in page? {
                let row = AliasRow::from_full_entity(&entity, None)
                    .map_err(|m| protocol("look up claim key", m))?;
                match &row.claim_key {
                    Some(k) if row.status == AliasStatus::Claimed && keys.contains(k) => {
                        found.entry(k.clone()).or_default().push(row)
                    }
                    _ => {}
                }
            }
        }
        Ok(found)
    }

    pub(super) async fn claims_with_key(&self, key: &str) -> Result<Vec<AliasRow>, StoreError> {
        let keys = [key.to_owned()];
        Ok(self
            .claims_with_keys(&keys)
            .await?
            .remove(key)
            .unwrap_or_default())
    }

    /// Refuses to write `key` to `alias_id` when another claimed row carries
    /// it (renaming a key, or taking an alias over with one). A row that
    /// carries it already keeps it: nothing changes.
    pub(in crate::store) async fn refuse_key_held_elsewhere(
        &self,
        key: &str,
        alias_id: &str,
    ) -> Result<(), StoreError> {
        let found = self.claims_with_key(key).await?;
        if found.iter().any(|r| r.id == alias_id) {
            return Ok(());
        }
        match found.first() {
            Some(other) => Err(taken(key, other, KeyRefusal::InUse)),
            None => Ok(()),
        }
    }

    /// What a keyed request gets from the claims its key names (`found`, as
    /// just looked up): the resumed pending claim, `None` when the key names
    /// no claim (claim a new alias), or a [`StoreError::ClaimKeyTaken`].
    pub(in crate::store) async fn resume_by_key(
        &self,
        request: &ClaimRequest,
        key: &str,
        mut found: Vec<AliasRow>,
    ) -> Result<Option<ClaimedAlias>, StoreError> {
        for round in 0..MAX_ROUNDS {
            if round > 0 {
                found = self.claims_with_key(key).await?;
            }
            let Some((pending, others)) = choose(request, key, &found, OffsetDateTime::now_utc())?
            else {
                return Ok(None);
            };
            let token = ClaimToken::generate();
            let change = RowChange {
                claim_token: Some(Some(token.clone())),
                claim_pending: Some(false),
                ..RowChange::default()
            };
            let landed = |now: &AliasRow| now.carries(&token);
            if let Some(row) = self
                .write_with_rivals(pending, &change, &others, "resume claim", landed)
                .await?
            {
                tracing::info!(alias_id = %row.id, "resumed an interrupted claim by its claim key");
                return Ok(Some(ClaimedAlias {
                    resumed: true,
                    ..ClaimedAlias::new(row, token)
                }));
            }
        }
        Err(StoreError::Contended {
            alias_id: format!("(claim key `{key}`)"),
            attempts: MAX_ROUNDS,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn row(id: &str, pending: bool, owner: &str, at: OffsetDateTime) -> AliasRow {
        let at = at.format(&Rfc3339).expect("time");
        let Value::Object(e) = json!({
            "PartitionKey": "root", "RowKey": id, "aws_mail": format!("aws_{id}@company.com"),
            "in_use": true, "user_mail": owner, "root_mailbox": "box@company.com",
            "purpose": "p", "claim_token": "t", "claim_key": "k", "claimed_at": at,
            "status": "claimed", "claim_pending": pending,
        }) else {
            unreachable!()
        };
        AliasRow::from_entity(&e, Some("e")).expect("row")
    }

    fn request(owner: &str) -> ClaimRequest {
        ClaimRequest {
            owner: owner.into(),
            purpose: "p".into(),
            mailbox: Some("BOX@company.com".into()),
            claim_key: Some("k".into()),
            source: None,
        }
    }

    #[test]
    fn only_a_recent_pending_claim_with_the_same_settings_is_resumed() {
        let now = OffsetDateTime::now_utc();
        let refusal =
            |found: &[AliasRow], owner: &str| match choose(&request(owner), "k", found, now) {
                Err(StoreError::ClaimKeyTaken { refusal, .. }) => Some(refusal),
                Err(e) => panic!("{e}"),
                Ok(_) => None,
            };
        let pending = row("a", true, "o@company.com", now);
        assert_eq!(
            refusal(std::slice::from_ref(&pending), "o@company.com"),
            None
        );
        assert_eq!(
            refusal(
                &[pending.clone(), row("b", false, "o@company.com", now)],
                "o@company.com"
            ),
            Some(KeyRefusal::InUse),
            "a handed-over claim wins over any pending one"
        );
        assert_eq!(
            refusal(std::slice::from_ref(&pending), "x@company.com"),
            Some(KeyRefusal::Settings {
                differ: vec!["owner"]
            })
        );
        let old = row("a", true, "o@company.com", now - time::Duration::hours(25));
        assert_eq!(refusal(&[old], "o@company.com"), Some(KeyRefusal::Expired));
        let mut used = pending.clone();
        used.used_by = "123456789012".into();
        assert!(matches!(
            refusal(&[used], "o@company.com"),
            Some(KeyRefusal::Used { .. })
        ));
        // The oldest of several pending claims is resumed, the others given back.
        let newer = row("b", true, "o@company.com", now + time::Duration::seconds(1));
        let both = [newer, pending];
        let (chosen, others) = choose(&request("o@company.com"), "k", &both, now)
            .expect("resumable")
            .expect("a claim");
        assert_eq!((chosen.id.as_str(), others.len()), ("a", 1));
        assert!(choose(&request("o@company.com"), "k", &[], now)
            .expect("nothing")
            .is_none());
    }

    #[test]
    fn keys_are_checked_like_the_schema_checks_them() {
        assert!(check_key("k").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key(&"k".repeat(MAX_KEY_LEN + 1)).is_err());
        assert!(
            check_key(&"ü".repeat(MAX_KEY_LEN)).is_ok(),
            "characters, not bytes"
        );
    }
}
