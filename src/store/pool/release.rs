//! Releasing one row: what a release writes ([`ReleaseChange`], decided on
//! the row as read) and the careful path (read, check the claim, write
//! conditionally, look again on 412). The coalesced releases of
//! `release_batch.rs` write the same change and fall back to this path.

use time::OffsetDateTime;

use super::super::change::RowChange;
use super::super::conditional::Written;
use super::super::error::StoreError;
use super::super::row::check_alias_id;
use super::super::row::{col, to_millis, AliasRow, AliasStatus, Claim, ClaimToken};
use super::{protocol, AliasPool, DEFAULT_QUARANTINE_DAYS};
use crate::azure::table::{Entity, Write};

/// What happens to an alias on release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReleasePolicy {
    /// The safe default: free again if no AWS account ever used the alias,
    /// otherwise retired with the account recorded (AWS never gives a root
    /// address back, not even after the account is closed).
    #[default]
    RetireIfUsed,
    /// Free again at once (`in_use = false`, owner/link/purpose/token
    /// cleared), even if an account used it: the caller asserts the address is
    /// free in AWS again (that account's e-mail was changed). The use stays
    /// recorded, with that account in `freed_from_account`.
    Release,
    /// Kept out of circulation for `days` (stays `in_use = true`), then only
    /// this provider hands it out again; a use is kept as with `Release`.
    Quarantine { days: u32 },
    /// Never handed out again.
    Retire,
}

impl ReleasePolicy {
    /// Quarantine for [`DEFAULT_QUARANTINE_DAYS`].
    pub fn quarantine() -> ReleasePolicy {
        ReleasePolicy::Quarantine {
            days: DEFAULT_QUARANTINE_DAYS,
        }
    }
}

/// The result of a release. Not holding the alias any more is an outcome,
/// not an error: releasing twice is fine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseOutcome {
    Released,
    Quarantined {
        reusable_after: OffsetDateTime,
    },
    Retired,
    /// The row is no longer held by this claim (already released, taken
    /// over, or re-issued whole by another tool); nothing was changed.
    NotHeld {
        status: AliasStatus,
    },
    /// The row does not exist; nothing was changed.
    Missing,
}

/// The columns this store adds to legacy rows that describe a claim; a
/// released row loses them. The history (`used_by_account`, the reason,
/// `freed_from_account`) stays whatever happens: it is what keeps claims
/// away from an address AWS still binds to an account.
const CLAIM_COLUMNS: [&str; 7] = [
    col::CLAIM_TOKEN,
    col::CLAIM_KEY,
    col::CLAIMED_AT,
    col::PURPOSE,
    col::STATUS,
    col::REUSABLE_AFTER,
    col::CLAIM_PENDING,
];

/// What a release writes into a row, decided on the row as read: the write
/// is conditional on that very version, so a link made meanwhile forces a
/// new look (and a new decision).
#[derive(Debug, Clone)]
pub(in crate::store) struct ReleaseChange {
    /// The policy as it applies to this row (the default picks by use).
    pub policy: ReleasePolicy,
    pub body: Entity,
    pub write: Write,
    reusable_after: Option<OffsetDateTime>,
}

impl ReleaseChange {
    /// The release of `row` (read as `entity`) with `policy`.
    pub fn new(
        entity: &Entity,
        row: &AliasRow,
        policy: ReleasePolicy,
        now: OffsetDateTime,
    ) -> ReleaseChange {
        let policy = resolve(policy, row);
        let given_back = RowChange {
            claim_token: Some(None),
            claim_key: Some(None),
            claim_pending: row.claim_pending.then_some(false),
            ..RowChange::default()
        };
        // Giving back an alias an account used: asked for explicitly, so
        // that account's e-mail was changed. The use stays on record (a
        // link alone is written down), and so does the statement.
        let used = row.used_by_account().map(str::to_owned);
        let freed = RowChange {
            used_by: used.clone().filter(|a| *a != row.used_by),
            freed_from: used,
            ..RowChange::default()
        };
        let change = match policy {
            // The legacy columns set free, written over the row as read
            // (see `released_entity`). A minted row stays in_use = true, so
            // that older tools never hand it out; its status says it is free.
            ReleasePolicy::Release => RowChange {
                in_use: Some(row.minted),
                status: row.minted.then_some(AliasStatus::Free),
                owner: Some(String::new()),
                aws_account_id: Some(String::new()),
                ..freed
            },
            ReleasePolicy::Quarantine { days } => RowChange {
                in_use: Some(true),
                status: Some(AliasStatus::Quarantined),
                reusable_after: Some(to_millis(now + time::Duration::days(i64::from(days)))),
                claim_token: Some(None),
                claim_key: Some(None),
                ..freed
            },
            ReleasePolicy::Retire | ReleasePolicy::RetireIfUsed => {
                let account = row.used_by_account();
                RowChange {
                    in_use: Some(true),
                    status: Some(AliasStatus::Retired),
                    used_by: account.map(str::to_owned),
                    retired_reason: Some(match account {
                        Some(account) => {
                            format!("used by AWS account {account}; AWS never frees a root address")
                        }
                        None => "retired on request".to_owned(),
                    }),
                    ..given_back
                }
            }
        };
        // A plain release puts the row back in the legacy layout: the
        // claim's columns go away; the history and other tools' columns stay.
        let (body, write) = match policy {
            ReleasePolicy::Release => (released_entity(entity, &change), Write::Replace),
            _ => (change.body(), Write::Merge),
        };
        ReleaseChange {
            policy,
            body,
            write,
            reusable_after: change.reusable_after,
        }
    }

