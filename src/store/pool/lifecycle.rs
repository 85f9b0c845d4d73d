//! Changes to a row after it was claimed: release, update, adopt, and the
//! conditional change of a held row that link, unlink and take-over share.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::super::client::{Entity, Write};
use super::super::conditional::Written;
use super::super::config::validate_key;
use super::super::error::StoreError;
use super::super::row::{col, put_time, status_value, AliasRow, AliasStatus, ClaimToken};
use super::{
    check_text, protocol, AliasPool, ClaimedAlias, DEFAULT_QUARANTINE_DAYS, MAX_WRITE_ATTEMPTS,
};

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

/// Changes to a held alias; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AliasUpdate {
    pub owner: Option<String>,
    pub purpose: Option<String>,
}

/// Which alias a link/unlink targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTarget {
    /// An alias held by this claim.
    Claim { alias_id: String, token: ClaimToken },
    /// Any claimed alias by address (for aliases claimed by older tools).
    Email(String),
    /// Exactly this version of a row, as read and shown: one write
    /// conditional on `etag`, refused with [`StoreError::Changed`] otherwise.
    Shown { alias_id: String, etag: String },
}

/// Taking over an alias that is already in use (for `terraform import`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdoptRequest {
    pub email: String,
    /// New owner; `None` keeps `user_mail` as it is.
    pub owner: Option<String>,
    /// New purpose; `None` keeps it.
    pub purpose: Option<String>,
}

impl AliasPool {
    /// Gives the alias back, if this token still holds it.
    pub async fn release(
        &self,
        alias_id: &str,
        token: &ClaimToken,
        policy: ReleasePolicy,
    ) -> Result<ReleaseOutcome, StoreError> {
        validate_key("alias id", alias_id)?;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let Some((entity, etag)) = self.io.get(alias_id).await? else {
                return Ok(ReleaseOutcome::Missing);
            };
            let row = AliasRow::from_entity(&entity, Some(&etag))
                .map_err(|m| protocol("release alias", m))?;
            if !row.held_by(token) {
                return Ok(ReleaseOutcome::NotHeld { status: row.status });
            }
            // Decided on the row as read: the write below is conditional on
            // this very version, so a link made meanwhile forces a new look.
            let policy = resolve(policy, &row);
            let now = OffsetDateTime::now_utc();
            let mut body = Map::new();
            body.insert(col::CLAIM_TOKEN.into(), "".into());
            body.insert(col::CLAIM_KEY.into(), "".into());
            let mut reusable_after = None;
            match policy {
                // Written as a whole-row replace below, not as this merge body.
                ReleasePolicy::Release => {}
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
            // A plain release puts the row back exactly in the legacy
            // layout: the columns this store added go away, the rest stay.
            let (body, write) = match policy {
                ReleasePolicy::Release => (released_entity(&entity), Write::Replace),
                _ => (body, Write::Merge),
            };
            let intended = intended_status(policy);
            let written = self
                .write_row(&row, &body, write, "release alias", |now| {
                    !now.held_by(token) && now.status == intended
                })
                .await?;
            match written {
                Written::Applied(_) => {
                    tracing::debug!(alias_id, ?policy, "released alias");
                    return Ok(outcome_for(policy, reusable_after));
                }
                // Our earlier, timed-out write did land.
                Written::Landed(now) => return Ok(outcome_for(policy, now.reusable_after)),
                Written::Changed => {}
                Written::Missing => return Ok(ReleaseOutcome::Missing),
            }
        }
        Err(StoreError::Contended {
            alias_id: alias_id.to_owned(),
            attempts: MAX_WRITE_ATTEMPTS,
        })
    }

    /// Changes owner and/or purpose of an alias this token holds.
    pub async fn update(
        &self,
        alias_id: &str,
        token: &ClaimToken,
        changes: &AliasUpdate,
    ) -> Result<AliasRow, StoreError> {
        if let Some(o) = &changes.owner {
            check_text("owner", o)?;
        }
        if let Some(p) = &changes.purpose {
            check_text("purpose", p)?;
        }
        let changes = changes.clone();
        self.modify_held(alias_id, token, "update alias", move |row| {
            let mut body = Map::new();
            if let Some(o) = &changes.owner {
                if *o != row.owner {
                    body.insert(col::USER_MAIL.into(), o.clone().into());
                }
            }
            if let Some(p) = &changes.purpose {
                if *p != row.purpose {
                    body.insert(col::PURPOSE.into(), p.clone().into());
                }
            }
            Ok(body)
        })
        .await
    }

