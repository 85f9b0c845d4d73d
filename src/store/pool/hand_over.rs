//! The hand-over of a new keyed claim (see `keyed.rs` for what a claim key
//! promises): its key is looked up again, and `claim_pending` is cleared in
//! one entity-group transaction with giving back the other pending claims
//! of the key, conditional on every row being as read. Exactly one such
//! transaction commits among claims racing on one key; a claimer that finds
//! its claim gone, or another handed over, gives its own back and fails
//! with [`KeyRefusal::Raced`].

use futures::future::join_all;
use time::OffsetDateTime;

use super::super::batch::{chunked, MAX_TRANSACTION};
use super::super::change::RowChange;
use super::super::conditional::{Failure, Written};
use super::super::error::StoreError;
use super::super::row::AliasRow;
use super::keyed::{taken, KeyRefusal, MAX_ROUNDS};
use super::{protocol, AliasPool, ClaimedAlias, ReleaseChange, ReleasePolicy};
use crate::azure::table::{BatchWrite, Write};

impl AliasPool {
    /// Hands a new keyed claim over (see the module docs): looks its key up
    /// again, and clears `claim_pending` in one transaction with giving back
    /// the other pending claims of the key; gives it back and fails when
    /// another claim of the key was handed over first.
    pub(in crate::store) async fn settle_keyed(
        &self,
        claimed: ClaimedAlias,
        key: &str,
    ) -> Result<ClaimedAlias, StoreError> {
        for _ in 0..MAX_ROUNDS {
            let found = self.claims_with_key(key).await?;
            if let Some(done) = self.hand_over_once(&claimed, key, &found).await? {
                return done;
            }
        }
        self.give_back(&claimed).await;
        Err(StoreError::Contended {
            alias_id: claimed.alias.id.clone(),
            attempts: MAX_ROUNDS,
        })
    }

