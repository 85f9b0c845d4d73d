//! Releasing one row: what a release writes ([`ReleaseChange`], decided on
//! the row as read) and the careful path (read, check the claim token, write
//! conditionally, look again on 412). The coalesced releases of
//! `release_batch.rs` write the same change and fall back to this path.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::super::client::{Entity, Write};
use super::super::conditional::Written;
use super::super::config::validate_key;
use super::super::error::StoreError;
use super::super::row::{col, put_time, status_value, AliasRow, AliasStatus, ClaimToken};
use super::{protocol, AliasPool, DEFAULT_QUARANTINE_DAYS, MAX_WRITE_ATTEMPTS};

/// What happens to an alias on release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReleasePolicy {
    /// The safe default: free again if no AWS account ever used the alias,
    /// otherwise retired with the account recorded (AWS never gives a root
    /// address back, not even after the account is closed).
    #[default]
    RetireIfUsed,
    /// Free again at once (`in_use = false`, owner/account/purpose/token
    /// cleared), even if an account used it: the caller asserts the address is
    /// free in AWS again (that account's e-mail was changed).
    Release,
    /// Kept out of circulation for `days` (stays `in_use = true`), then only
    /// this provider hands it out again.
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
    /// The row no longer carries this token (already released, or taken over);
    /// nothing was changed.
    NotHeld {
        status: AliasStatus,
    },
    /// The row does not exist; nothing was changed.
    Missing,
}

/// The columns this store adds to legacy rows; a released row loses them.
const ADDED_COLUMNS: [&str; 8] = [
    col::CLAIM_TOKEN,
    col::CLAIM_KEY,
    col::CLAIMED_AT,
    col::PURPOSE,
    col::STATUS,
    col::REUSABLE_AFTER,
    col::USED_BY_ACCOUNT,
    col::RETIRED_REASON,
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
        let mut body = Map::new();
        body.insert(col::CLAIM_TOKEN.into(), "".into());
        body.insert(col::CLAIM_KEY.into(), "".into());
        let mut reusable_after = None;
        match policy {
            // A plain release puts the row back exactly in the legacy
            // layout: the columns this store added go away, the rest stay.
            ReleasePolicy::Release => {
                return ReleaseChange {
                    policy,
                    body: released_entity(entity),
                    write: Write::Replace,
                    reusable_after,
                }
            }
            ReleasePolicy::Quarantine { days } => {
                let until = now + time::Duration::days(i64::from(days));
                body.insert(col::IN_USE.into(), Value::Bool(true));
                body.insert(col::STATUS.into(), status_value::QUARANTINED.into());
                // Asked for explicitly: the alias comes back after the wait.
                body.insert(col::USED_BY_ACCOUNT.into(), "".into());
                reusable_after = Some(put_time(&mut body, col::REUSABLE_AFTER, until));
            }
            ReleasePolicy::Retire | ReleasePolicy::RetireIfUsed => {
                body.insert(col::IN_USE.into(), Value::Bool(true));
                body.insert(col::STATUS.into(), status_value::RETIRED.into());
                let reason = match row.used_by_account() {
                    Some(account) => {
                        body.insert(col::USED_BY_ACCOUNT.into(), account.into());
                        format!("used by AWS account {account}; AWS never frees a root address")
                    }
                    None => "retired on request".to_owned(),
                };
                body.insert(col::RETIRED_REASON.into(), reason.into());
            }
        }
        ReleaseChange {
            policy,
            body,
            write: Write::Merge,
            reusable_after,
        }
    }

    /// True when `now` shows this release applied (after a lost answer).
    pub fn landed(&self, now: &AliasRow, token: &ClaimToken) -> bool {
        !now.held_by(token) && now.status == intended_status(self.policy)
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
    /// Gives the alias back, if this token still holds it.
    pub async fn release(
        &self,
        alias_id: &str,
        token: &ClaimToken,
        policy: ReleasePolicy,
    ) -> Result<ReleaseOutcome, StoreError> {
        self.release_from(alias_id, token, policy, None).await
    }

    /// The careful release: check the token on the row as read (`read`, or
    /// a fresh point read), write conditionally, and on 412 read and decide
    /// again.
    pub(in crate::store) async fn release_from(
        &self,
        alias_id: &str,
        token: &ClaimToken,
        policy: ReleasePolicy,
        mut read: Option<(Entity, String)>,
    ) -> Result<ReleaseOutcome, StoreError> {
        validate_key("alias id", alias_id)?;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let (entity, etag) = match read.take() {
                Some(known) => known,
                None => match self.io.get(alias_id).await? {
                    Some(fresh) => fresh,
                    None => return Ok(ReleaseOutcome::Missing),
                },
            };
            let row = AliasRow::from_entity(&entity, Some(&etag))
                .map_err(|m| protocol("release alias", m))?;
            if !row.held_by(token) {
                return Ok(ReleaseOutcome::NotHeld { status: row.status });
            }
            let change = ReleaseChange::new(&entity, &row, policy, OffsetDateTime::now_utc());
            let written = self
                .write_row(&row, &change.body, change.write, "release alias", |now| {
                    change.landed(now, token)
                })
                .await?;
            match written {
                Written::Applied(_) => {
                    tracing::debug!(alias_id, policy = ?change.policy, "released alias");
                    return Ok(change.outcome(None));
                }
                // Our earlier, timed-out write did land.
                Written::Landed(now) => return Ok(change.outcome(Some(&now))),
                Written::Changed => {}
                Written::Missing => return Ok(ReleaseOutcome::Missing),
            }
        }
        Err(StoreError::Contended {
            alias_id: alias_id.to_owned(),
            attempts: MAX_WRITE_ATTEMPTS,
        })
    }
}

/// The body that replaces a released row: every column as read (including
/// other tools' columns and their type annotations) except the service's
/// metadata and the columns this store added, with the legacy columns set free.
fn released_entity(entity: &Entity) -> Entity {
    let added = |name: &str| {
        let base = name.strip_suffix("@odata.type").unwrap_or(name);
        ADDED_COLUMNS.contains(&base) || base == "Timestamp"
    };
    let mut body: Entity = entity
        .iter()
        .filter(|(k, _)| !k.starts_with("odata.") && !added(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    body.insert(col::IN_USE.into(), Value::Bool(false));
    body.insert(col::USER_MAIL.into(), "".into());
    body.insert(col::AWS_ACCOUNT_ID.into(), "".into());
    for typed in [col::IN_USE, col::USER_MAIL, col::AWS_ACCOUNT_ID] {
        body.remove(&format!("{typed}@odata.type"));
    }
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