    /// Takes over an alias by address (for `terraform import`). A row that
    /// already has a claim token is returned with it unchanged; an old row
    /// without one (claimed by an older tool) or a free row gets a fresh token,
    /// conditionally on its ETag. Quarantined and retired aliases are refused.
    pub async fn adopt(&self, request: &AdoptRequest) -> Result<ClaimedAlias, StoreError> {
        check_text("email", &request.email)?;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let row = self.find_by_email(&request.email).await?.ok_or_else(|| {
                StoreError::EmailNotFound {
                    table: self.io.table_name.clone(),
                    email: request.email.clone(),
                }
            })?;
            match row.status {
                AliasStatus::Quarantined | AliasStatus::Retired => {
                    return Err(StoreError::WrongStatus {
                        alias_id: row.id.clone(),
                        status: row.status,
                        reason: "quarantined and retired aliases cannot be imported",
                    })
                }
                AliasStatus::Claimed => {
                    if let Some(token) = row.claim_token.clone() {
                        return Ok(ClaimedAlias {
                            alias: row,
                            token,
                            existing: true,
                        });
                    }
                }
                AliasStatus::Free => {}
            }
            let token = ClaimToken::generate();
            let now = OffsetDateTime::now_utc();
            let mut body = Map::new();
            body.insert(col::IN_USE.into(), Value::Bool(true));
            body.insert(col::CLAIM_TOKEN.into(), token.as_str().into());
            body.insert(col::STATUS.into(), status_value::CLAIMED.into());
            let claimed_at = put_time(&mut body, col::CLAIMED_AT, now);
            if let Some(o) = &request.owner {
                check_text("owner", o)?;
                body.insert(col::USER_MAIL.into(), o.clone().into());
            }
            if let Some(p) = &request.purpose {
                check_text("purpose", p)?;
                body.insert(col::PURPOSE.into(), p.clone().into());
            }
            let written = self
                .write_row(&row, &body, Write::Merge, "adopt alias", |now| {
                    now.held_by(&token)
                })
                .await?;
            match written {
                Written::Applied(etag) => {
                    let mut alias = row;
                    alias.in_use = true;
                    alias.claim_token = Some(token.clone());
                    alias.status = AliasStatus::Claimed;
                    alias.claimed_at = Some(claimed_at);
                    if let Some(o) = &request.owner {
                        alias.owner = o.clone();
                    }
                    if let Some(p) = &request.purpose {
                        alias.purpose = p.clone();
                    }
                    alias.etag = etag;
                    return Ok(ClaimedAlias {
                        alias,
                        token,
                        existing: false,
                    });
                }
                Written::Landed(current) => {
                    return Ok(ClaimedAlias {
                        alias: *current,
                        token,
                        existing: false,
                    })
                }
                Written::Changed | Written::Missing => continue,
            }
        }
        Err(StoreError::Contended {
            alias_id: request.email.clone(),
            attempts: MAX_WRITE_ATTEMPTS,
        })
    }

    pub(in crate::store) async fn modify_target<F>(
        &self,
        target: &LinkTarget,
        operation: &'static str,
        change: F,
    ) -> Result<AliasRow, StoreError>
    where
        F: Fn(&AliasRow) -> Result<Map<String, Value>, StoreError>,
    {
        match target {
            LinkTarget::Claim { alias_id, token } => {
                self.modify_held(alias_id, token, operation, change).await
            }
            LinkTarget::Shown { alias_id, etag } => {
                let row = self
                    .get(alias_id)
                    .await?
                    .filter(|r| r.etag() == etag)
                    .ok_or_else(|| StoreError::Changed {
                        alias_id: alias_id.clone(),
                    })?;
                self.write_change(row, &change, operation)
                    .await?
                    .ok_or_else(|| StoreError::Changed {
                        alias_id: alias_id.clone(),
                    })
            }
            LinkTarget::Email(email) => {
                check_text("email", email)?;
                for _ in 0..MAX_WRITE_ATTEMPTS {
                    let row = self.find_by_email(email).await?.ok_or_else(|| {
                        StoreError::EmailNotFound {
                            table: self.io.table_name.clone(),
                            email: email.clone(),
                        }
                    })?;
                    if row.status != AliasStatus::Claimed {
                        return Err(StoreError::WrongStatus {
                            alias_id: row.id.clone(),
                            status: row.status,
                            reason: "only claimed aliases can be linked or unlinked",
                        });
                    }
                    if let Some(done) = self.write_change(row, &change, operation).await? {
                        return Ok(done);
                    }
                }
                Err(StoreError::Contended {
                    alias_id: email.clone(),
                    attempts: MAX_WRITE_ATTEMPTS,
                })
            }
        }
    }

    /// Read, check the token, write conditionally; re-read and retry on 412.
    async fn modify_held<F>(
        &self,
        alias_id: &str,
        token: &ClaimToken,
        operation: &'static str,
        change: F,
    ) -> Result<AliasRow, StoreError>
    where
        F: Fn(&AliasRow) -> Result<Map<String, Value>, StoreError>,
    {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let row = self
                .get(alias_id)
                .await?
                .ok_or_else(|| StoreError::AliasNotFound {
                    table: self.io.table_name.clone(),
                    alias_id: alias_id.to_owned(),
                })?;
            if !row.held_by(token) || row.status != AliasStatus::Claimed {
                return Err(StoreError::NotHeld {
                    alias_id: alias_id.to_owned(),
                    status: row.status,
                });
            }
            if let Some(done) = self.write_change(row, &change, operation).await? {
                return Ok(done);
            }
        }
        Err(StoreError::Contended {
            alias_id: alias_id.to_owned(),
            attempts: MAX_WRITE_ATTEMPTS,
        })
    }

    /// Applies `change` to `row` with If-Match. `Ok(None)` means the row changed
    /// meanwhile (412) and the caller should read it again.
    pub(in crate::store) async fn write_change<F>(
        &self,
        row: AliasRow,
        change: &F,
        operation: &'static str,
    ) -> Result<Option<AliasRow>, StoreError>
    where
        F: Fn(&AliasRow) -> Result<Map<String, Value>, StoreError>,
    {
        let body = change(&row)?;
        if body.is_empty() {
            return Ok(Some(row));
        }
        let written = self
            .write_row(&row, &body, Write::Merge, operation, |now| {
                body_applied(now, &body)
            })
            .await?;
        match written {
            Written::Applied(etag) => {
                let mut updated = row;
                apply_body(&mut updated, &body);
                updated.etag = etag;
                Ok(Some(updated))
            }
            Written::Landed(now) => Ok(Some(*now)),
            // Re-reading decides: the change is recomputed from fresh data,
            // so an already-applied change becomes a no-op.
            Written::Changed => Ok(None),
            Written::Missing => Err(StoreError::AliasNotFound {
                table: self.io.table_name.clone(),
                alias_id: row.id,
            }),
        }
    }
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