    /// True when `now` shows this release applied (after a lost answer).
    pub fn landed(&self, now: &AliasRow, token: &ClaimToken) -> bool {
        !now.carries(token) && now.status == intended_status(self.policy)
    }

    /// The outcome once written; `landed` is the row read back when an
    /// earlier attempt whose answer was lost turned out to have applied.
    pub fn outcome(&self, landed: Option<&AliasRow>) -> ReleaseOutcome {
        match self.policy {
            ReleasePolicy::Release => ReleaseOutcome::Released,
            ReleasePolicy::Quarantine { .. } => ReleaseOutcome::Quarantined {
                reusable_after: landed
                    .map_or(self.reusable_after, |r| r.reusable_after)
                    .unwrap_or_else(OffsetDateTime::now_utc),
            },
            ReleasePolicy::Retire | ReleasePolicy::RetireIfUsed => ReleaseOutcome::Retired,
        }
    }
}

impl AliasPool {
    /// Gives the alias back, if this claim still holds it ([`AliasRow::holds`]).
    pub async fn release(
        &self,
        alias_id: &str,
        claim: &Claim,
        policy: ReleasePolicy,
    ) -> Result<ReleaseOutcome, StoreError> {
        self.release_from(alias_id, claim, policy, None).await
    }

    /// The careful release: check the claim on the row as read (`read`, or
    /// a fresh point read), write conditionally, and on 412 read and decide
    /// again.
    pub(in crate::store) async fn release_from(
        &self,
        alias_id: &str,
        claim: &Claim,
        policy: ReleasePolicy,
        mut read: Option<(Entity, String)>,
    ) -> Result<ReleaseOutcome, StoreError> {
        check_alias_id(alias_id)?;
        self.until_settled(alias_id, || {
            self.release_once(alias_id, claim, policy, read.take())
        })
        .await
    }

    /// One round of the careful release; `None` when the row changed since
    /// it was read.
    async fn release_once(
        &self,
        alias_id: &str,
        claim: &Claim,
        policy: ReleasePolicy,
        read: Option<(Entity, String)>,
    ) -> Result<Option<ReleaseOutcome>, StoreError> {
        let (entity, etag) = match read {
            Some(known) => known,
            None => match self.io.get(alias_id).await? {
                Some(fresh) => fresh,
                None => return Ok(Some(ReleaseOutcome::Missing)),
            },
        };
        let row = AliasRow::from_entity(&entity, Some(&etag))
            .map_err(|m| protocol("release alias", m))?;
        if !row.holds(claim) {
            return Ok(Some(ReleaseOutcome::NotHeld { status: row.status }));
        }
        let token = &claim.token;
        let change = ReleaseChange::new(&entity, &row, policy, OffsetDateTime::now_utc());
        let written = self
            .write_row(&row, &change.body, change.write, "release alias", |now| {
                change.landed(now, token)
            })
            .await?;
        Ok(match written {
            Written::Applied(_) => {
                tracing::debug!(alias_id, policy = ?change.policy, "released alias");
                Some(change.outcome(None))
            }
            // Our earlier, timed-out write did land.
            Written::Landed(now) => Some(change.outcome(Some(&now))),
            Written::Changed => None,
            Written::Missing => Some(ReleaseOutcome::Missing),
        })
    }
}

/// The body that replaces a released row: every column as read (including
/// other tools' columns and their type annotations) except the service's
/// metadata and the columns this store added, with `freed` written over it.
fn released_entity(entity: &Entity, freed: &RowChange) -> Entity {
    let added = |name: &str| {
        let base = name.strip_suffix("@odata.type").unwrap_or(name);
        CLAIM_COLUMNS.contains(&base) || base == "Timestamp"
    };
    let mut body: Entity = entity
        .iter()
        .filter(|(k, _)| !k.starts_with("odata.") && !added(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    freed.merge_into(&mut body);
    body
}

/// The policy a release really applies to `row`: the default picks by use.
fn resolve(policy: ReleasePolicy, row: &AliasRow) -> ReleasePolicy {
    match policy {
        ReleasePolicy::RetireIfUsed if row.used_by_account().is_none() => ReleasePolicy::Release,
        ReleasePolicy::RetireIfUsed => ReleasePolicy::Retire,
        other => other,
    }
}

/// The status a row has after a release with `policy` (already resolved) landed.
fn intended_status(policy: ReleasePolicy) -> AliasStatus {
    match policy {
        ReleasePolicy::Release => AliasStatus::Free,
        ReleasePolicy::Quarantine { .. } => AliasStatus::Quarantined,
        ReleasePolicy::Retire | ReleasePolicy::RetireIfUsed => AliasStatus::Retired,
    }
}
