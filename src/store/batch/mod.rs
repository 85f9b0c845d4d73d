//! Coalesced claims: [`ClaimBatcher`] collects the claims that arrive within a
//! few milliseconds of each other in one process (Terraform creating many
//! `rootmail_alias` resources at once) and serves them together:
//!
//! - one `or` query looks up every `claim_key` of the batch; a key that
//!   names claims is resumed or refused as `pool/keyed.rs` says, and new
//!   keyed claims are handed over together after one more lookup;
//! - one candidate query per mailbox finds free rows for all of them, and
//!   leftover candidates are kept for the next batch (for a short while);
//! - the claims go out as ETag-conditional Merges in one entity-group
//!   transaction (all rows share the pool's partition);
//! - claims whose address source allows minting (see `store::minting`) take
//!   released minted rows like aliases, and those left without a candidate
//!   get new addresses, inserted already claimed in one transaction per
//!   minting mailbox (`mint.rs`).
//!
//! A transaction is all or nothing: if one row changed meanwhile (HTTP 412,
//! usually another process claiming from the same rows) nothing is written;
//! the batch is then tried once more as a whole on fresh candidates from a
//! new query, and claims still left over are retried on their own through
//! [`AliasPool::claim`]'s path, which moves on to fresh candidates. Every
//! guarantee of a single claim holds: conditional writes only, one alias
//! never goes to two claimers, a claim key keeps its promises (a key
//! repeated within one batch is served after the first request with it, and
//! so refused), the mailbox filter applies, and each request gets its own
//! `PoolExhausted`.
//!
//! No claim is left without an owner: when a transaction's outcome is
//! unclear (a lost answer, a cancellation while a retry waited) its rows are
//! read back and a row carrying a claim's token goes to that claim's caller;
//! a row that cannot be read back fails its claim with
//! [`StoreError::OutcomeUnknown`] rather than claiming a second alias; a new
//! claim whose caller stopped waiting is given back (see `delivery.rs`).

mod mint;
mod transaction;
mod worker;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::delivery::{handover, Reply};
use super::error::StoreError;
use super::pool::{AliasPool, ClaimRequest, ClaimedAlias};
use worker::Worker;

/// Most writes an entity-group transaction may hold.
pub(super) const MAX_TRANSACTION: usize = 100;

/// The table service accepts at most 15 comparisons in one `$filter`; one is
/// the partition key, so a claim-key lookup asks for at most 14 keys at once.
pub(super) const KEYS_PER_QUERY: usize = 14;

/// How a [`ClaimBatcher`] collects claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    /// After each arrival, wait this long for another one before starting.
    pub linger: Duration,
    /// Never hold the first claim of a batch longer than this.
    pub max_wait: Duration,
    /// Most claims in one batch (at most 100, one transaction).
    pub max_batch: usize,
    /// How long leftover candidates of a query may be used by later batches.
    pub candidate_ttl: Duration,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            linger: Duration::from_millis(2),
            max_wait: Duration::from_millis(10),
            max_batch: MAX_TRANSACTION,
            candidate_ttl: Duration::from_secs(10),
        }
    }
}

/// Counters of what the batcher did (for benchmarks and logs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// Batches served.
    pub batches: u64,
    /// Claims that went through a batch.
    pub claims: u64,
    /// Entity-group transactions that committed.
    pub transactions: u64,
    /// Transactions that failed (a row changed) and were retried claim by claim.
    pub failed_transactions: u64,
    /// Claims served one by one (no candidate left, a failed transaction, …).
    pub single_claims: u64,
    /// Claims served with a new minted address in a transaction.
    pub minted: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    claims: AtomicU64,
    transactions: AtomicU64,
    failed_transactions: AtomicU64,
    single_claims: AtomicU64,
    minted: AtomicU64,
}

struct Pending {
    request: ClaimRequest,
    reply: Reply,
}

