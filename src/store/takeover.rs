//! [`AliasPool::take_over`]: gives a claimed alias a new claim token, for
//! `terraform import` applied. Which existing claims may be replaced is the
//! caller's explicit choice ([`TakeOverScope`]); the write goes through the
//! pool's one conditional write, so a row that changed since it was read is
//! read again and re-checked, never overwritten.

use time::OffsetDateTime;

use super::change::RowChange;
use super::error::StoreError;
use super::pool::{check_given, AliasPool, ClaimedAlias};
use super::row::{AliasRow, AliasStatus, ClaimToken};

/// Which claims [`AliasPool::take_over`] may replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeOverScope {
    /// Only a claim without a claim token (made by an older tool such as the
    /// function app). A row carrying a token is refused.
    Untokened,
    /// Any claim, also one carrying another owner's token (the user asked to
    /// take it over explicitly).
    AnyClaim,
}

/// Taking over one claimed alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakeOverRequest {
    /// The row key of the alias.
    pub alias_id: String,
    /// Its address; the row must still carry it.
    pub email: String,
    pub scope: TakeOverScope,
    /// New owner (`user_mail`); `None` keeps it.
    pub owner: Option<String>,
    /// New purpose; `None` keeps it.
    pub purpose: Option<String>,
    /// Claim key to record; `None` clears any old one.
    pub claim_key: Option<String>,
    /// The claim as the caller saw it (at plan time); when given, a row whose
    /// claim differs (claimed anew meanwhile) is refused with
    /// [`StoreError::ClaimChanged`] instead of being taken over.
    pub seen: Option<SeenClaim>,
}

/// What identifies one claim of a row: its owner and claim time (a new claim
/// by this provider writes a new claim time; the old function app re-issuing
/// a row writes a new owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenClaim {
    pub owner: String,
    pub claimed_at: Option<OffsetDateTime>,
}

impl AliasPool {
    /// Gives the claimed alias a fresh claim token (and the given owner,
    /// purpose and claim key), ETag-conditionally. Free, quarantined and
    /// retired aliases are refused, and so is a row carrying a token unless
    /// `scope` is [`TakeOverScope::AnyClaim`].
    pub async fn take_over(&self, request: &TakeOverRequest) -> Result<ClaimedAlias, StoreError> {
        check_given([
            ("owner", &request.owner),
            ("purpose", &request.purpose),
            ("claim_key", &request.claim_key),
        ])?;
        let token = ClaimToken::generate();
        let change = RowChange {
            owner: request.owner.clone(),
            purpose: request.purpose.clone(),
            claim_key: Some(request.claim_key.clone()),
            ..RowChange::claim(&token, OffsetDateTime::now_utc())
        };
        self.until_settled(&request.alias_id, || {
            self.take_over_once(request, &token, &change)
        })
        .await
    }

    /// One read-check-write round of [`AliasPool::take_over`]; `None` when
    /// the row changed meanwhile.
    async fn take_over_once(
        &self,
        request: &TakeOverRequest,
        token: &ClaimToken,
        change: &RowChange,
    ) -> Result<Option<ClaimedAlias>, StoreError> {
        let row = self
            .get(&request.alias_id)
            .await?
            .ok_or_else(|| self.alias_not_found(&request.alias_id))?;
        let claimed = |alias| ClaimedAlias::new(alias, token.clone());
        if row.carries(token) {
            // An earlier attempt whose answer was lost did land.
            return Ok(Some(claimed(row)));
        }
        if row.email != request.email {
            return Err(StoreError::InvalidInput {
                field: "email",
                reason: format!(
                    "alias `{}` now has the address `{}`, not `{}`",
                    row.id, row.email, request.email
                ),
            });
        }
        if row.status != AliasStatus::Claimed {
            return Err(StoreError::WrongStatus {
                alias_id: row.id.clone(),
                status: row.status,
                reason: "only claimed aliases can be taken over",
            });
        }
        if let Some(seen) = &request.seen {
            if seen.owner != row.owner || seen.claimed_at != row.claimed_at {
                return Err(StoreError::ClaimChanged { alias_id: row.id });
            }
        }
        if row.claim_token.is_some() && request.scope == TakeOverScope::Untokened {
            return Err(StoreError::WrongStatus {
                alias_id: row.id.clone(),
                status: row.status,
                reason: "it carries the claim token of another owner (another Terraform \
                         state or rootmail claim)",
            });
        }
        if let Some(key) = &request.claim_key {
            self.refuse_key_held_elsewhere(key, &row.id).await?;
        }
        // A pending claim handed over by take-over is no longer resumable.
        let decide = |row: &AliasRow| {
            Ok(RowChange {
                claim_pending: row.claim_pending.then_some(false),
                ..change.clone()
            })
        };
        Ok(self
            .write_change(row, &decide, "take over alias")
            .await?
            .map(claimed))
    }
}
