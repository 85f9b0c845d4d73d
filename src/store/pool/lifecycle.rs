//! Changes to a row after it was claimed: update, adopt, and the
//! conditional change of a held row that link, unlink and take-over share.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::super::client::Write;
use super::super::conditional::Written;
use super::super::error::StoreError;
use super::super::row::{col, put_time, status_value, AliasRow, AliasStatus, ClaimToken};
use super::{check_text, AliasPool, ClaimedAlias, MAX_WRITE_ATTEMPTS};

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
