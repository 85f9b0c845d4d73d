//! A batch's claims that found no alias and may mint: one new address each,
//! checked against the pool's addresses with one query per 14, and inserted
//! already claimed in one entity-group transaction per minting mailbox (an
//! insert fails if its row exists, and a transaction is all or nothing).
//! When a transaction fails its rows are read back: a row carrying a
//! claim's token is that claim's; the others go to the single path, which
//! mints afresh.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;

use futures::future::join_all;
use time::OffsetDateTime;

use super::super::error::StoreError;
use super::super::minting::MintedAddress;
use super::super::pool::{minting_mailbox_for, AliasPool, ClaimedAlias};
use super::super::row::{AliasRow, ClaimToken};
use super::{chunked, Counters, Pending, MAX_TRANSACTION};
use crate::azure::table::{into_error, Fail};

type Answered = Vec<(Pending, Result<ClaimedAlias, StoreError>)>;

/// Mints for `claims` (each may mint by its request's address source).
/// Returns the answered claims and the ones to serve on their own.
pub(super) async fn mint_together(
    pool: &AliasPool,
    counters: &Counters,
    claims: Vec<Pending>,
) -> (Answered, Vec<Pending>) {
    if claims.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let registrations = match pool.minting_for_claims().await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(error = %e, "minting mailboxes unreadable; claiming one by one");
            return (Vec::new(), claims);
        }
    };
    // By minting mailbox; a claim with none to mint from goes the single
    // way, which says why in its error.
    let mut groups: BTreeMap<String, Vec<Pending>> = BTreeMap::new();
    let mut alone = Vec::new();
    for p in claims {
        match minting_mailbox_for(&p.request, &registrations) {
            Ok(r) => groups.entry(r.mailbox.clone()).or_default().push(p),
            Err(_) => alone.push(p),
        }
    }
    let mut plans = Vec::new();
    for (mailbox, members) in groups {
        for chunk in chunked(members, MAX_TRANSACTION) {
            plans.push((mailbox.clone(), chunk));
        }
    }
    let registrations = &registrations;
    let outcomes = join_all(plans.into_iter().map(|(mailbox, chunk)| async move {
        match registrations.iter().find(|r| r.mailbox == mailbox) {
            Some(registration) => {
                let addresses = fresh_addresses(pool, chunk.len(), || registration.mint()).await;
                match addresses {
                    Ok(addresses) => {
                        insert_together(pool, counters, registration, chunk, addresses).await
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "address check failed; minting one by one");
                        (Vec::new(), chunk)
                    }
                }
            }
            None => (Vec::new(), chunk),
        }
    }))
    .await;
    let mut answered = Vec::new();
    for (done, rest) in outcomes {
        answered.extend(done);
        alone.extend(rest);
    }
    (answered, alone)
}

/// `count` new addresses, distinct and unknown to the pool.
async fn fresh_addresses(
    pool: &AliasPool,
    count: usize,
    mint: impl Fn() -> MintedAddress,
) -> Result<Vec<MintedAddress>, StoreError> {
    let mut chosen: Vec<MintedAddress> = Vec::with_capacity(count);
    let mut seen = HashSet::new();
    // Ids repeat all but never, so one round almost always does.
    for _ in 0..8 {
        let wanted = count - chosen.len();
        let candidates: Vec<MintedAddress> = (0..wanted)
            .map(|_| mint())
            .filter(|a| seen.insert(a.email.clone()))
            .collect();
        let emails: Vec<String> = candidates.iter().map(|a| a.email.clone()).collect();
        let taken = pool.addresses_in_use(&emails).await?;
        chosen.extend(candidates.into_iter().filter(|a| !taken.contains(&a.email)));
        if chosen.len() == count {
            return Ok(chosen);
        }
    }
    Err(StoreError::Contended {
        alias_id: "(new minted addresses)".to_owned(),
        attempts: 8,
    })
}

/// Inserts one minted row per claim in one transaction (one insert for a
/// single claim).
async fn insert_together(
    pool: &AliasPool,
    counters: &Counters,
    registration: &super::super::minting::MintingMailbox,
    claims: Vec<Pending>,
    addresses: Vec<MintedAddress>,
) -> (Answered, Vec<Pending>) {
    let now = OffsetDateTime::now_utc();
    let tokens: Vec<ClaimToken> = claims.iter().map(|_| ClaimToken::generate()).collect();
    let entities: Vec<_> = claims
        .iter()
        .zip(&addresses)
        .zip(&tokens)
        .map(|((p, address), token)| {
            pool.minted_entity(registration, address, &p.request, token, now)
        })
        .collect();
    let fail = match pool.io.insert_batch(&entities).await {
        Ok(etags) => {
            counters.transactions.fetch_add(1, Ordering::Relaxed);
            counters
                .minted
                .fetch_add(claims.len() as u64, Ordering::Relaxed);
            let mut done = Vec::with_capacity(claims.len());
            for (((p, entity), token), etag) in
                claims.into_iter().zip(&entities).zip(tokens).zip(etags)
            {
                let result = AliasRow::from_full_entity(entity, etag.as_deref())
                    .map(|row| ClaimedAlias::new(row, token))
                    .map_err(|m| {
                        StoreError::from(crate::azure::AzureError::Protocol {
                            operation: "mint addresses",
                            message: m,
                        })
                    });
                done.push((p, result));
            }
            return (done, Vec::new());
        }
        Err(fail) => fail,
    };
    counters.failed_transactions.fetch_add(1, Ordering::Relaxed);
    let reason = match fail {
        Fail::Conflict => "a row existed".to_owned(),
        other => into_error(other, "mint addresses").to_string(),
    };
    tracing::debug!(%reason, "minted rows not inserted as sent; reading them back");
    // Whatever failed, an attempt whose answer was lost may have inserted
    // them: a row carrying a claim's token is that claim's.
    let checks =
        claims
            .into_iter()
            .zip(addresses)
            .zip(tokens)
            .map(|((p, address), token)| async move {
                let landed = pool
                    .read_back(&address.row_key, |now| now.carries(&token))
                    .await;
                (p, address, token, landed)
            });
    let mut done = Vec::new();
    let mut retry = Vec::new();
    for (p, address, token, landed) in join_all(checks).await {
        match landed {
            Ok(Some(row)) => done.push((p, Ok(ClaimedAlias::new(row, token)))),
            Ok(None) => retry.push(p),
            Err(e) => done.push((
                p,
                Err(StoreError::OutcomeUnknown {
                    operation: "mint addresses",
                    alias_id: address.row_key,
                    reason: format!("{reason}; then {e}"),
                }),
            )),
        }
    }
    (done, retry)
}
