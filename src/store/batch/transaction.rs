//! One batch's claims in one entity-group transaction, and what follows when
//! it fails: a lost race sends every claim back to be retried on its own; an
//! unclear outcome reads the rows back, and a row carrying a claim's token
//! goes to that claim's caller. A row that cannot be read back is never
//! retried as if the claim had not landed (that would claim a second alias
//! and leave the first without an owner): its caller gets
//! [`StoreError::OutcomeUnknown`].

use std::sync::atomic::Ordering;

use futures::future::join_all;
use time::OffsetDateTime;

use super::super::change::RowChange;
use super::super::conditional::Failure;
use super::super::error::StoreError;
use super::super::pool::{AliasPool, ClaimedAlias};
use super::super::row::{AliasRow, ClaimToken};
use super::{Counters, Pending};
use crate::azure::table::{BatchWrite, Write};
use crate::azure::AzureError;

type Answered = Vec<(Pending, Result<ClaimedAlias, StoreError>)>;

/// Claims each request's candidate in one transaction (or one Merge for a
/// single pair). Returns the answered claims, the ones to retry on their
/// own, and whether a row had changed (412).
pub(super) async fn claim_together(
    pool: &AliasPool,
    counters: &Counters,
    plan: Vec<(Pending, AliasRow)>,
) -> (Answered, Vec<Pending>, bool) {
    let now = OffsetDateTime::now_utc();
    let tokens: Vec<ClaimToken> = plan.iter().map(|_| ClaimToken::generate()).collect();
    if plan.len() == 1 {
        let Some((p, row)) = plan.into_iter().next() else {
            return (Vec::new(), Vec::new(), false);
        };
        return match pool.claim_row(&row, &p.request, &tokens[0]).await {
            Ok(Some(claimed)) => (vec![(p, Ok(claimed))], Vec::new(), false),
            Ok(None) => (Vec::new(), vec![p], true),
            Err(e) => (vec![(p, Err(e))], Vec::new(), false),
        };
    }
    let changes: Vec<_> = plan
        .iter()
        .zip(&tokens)
        .map(|((p, row), token)| p.request.change(row, token, now))
        .collect();
    let bodies: Vec<_> = changes.iter().map(RowChange::body).collect();
    let writes: Vec<BatchWrite> = plan
        .iter()
        .zip(&bodies)
        .map(|((_, row), body)| BatchWrite {
            row_key: &row.id,
            body,
            etag: row.etag(),
            write: Write::Merge,
        })
        .collect();
    match pool.io.write_batch_if_match(&writes, "claim aliases").await {
        Ok(etags) => {
            counters.transactions.fetch_add(1, Ordering::Relaxed);
            let done = plan
                .into_iter()
                .zip(tokens)
                .zip(changes)
                .zip(etags)
                .map(|((((p, row), token), change), etag)| {
                    let alias = change.applied_to(&row, etag.unwrap_or_default());
                    (p, Ok(ClaimedAlias::new(alias, token)))
                })
                .collect();
            (done, Vec::new(), false)
        }
        Err(fail) => {
            let failure = pool.failure(fail, "claim aliases");
            let (conflicted, ambiguous, cancelled) = match &failure {
                Failure::Changed { ambiguous } => (true, *ambiguous, false),
                Failure::Failed { error, ambiguous } => (false, *ambiguous, error.is_cancelled()),
                Failure::Missing => (false, false, false),
            };
            counters.failed_transactions.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(?failure, "batch not applied as sent");
            // An attempt whose answer was lost, or a cancellation while a
            // retry waited, may have committed: a row that carries its
            // token is that claim's, and its caller gets it (also after a
            // cancellation, or nobody would ever own it).
            let checks = plan
                .into_iter()
                .zip(tokens)
                .map(|((p, row), token)| async move {
                    let landed = match ambiguous {
                        true => pool
                            .read_back(&row.id, |now| now.carries(&token))
                            .await
                            .map_err(|e| (row.id.clone(), e.to_string())),
                        false => Ok(None),
                    };
                    (p, token, landed)
                });
            let mut done = Vec::new();
            let mut retry = Vec::new();
            for (p, token, landed) in join_all(checks).await {
                match landed {
                    Ok(Some(alias)) => done.push((p, Ok(ClaimedAlias::new(alias, token)))),
                    Err((alias_id, reason)) => done.push((
                        p,
                        Err(StoreError::OutcomeUnknown {
                            operation: "claim aliases",
                            alias_id,
                            reason,
                        }),
                    )),
                    Ok(None) if cancelled => done.push((
                        p,
                        Err(AzureError::Cancelled {
                            operation: "claim alias",
                        }
                        .into()),
                    )),
                    Ok(None) => retry.push(p),
                }
            }
            (done, retry, conflicted)
        }
    }
}
