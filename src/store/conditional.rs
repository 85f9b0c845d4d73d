//! The ETag-conditional write of one row, and what follows when its outcome
//! is unclear, written once for every operation that changes a row.
//!
//! A write whose answer never came (a timeout, a lost response, a
//! cancellation while a retry waited) may still have been applied. Whenever
//! that is possible the row is read back, also after a cancellation (with a
//! detached, short-budget client): a row that shows the write is handed to
//! the caller, so no claim is made that nobody knows about. A claim whose
//! caller has gone away meanwhile is given back, on its token only.

use tokio::sync::oneshot;

use super::client::{into_store, Entity, Fail, Write};
use super::error::StoreError;
use super::pool::{AliasPool, ClaimRequest, ClaimedAlias, ReleaseOutcome, ReleasePolicy};
use super::row::AliasRow;

/// How a conditional write of one row ended.
#[derive(Debug)]
pub(super) enum Written {
    /// Applied; the row's new ETag.
    Applied(String),
    /// Not applied: the row changed since it was read (HTTP 412). Read it
    /// again and decide anew.
    Changed,
    /// The row does not exist (any more).
    Missing,
    /// An attempt whose answer was lost did apply it: the row as it is now.
    Landed(Box<AliasRow>),
}

/// Errors after which an attempt may have reached the table and been
/// applied: the service stayed unreachable after a request went out, the
/// caller cancelled while a retry waited, or the answer could not be read.
pub(super) fn may_have_landed(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Unavailable { .. } | StoreError::Cancelled { .. } | StoreError::Protocol { .. }
    )
}

impl AliasPool {
    /// Writes `body` into `row` (Merge or Replace) if its ETag still matches.
    /// When the outcome is unclear, reads the row back and reports
    /// [`Written::Landed`] if `landed` recognises the write in it.
    pub(super) async fn write_row(
        &self,
        row: &AliasRow,
        body: &Entity,
        write: Write,
        operation: &'static str,
        landed: impl Fn(&AliasRow) -> bool,
    ) -> Result<Written, StoreError> {
        let fail = match self
            .io
            .write_if_match(&row.id, body, &row.etag, write)
            .await
        {
            Ok(etag) => return Ok(Written::Applied(etag)),
            Err(fail) => fail,
        };
        match fail {
            Fail::Precondition { after_retry } => {
                self.conflicts
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if after_retry {
                    if let Some(now) = self.read_back(&row.id, &landed).await? {
                        return Ok(Written::Landed(Box::new(now)));
                    }
                }
                Ok(Written::Changed)
            }
            Fail::EntityNotFound => Ok(Written::Missing),
            Fail::Store(e) if may_have_landed(&e) => match self.read_back(&row.id, &landed).await {
                Ok(Some(now)) => Ok(Written::Landed(Box::new(now))),
                // Not applied, or it cannot be told: the first error says why.
                Ok(None) | Err(_) => Err(e),
            },
            other => Err(into_store(other, operation)),
        }
    }

    /// The row now, if `landed` recognises a write in it. Runs even after
    /// this pool was cancelled, within a short budget of its own.
    pub(super) async fn read_back(
        &self,
        alias_id: &str,
        landed: impl Fn(&AliasRow) -> bool,
    ) -> Result<Option<AliasRow>, StoreError> {
        let now = self.detached().get(alias_id).await?;
        Ok(now.filter(|r| landed(r)))
    }

    /// This pool without its cancellation (see `TableIo::detached`).
    pub(super) fn detached(&self) -> AliasPool {
        AliasPool {
            io: std::sync::Arc::new(self.io.detached()),
            page_size: self.page_size,
            conflicts: std::sync::Arc::clone(&self.conflicts),
        }
    }

    /// Gives back a new claim that nobody received (its caller went away),
    /// only while the row still carries its token. Runs after cancellation too.
    pub(super) async fn release_unreceived(&self, claimed: &ClaimedAlias) {
        let id = &claimed.alias.id;
        match self
            .detached()
            .release(id, &claimed.token, ReleasePolicy::Release)
            .await
        {
            Ok(ReleaseOutcome::Released) => {
                tracing::info!(alias_id = %id, "gave back a claim whose caller had gone away");
            }
            Ok(other) => {
                tracing::debug!(alias_id = %id, ?other, "unreceived claim not held any more")
            }
            Err(e) => tracing::warn!(
                alias_id = %id,
                error = %e,
                "could not give back a claim whose caller had gone away; it stays claimed \
                 (list orphaned claims with `rootmail pool list --unlinked-for`)"
            ),
        }
    }

    /// Claims like [`AliasPool::claim`], but the claim runs to its end even
    /// if the caller stops waiting; a claim made for a caller who is gone
    /// is given back.
    pub async fn claim_to_completion(
        &self,
        request: &ClaimRequest,
    ) -> Result<ClaimedAlias, StoreError> {
        let (reply, answer) = oneshot::channel();
        let pool = self.clone();
        let request = request.clone();
        tokio::spawn(async move {
            let result = pool.claim(&request).await;
            deliver(&pool, reply, result).await;
        });
        answer.await.unwrap_or(Err(StoreError::Cancelled {
            operation: "claim alias",
        }))
    }
}

/// Hands a claim result to whoever waits on `reply`. A new claim that cannot
/// be delivered (the receiver was dropped) is given back; an existing one
/// (found by claim key) belongs to someone else and is left alone.
pub(super) async fn deliver(
    pool: &AliasPool,
    reply: oneshot::Sender<Result<ClaimedAlias, StoreError>>,
    result: Result<ClaimedAlias, StoreError>,
) {
    if let Err(Ok(claimed)) = reply.send(result) {
        if !claimed.existing {
            pool.release_unreceived(&claimed).await;
        }
    }
}