    /// [`AliasPool::settle_keyed`] for many claims: one look-up for all
    /// keys and one transaction for every claim alone with its key; the
    /// others (and a failed transaction's) settle one by one.
    pub(in crate::store) async fn settle_keyed_all(
        &self,
        claims: Vec<(ClaimedAlias, String)>,
    ) -> Vec<Result<ClaimedAlias, StoreError>> {
        let keys: Vec<String> = claims.iter().map(|(_, k)| k.clone()).collect();
        let found = self.claims_with_keys(&keys).await;
        let looked_up = found.is_ok();
        let found = found.unwrap_or_default();
        let alone = |c: &ClaimedAlias, k: &String| {
            found.get(k).is_some_and(|rows| {
                rows.len() == 1 && rows[0].id == c.alias.id && rows[0].carries(&c.token)
            }) && c.alias.claim_pending
        };
        let (quiet, contested): (Vec<_>, Vec<_>) = claims
            .into_iter()
            .enumerate()
            .partition(|(_, (c, k))| alone(c, k));
        let mut results: Vec<(usize, Result<ClaimedAlias, StoreError>)> = Vec::new();
        let mut again = contested;
        let change = RowChange {
            claim_pending: Some(false),
            ..RowChange::default()
        };
        let body = change.body();
        for chunk in chunked(quiet, MAX_TRANSACTION) {
            // Each is the only claim of its key, pending and ours, as read.
            let rows: Vec<&AliasRow> = chunk
                .iter()
                .filter_map(|(_, (_, k))| found.get(k).and_then(|r| r.first()))
                .collect();
            if chunk.len() < 2 || rows.len() != chunk.len() {
                again.extend(chunk);
                continue;
            }
            let writes: Vec<BatchWrite> = rows
                .iter()
                .map(|r| BatchWrite {
                    row_key: &r.id,
                    body: &body,
                    etag: r.etag(),
                    write: Write::Merge,
                })
                .collect();
            match self
                .io
                .write_batch_if_match(&writes, "hand over claims")
                .await
            {
                Ok(etags) => {
                    for ((i, (claimed, _)), (row, etag)) in
                        chunk.into_iter().zip(rows.iter().zip(etags))
                    {
                        let alias = change.applied_to(row, etag.unwrap_or_default());
                        results.push((i, Ok(ClaimedAlias { alias, ..claimed })));
                    }
                }
                Err(fail) => {
                    let failure = self.failure(fail, "hand over claims");
                    tracing::debug!(?failure, "handing claims over one by one");
                    again.extend(chunk);
                }
            }
        }
        // The rest settle on what was just read, and read their key again
        // when a row changed meanwhile.
        let one_by_one = again.into_iter().map(|(i, (claimed, key))| {
            let rows = found.get(&key).cloned().unwrap_or_default();
            async move {
                if looked_up {
                    match self.hand_over_once(&claimed, &key, &rows).await {
                        Ok(Some(done)) => return (i, done),
                        Err(e) => return (i, Err(e)),
                        Ok(None) => {}
                    }
                }
                (i, self.settle_keyed(claimed, &key).await)
            }
        });
        results.extend(join_all(one_by_one).await);
        results.sort_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, r)| r).collect()
    }
    /// One round of a hand-over on the claims of `key` as read (`found`):
    /// `None` when a row changed meanwhile (read again).
    async fn hand_over_once(
        &self,
        claimed: &ClaimedAlias,
        key: &str,
        found: &[AliasRow],
    ) -> Result<Option<Result<ClaimedAlias, StoreError>>, StoreError> {
        let token = &claimed.token;
        let Some(mine) = found
            .iter()
            .find(|r| r.id == claimed.alias.id && r.carries(token))
        else {
            // A rival's hand-over gave ours back (or resumed it).
            let winner = found.iter().find(|r| !r.claim_pending).or(found.first());
            let winner = winner.unwrap_or(&claimed.alias);
            return Ok(Some(Err(taken(key, winner, KeyRefusal::Raced))));
        };
        let mine_now = ClaimedAlias {
            alias: mine.clone(),
            ..claimed.clone()
        };
        if !mine.claim_pending {
            // An earlier hand-over whose answer was lost did land.
            return Ok(Some(Ok(mine_now)));
        }
        let others: Vec<&AliasRow> = found.iter().filter(|r| r.id != mine.id).collect();
        if let Some(winner) = others.iter().find(|r| !r.claim_pending) {
            self.give_back(&mine_now).await;
            return Ok(Some(Err(taken(key, winner, KeyRefusal::Raced))));
        }
        let change = RowChange {
            claim_pending: Some(false),
            ..RowChange::default()
        };
        let landed = |now: &AliasRow| now.carries(token) && !now.claim_pending;
        Ok(self
            .write_with_rivals(mine, &change, &others, "hand over claim", landed)
            .await?
            .map(|alias| {
                Ok(ClaimedAlias {
                    alias,
                    ..claimed.clone()
                })
            }))
    }

    /// Writes `change` into `mine` and gives back `others` (pending claims
    /// of the same key, whose callers never received them), all in one
    /// transaction conditional on every row being as read. The row after
    /// the write, or `None` when any row changed or the outcome is unclear
    /// (the caller reads again and decides anew).
    pub(super) async fn write_with_rivals(
        &self,
        mine: &AliasRow,
        change: &RowChange,
        others: &[&AliasRow],
        operation: &'static str,
        landed: impl Fn(&AliasRow) -> bool,
    ) -> Result<Option<AliasRow>, StoreError> {
        if others.is_empty() {
            let written = self
                .write_row(mine, &change.body(), Write::Merge, operation, landed)
                .await;
            return match written {
                Ok(Written::Applied(etag)) => Ok(Some(change.applied_to(mine, etag))),
                Ok(Written::Landed(now)) => Ok(Some(*now)),
                Ok(Written::Changed | Written::Missing) => Ok(None),
                Err(e) => Err(e),
            };
        }
        let now = OffsetDateTime::now_utc();
        let mut releases = Vec::with_capacity(others.len());
        for other in others {
            let entity = other.columns.get().ok_or_else(|| {
                protocol(operation, "a claim of the key was read partially".into())
            })?;
            releases.push(ReleaseChange::new(
                entity,
                other,
                ReleasePolicy::RetireIfUsed,
                now,
            ));
        }
        let body = change.body();
        let mut writes = vec![BatchWrite {
            row_key: &mine.id,
            body: &body,
            etag: mine.etag(),
            write: Write::Merge,
        }];
        writes.extend(
            others
                .iter()
                .zip(&releases)
                .map(|(row, release)| BatchWrite {
                    row_key: &row.id,
                    body: &release.body,
                    etag: row.etag(),
                    write: release.write,
                }),
        );
        match self.io.write_batch_if_match(&writes, operation).await {
            Ok(etags) => {
                let etag = etags.into_iter().next().flatten().unwrap_or_default();
                Ok(Some(change.applied_to(mine, etag)))
            }
            Err(fail) => match self.failure(fail, operation) {
                Failure::Changed { .. } | Failure::Missing => Ok(None),
                Failure::Failed {
                    ambiguous: true, ..
                } => Ok(None),
                Failure::Failed { error, .. } => Err(error),
            },
        }
    }

    /// Gives back a claim its caller will not receive; a failure is logged:
    /// the claim then stays pending, and its key resumes it.
    async fn give_back(&self, claimed: &ClaimedAlias) {
        let Some(claim) = claimed.alias.claim() else {
            return;
        };
        if let Err(e) = self
            .release(&claimed.alias.id, &claim, ReleasePolicy::Release)
            .await
        {
            tracing::warn!(alias_id = %claimed.alias.id, error = %e, "could not give back a claim that lost its key");
        }
    }
}
