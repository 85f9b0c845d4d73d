//! Claiming a minted address (see `store::minting`): a released minted row
//! (or one whose quarantine is over) is taken like any alias; otherwise a
//! new address is minted for a minting mailbox and its row inserted already
//! claimed, in one write that fails if the row exists, so minting is as
//! safe under parallelism as claiming.

use std::collections::HashSet;

use rand::seq::IndexedRandom;
use serde_json::Value;
use time::OffsetDateTime;

use super::super::address::{normalize_email, same_email};
use super::super::batch::KEYS_PER_QUERY;
use super::super::conditional::Failure;
use super::super::error::StoreError;
use super::super::minting::{MintedAddress, MintingMailbox};
use super::super::row::{col, status_value, AliasRow, AliasStatus, ClaimToken};
use super::claim::Claimable;
use super::{protocol, AliasPool, ClaimRequest, ClaimedAlias, LegacyRow};
use crate::azure::odata::{and_all, eq_bool, eq_str, le_datetime, or_any};
use crate::azure::table::{Entity, Fail};

/// New addresses one claim tries before giving up (each failed one was
/// taken by another row meanwhile, which random ids make all but impossible).
const MINT_ATTEMPTS: u32 = 8;

impl AliasPool {
    /// Claims a minted address for `request`: a released one first, else a
    /// new one. `Ok(Err(why))` when there is nothing to mint from (no
    /// minting mailbox, or not the requested one).
    pub(super) async fn claim_minted(
        &self,
        request: &ClaimRequest,
        token: &ClaimToken,
        now: OffsetDateTime,
    ) -> Result<Result<ClaimedAlias, String>, StoreError> {
        let reusable = and_all([
            eq_str(col::PARTITION_KEY, &self.io.partition_key),
            eq_bool(col::MINTED, true),
            or_any([
                eq_str(col::STATUS, status_value::FREE),
                and_all([
                    eq_str(col::STATUS, status_value::QUARANTINED),
                    le_datetime(col::REUSABLE_AFTER, now),
                ]),
            ]),
        ]);
        let claimable: Claimable = |r, now| r.status == AliasStatus::Free || r.quarantine_over(now);
        if let Some(claimed) = self
            .claim_from(&reusable, claimable, request, token, now)
            .await?
        {
            return Ok(Ok(claimed));
        }
        let registrations = self.minting_for_claims().await?;
        let registration = match minting_mailbox_for(request, &registrations) {
            Ok(r) => r,
            Err(why) => return Ok(Err(why)),
        };
        for _ in 0..MINT_ATTEMPTS {
            let address = registration.mint();
            if !self
                .addresses_in_use(std::slice::from_ref(&address.email))
                .await?
                .is_empty()
            {
                continue;
            }
            let entity = self.minted_entity(registration, &address, request, token, now);
            if let Some(claimed) = self.insert_minted(&entity, &address, token).await? {
                tracing::debug!(alias_id = %claimed.alias.id, "minted an address");
                return Ok(Ok(claimed));
            }
        }
        Err(StoreError::Contended {
            alias_id: format!(
                "(a new address of minting mailbox {})",
                registration.mailbox
            ),
            attempts: MINT_ATTEMPTS,
        })
    }

    /// The row minted for `address`, claimed for `request` with `token`: the
    /// seed's layout, the claim's columns, and `minted = true`. It keeps
    /// `in_use = true` for good, so older tools never hand it out.
    pub(in crate::store) fn minted_entity(
        &self,
        registration: &MintingMailbox,
        address: &MintedAddress,
        request: &ClaimRequest,
        token: &ClaimToken,
        now: OffsetDateTime,
    ) -> Entity {
        let row = LegacyRow {
            id: address.row_key.clone(),
            aws_mail: address.email.clone(),
            in_use: true,
            user_mail: request.owner.clone(),
            root_mailbox: registration.mailbox.clone(),
            aws_account_id: String::new(),
        };
        let mut entity = self.legacy_entity(&row);
        request.new_claim(token, now).merge_into(&mut entity);
        entity.insert(col::MINTED.to_owned(), Value::Bool(true));
        entity
    }

    /// Inserts a minted row; `None` when a row with its key exists that is
    /// not ours (the same address was minted by another claim).
    async fn insert_minted(
        &self,
        entity: &Entity,
        address: &MintedAddress,
        token: &ClaimToken,
    ) -> Result<Option<ClaimedAlias>, StoreError> {
        let ours = |now: &AliasRow| now.carries(token);
        let fail = match self.io.insert(entity).await {
            Ok(etag) => {
                let row = AliasRow::from_full_entity(entity, Some(&etag))
                    .map_err(|m| protocol("mint address", m))?;
                return Ok(Some(ClaimedAlias::new(row, token.clone())));
            }
            Err(fail) => fail,
        };
        // A conflict, or an error after which the insert may have landed: an
        // earlier attempt of this very insert whose answer was lost is ours.
        let error = match fail {
            Fail::Conflict => None,
            other => match self.failure(other, "mint address") {
                Failure::Failed {
                    error,
                    ambiguous: true,
                } => Some(error),
                Failure::Failed { error, .. } => return Err(error),
                Failure::Changed { .. } | Failure::Missing => None,
            },
        };
        match (self.read_back(&address.row_key, ours).await, error) {
            (Ok(Some(row)), _) => Ok(Some(ClaimedAlias::new(row, token.clone()))),
            (Ok(None), None) => Ok(None),
            (_, Some(error)) => Err(error),
            (Err(e), None) => Err(e),
        }
    }

    /// The addresses among `emails` (lower case) that a row of the pool has
    /// already, compared as stored in lower case (imports and minting store
    /// them so), up to 14 to a query.
    pub(in crate::store) async fn addresses_in_use(
        &self,
        emails: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let mut found = HashSet::new();
        for chunk in emails.chunks(KEYS_PER_QUERY) {
            let filter = and_all([
                eq_str(col::PARTITION_KEY, &self.io.partition_key),
                or_any(chunk.iter().map(|e| eq_str(col::AWS_MAIL, e))),
            ]);
            for entity in self.io.query_all(&filter, Some("RowKey,aws_mail")).await? {
                if let Some(address) = entity.get(col::AWS_MAIL).and_then(Value::as_str) {
                    found.insert(normalize_email(address));
                }
            }
        }
        Ok(found)
    }
}

/// The minting mailbox a claim for `request` mints from: the requested
/// mailbox's registration, or any one (at random, spreading the mail);
/// otherwise why there is none.
pub(in crate::store) fn minting_mailbox_for<'a>(
    request: &ClaimRequest,
    registrations: &'a [MintingMailbox],
) -> Result<&'a MintingMailbox, String> {
    match &request.mailbox {
        Some(m) => registrations
            .iter()
            .find(|r| same_email(&r.mailbox, m))
            .ok_or_else(|| {
                format!(
                    "mailbox `{m}` is no minting mailbox (rootmail pool add-minting-mailbox {m})"
                )
            }),
        None => registrations.choose(&mut rand::rng()).ok_or_else(|| {
            "no minting mailbox is registered to mint an address instead (rootmail pool \
             add-minting-mailbox)"
                .to_owned()
        }),
    }
}