/// Serves concurrent claims of one process together. Cheap to share
/// (`Arc`); dropping the last handle stops its worker task.
#[derive(Debug)]
pub struct ClaimBatcher {
    pool: AliasPool,
    queue: mpsc::UnboundedSender<Pending>,
    counters: Arc<Counters>,
}

impl ClaimBatcher {
    /// A batcher with [`BatchSettings::default`]. Must be called inside a
    /// Tokio runtime (it spawns its worker task there).
    pub fn new(pool: AliasPool) -> ClaimBatcher {
        ClaimBatcher::with_settings(pool, BatchSettings::default())
    }

    /// A batcher with explicit settings (inside a Tokio runtime).
    pub fn with_settings(pool: AliasPool, settings: BatchSettings) -> ClaimBatcher {
        let (queue, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let worker = Worker::new(
            pool.clone(),
            BatchSettings {
                max_batch: settings.max_batch.clamp(1, MAX_TRANSACTION),
                ..settings
            },
            Arc::clone(&counters),
        );
        tokio::spawn(worker.run(rx));
        ClaimBatcher {
            pool,
            queue,
            counters,
        }
    }

    /// The pool the claims go to.
    pub fn pool(&self) -> &AliasPool {
        &self.pool
    }

    /// What the batcher did so far.
    pub fn counts(&self) -> BatchCounts {
        let c = &self.counters;
        BatchCounts {
            batches: c.batches.load(Ordering::Relaxed),
            claims: c.claims.load(Ordering::Relaxed),
            transactions: c.transactions.load(Ordering::Relaxed),
            failed_transactions: c.failed_transactions.load(Ordering::Relaxed),
            single_claims: c.single_claims.load(Ordering::Relaxed),
            minted: c.minted.load(Ordering::Relaxed),
        }
    }

    /// Claims one alias, like [`AliasPool::claim`], together with whatever
    /// other claims arrive at about the same time.
    pub async fn claim(&self, request: &ClaimRequest) -> Result<ClaimedAlias, StoreError> {
        let (reply, answer) = handover(&self.pool);
        let pending = Pending {
            request: request.clone(),
            reply,
        };
        if self.queue.send(pending).is_err() {
            // The worker is gone (runtime shutting down): claim directly.
            return self.pool.claim_to_completion(request).await;
        }
        answer.received().await
    }
}

/// `first` and whatever arrives after it, each within `linger` of the one
/// before, for at most `max_wait` and `max_batch` items.
pub(super) async fn collect<T>(
    rx: &mut mpsc::UnboundedReceiver<T>,
    first: T,
    settings: &BatchSettings,
) -> Vec<T> {
    let mut batch = vec![first];
    let deadline = Instant::now() + settings.max_wait;
    while batch.len() < settings.max_batch {
        while batch.len() < settings.max_batch {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let now = Instant::now();
        if batch.len() >= settings.max_batch || now >= deadline {
            break;
        }
        let wait = settings.linger.min(deadline - now);
        match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some(p)) => batch.push(p),
            // Closed, or nothing arrived within the linger time.
            Ok(None) | Err(_) => break,
        }
    }
    batch
}

pub(super) fn chunked<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut current = Vec::with_capacity(size);
    for item in items {
        current.push(item);
        if current.len() == size {
            out.push(std::mem::replace(&mut current, Vec::with_capacity(size)));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_order_and_bound_size() {
        let c = chunked((0..205).collect(), 100);
        assert_eq!(c.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 5]);
        assert_eq!(c[2], [200, 201, 202, 203, 204]);
        assert!(chunked(Vec::<u8>::new(), 100).is_empty());
    }

    #[test]
    fn requests_are_checked_like_single_claims() {
        let empty_key = ClaimRequest {
            claim_key: Some(String::new()),
            ..Default::default()
        };
        assert!(matches!(
            empty_key.check(),
            Err(StoreError::InvalidInput {
                field: "claim_key",
                ..
            })
        ));
        let long_owner = ClaimRequest {
            owner: "x".repeat(2000),
            ..Default::default()
        };
        assert!(long_owner.check().is_err());
        assert!(ClaimRequest::default().check().is_ok());
    }
}