fn outcome_for(policy: ReleasePolicy, reusable_after: Option<OffsetDateTime>) -> ReleaseOutcome {
    match policy {
        ReleasePolicy::Release => ReleaseOutcome::Released,
        ReleasePolicy::Quarantine { .. } => ReleaseOutcome::Quarantined {
            reusable_after: reusable_after.unwrap_or_else(OffsetDateTime::now_utc),
        },
        ReleasePolicy::Retire | ReleasePolicy::RetireIfUsed => ReleaseOutcome::Retired,
    }
}

/// True when every (string) column of a link/update body already has its
/// value in `row`.
fn body_applied(row: &AliasRow, body: &Map<String, Value>) -> bool {
    body.iter().all(|(k, v)| {
        let want = v.as_str().unwrap_or_default();
        match k.as_str() {
            col::USER_MAIL => row.owner == want,
            col::PURPOSE => row.purpose == want,
            col::AWS_ACCOUNT_ID => row.aws_account_id == want,
            _ => false,
        }
    })
}

/// Mirrors a merge body onto the in-memory row (string columns only are merged
/// by link/update).
fn apply_body(row: &mut AliasRow, body: &Map<String, Value>) {
    for (k, v) in body {
        let text = v.as_str().unwrap_or_default().to_owned();
        match k.as_str() {
            col::USER_MAIL => row.owner = text,
            col::PURPOSE => row.purpose = text,
            col::AWS_ACCOUNT_ID => row.aws_account_id = text,
            col::USED_BY_ACCOUNT => row.used_by = text,
            col::RETIRED_REASON => row.retired_reason = text,
            col::STATUS => {
                if let Some(status) = AliasStatus::parse(&text) {
                    row.status = status;
                }
            }
            col::IN_USE => row.in_use = v.as_bool().unwrap_or(row.in_use),
            _ => {}
        }
    }
}
