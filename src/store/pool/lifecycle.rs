//! Changes to a row after it was claimed: update, adopt, and the
//! conditional change of a held row that link, unlink and take-over share.

use time::OffsetDateTime;

use super::super::change::RowChange;
use super::super::conditional::Merged;
use super::super::error::StoreError;
use super::super::row::{AliasRow, AliasStatus, Claim, ClaimToken};
use super::keyed::check_key;
use super::{check_given, check_text, AliasPool, ClaimedAlias};

/// Changes to a held alias; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AliasUpdate {
    pub owner: Option<String>,
    pub purpose: Option<String>,
    /// A new claim key (`Some(None)` removes it). A key another claimed
    /// row carries is refused with [`StoreError::ClaimKeyTaken`].
    pub claim_key: Option<Option<String>>,
}

/// Which alias a link/unlink targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTarget {
    /// An alias held by this claim ([`AliasRow::holds`]).
    Claim { alias_id: String, claim: Claim },
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
    /// Changes owner, purpose and/or claim key of an alias this claim holds.
    pub async fn update(
        &self,
        alias_id: &str,
        claim: &Claim,
        changes: &AliasUpdate,
    ) -> Result<AliasRow, StoreError> {
        check_given([("owner", &changes.owner), ("purpose", &changes.purpose)])?;
        if let Some(Some(key)) = &changes.claim_key {
            check_key(key)?;
            self.refuse_key_held_elsewhere(key, alias_id).await?;
        }
        let target = LinkTarget::Claim {
            alias_id: alias_id.to_owned(),
            claim: claim.clone(),
        };
        self.modify_target(&target, "update alias", |row| {
            // Only what differs, so an update that changes nothing writes nothing.
            let differs = |new: &Option<String>, old: &String| new.clone().filter(|n| n != old);
            Ok(RowChange {
                owner: differs(&changes.owner, &row.owner),
                purpose: differs(&changes.purpose, &row.purpose),
                claim_key: changes
                    .claim_key
                    .clone()
                    .filter(|new| *new != row.claim_key),
                ..RowChange::default()
            })
        })
        .await
    }

    /// Takes over an alias by address (for `terraform import`). A row that
    /// already has a claim token is returned with it unchanged; an old row
    /// without one (claimed by an older tool) or a free row gets a fresh token,
    /// conditionally on its ETag. Quarantined and retired aliases are refused.
    pub async fn adopt(&self, request: &AdoptRequest) -> Result<ClaimedAlias, StoreError> {
        check_text("email", &request.email)?;
        self.until_settled(&request.email, || self.adopt_once(request))
            .await
    }

    /// One read-decide-write round of [`AliasPool::adopt`].
    async fn adopt_once(&self, request: &AdoptRequest) -> Result<Option<ClaimedAlias>, StoreError> {
        let row = self
            .find_by_email(&request.email)
            .await?
            .ok_or_else(|| self.email_not_found(&request.email))?;
        match row.status {
            AliasStatus::Quarantined | AliasStatus::Retired | AliasStatus::Unroutable => {
                return Err(StoreError::WrongStatus {
                    alias_id: row.id.clone(),
                    status: row.status,
                    reason: "quarantined, retired and unroutable aliases cannot be imported",
                })
            }
            AliasStatus::Claimed if row.claim_token.is_some() => {
                return Ok(ClaimedAlias::existing(row));
            }
            AliasStatus::Claimed | AliasStatus::Free => {}
        }
        check_given([("owner", &request.owner), ("purpose", &request.purpose)])?;
        let token = ClaimToken::generate();
        let change = RowChange {
            owner: request.owner.clone(),
            purpose: request.purpose.clone(),
            ..RowChange::claim(&token, OffsetDateTime::now_utc())
        };
        Ok(
            match self.merge_change(&row, &change, "adopt alias").await? {
                Merged::Row(alias) => Some(ClaimedAlias::new(*alias, token)),
                Merged::Changed | Merged::Missing => None,
            },
        )
    }

    /// Applies the change `decide` picks for the targeted row, conditionally
    /// on the row as read; a row changed meanwhile is read again and decided
    /// anew (except a [`LinkTarget::Shown`] one, which is refused).
    pub(in crate::store) async fn modify_target<F>(
        &self,
        target: &LinkTarget,
        operation: &'static str,
        decide: F,
    ) -> Result<AliasRow, StoreError>
    where
        F: Fn(&AliasRow) -> Result<RowChange, StoreError>,
    {
        let decide = &decide;
        match target {
            LinkTarget::Claim { alias_id, claim } => {
                self.until_settled(alias_id, || async move {
                    let row = self.held_row(alias_id, claim).await?;
                    self.write_change(row, decide, operation).await
                })
                .await
            }
            LinkTarget::Shown { alias_id, etag } => {
                let changed = || StoreError::Changed {
                    alias_id: alias_id.clone(),
                };
                let row = self
                    .get(alias_id)
                    .await?
                    .filter(|r| r.etag() == etag)
                    .ok_or_else(changed)?;
                self.write_change(row, decide, operation)
                    .await?
                    .ok_or_else(changed)
            }
            LinkTarget::Email(email) => {
                check_text("email", email)?;
                self.until_settled(email, || async move {
                    let row = self.claimed_row_by_email(email).await?;
                    self.write_change(row, decide, operation).await
                })
                .await
            }
        }
    }

    /// The row, if `claim` holds it.
    async fn held_row(&self, alias_id: &str, claim: &Claim) -> Result<AliasRow, StoreError> {
        let row = self
            .get(alias_id)
            .await?
            .ok_or_else(|| self.alias_not_found(alias_id))?;
        if !row.holds(claim) {
            return Err(StoreError::NotHeld {
                alias_id: alias_id.to_owned(),
                status: row.status,
            });
        }
        Ok(row)
    }

    /// The claimed row with this address (whoever holds it).
    async fn claimed_row_by_email(&self, email: &str) -> Result<AliasRow, StoreError> {
        let row = self
            .find_by_email(email)
            .await?
            .ok_or_else(|| self.email_not_found(email))?;
        if row.status != AliasStatus::Claimed {
            return Err(StoreError::WrongStatus {
                alias_id: row.id.clone(),
                status: row.status,
                reason: "only claimed aliases can be linked or unlinked",
            });
        }
        Ok(row)
    }

    /// Applies the change `decide` picks for `row` with If-Match. `Ok(None)`
    /// means the row changed meanwhile (412) and the caller should read it again.
    pub(in crate::store) async fn write_change<F>(
        &self,
        row: AliasRow,
        decide: &F,
        operation: &'static str,
    ) -> Result<Option<AliasRow>, StoreError>
    where
        F: Fn(&AliasRow) -> Result<RowChange, StoreError>,
    {
        let change = decide(&row)?;
        if change.is_empty() {
            return Ok(Some(row));
        }
        match self.merge_change(&row, &change, operation).await? {
            Merged::Row(now) => Ok(Some(*now)),
            // Re-reading decides: the change is recomputed from fresh data,
            // so an already-applied change becomes a no-op.
            Merged::Changed => Ok(None),
            Merged::Missing => Err(self.alias_not_found(&row.id)),
        }
    }
}
