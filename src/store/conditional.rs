//! The ETag-conditional write of one row, and what follows when its outcome
//! is unclear, written once for every operation that changes a row.
//!
//! A write whose answer never came (a timeout, a lost response, a
//! cancellation while a retry waited) may still have been applied. Whenever
//! that is possible the row is read back, also after a cancellation (with a
//! detached, short-budget client): a row that shows the write is handed to
//! the caller, so no claim is made that nobody knows about (a claim whose
//! caller has gone away meanwhile is given back, see `delivery.rs`).

use std::future::Future;

use super::change::RowChange;
use super::error::StoreError;
use super::pool::AliasPool;
use super::row::AliasRow;
use crate::azure::table::{into_error, Entity, Fail, Write};
use crate::azure::{AzureError, OutageCause};

/// How often a conditional write on one row is retried after HTTP 412 before
/// giving up with [`StoreError::Contended`].
const MAX_WRITE_ATTEMPTS: u32 = 8;

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

/// How [`AliasPool::merge_change`] ended.
#[derive(Debug)]
pub(super) enum Merged {
    /// Written (or found written): the row now.
    Row(Box<AliasRow>),
    /// The row changed since it was read (HTTP 412).
    Changed,
    /// The row does not exist (any more).
    Missing,
}

/// Errors after which an attempt may have reached the table and been
/// applied: the service stayed unreachable after a request went out, the
/// caller cancelled while a retry waited, or the answer could not be read.
pub(super) fn may_have_landed(e: &StoreError) -> bool {
    match e {
        StoreError::Azure(AzureError::Down(outage)) => outage.cause == OutageCause::Unanswered,
        StoreError::Azure(e) => matches!(
            e,
            AzureError::Unavailable { .. }
                | AzureError::Cancelled { .. }
                | AzureError::Protocol { .. }
        ),
        _ => false,
    }
}

/// What a failed conditional write means, decided in one place for single
/// writes and transactions alike.
#[derive(Debug)]
pub(super) enum Failure {
    /// HTTP 412 (counted in [`AliasPool::conflict_count`]); `ambiguous` when
    /// an earlier attempt of this very write may have changed the row.
    Changed { ambiguous: bool },
    /// The row does not exist (any more).
    Missing,
    /// Any other error; `ambiguous` when the write may still have landed.
    Failed { error: StoreError, ambiguous: bool },
}

impl AliasPool {
    /// Sorts out a failed conditional write (and counts a lost race).
    pub(super) fn failure(&self, fail: Fail, operation: &'static str) -> Failure {
        match fail {
            Fail::Precondition { after_retry } => {
                self.conflicts
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Failure::Changed {
                    ambiguous: after_retry,
                }
            }
            Fail::EntityNotFound => Failure::Missing,
            other => {
                let error = StoreError::from(into_error(other, operation));
                Failure::Failed {
                    ambiguous: may_have_landed(&error),
                    error,
                }
            }
        }
    }

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
        let unknown = |reason: String| StoreError::OutcomeUnknown {
            operation,
            alias_id: row.id.clone(),
            reason,
        };
        match self.failure(fail, operation) {
            Failure::Changed { ambiguous } => {
                if ambiguous {
                    match self.read_back(&row.id, &landed).await {
                        Ok(Some(now)) => return Ok(Written::Landed(Box::new(now))),
                        Ok(None) => {}
                        Err(e) => return Err(unknown(e.to_string())),
                    }
                }
                Ok(Written::Changed)
            }
            Failure::Missing => Ok(Written::Missing),
            Failure::Failed {
                error,
                ambiguous: true,
            } => match self.read_back(&row.id, &landed).await {
                Ok(Some(now)) => Ok(Written::Landed(Box::new(now))),
                // Not applied: the first error says why.
                Ok(None) => Err(error),
                Err(e) => Err(unknown(format!("{error}; then: {e}"))),
            },
            Failure::Failed { error, .. } => Err(error),
        }
    }

    /// Merges `change` into `row` if its ETag still matches: the row as it is
    /// afterwards, or `None` when it changed meanwhile (read it again) or is gone.
    pub(super) async fn merge_change(
        &self,
        row: &AliasRow,
        change: &RowChange,
        operation: &'static str,
    ) -> Result<Merged, StoreError> {
        let written = self
            .write_row(row, &change.body(), Write::Merge, operation, |now| {
                change.shows_in(now)
            })
            .await?;
        Ok(match written {
            Written::Applied(etag) => Merged::Row(Box::new(change.applied_to(row, etag))),
            // A timed-out or cancelled attempt was ours.
            Written::Landed(now) => Merged::Row(now),
            Written::Changed => Merged::Changed,
            Written::Missing => Merged::Missing,
        })
    }

    /// Runs `attempt` (read the row, decide, write conditionally) until it
    /// settles; `Ok(None)` means the row changed since it was read, so it is
    /// read again and decided anew, at most [`MAX_WRITE_ATTEMPTS`] times.
    pub(super) async fn until_settled<T, Fut>(
        &self,
        alias_id: &str,
        mut attempt: impl FnMut() -> Fut,
    ) -> Result<T, StoreError>
    where
        Fut: Future<Output = Result<Option<T>, StoreError>>,
    {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            if let Some(done) = attempt().await? {
                return Ok(done);
            }
        }
        Err(StoreError::Contended {
            alias_id: alias_id.to_owned(),
            attempts: MAX_WRITE_ATTEMPTS,
        })
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
            address_source: self.address_source,
            minting: std::sync::Arc::clone(&self.minting),
        }
    }
}
