//! Coalesced releases: [`ReleaseBatcher`] collects the releases that arrive
//! within a few milliseconds of each other in one process (Terraform
//! destroying many `rootmail_alias` resources at once) and writes them
//! without reading first:
//!
//! - each release is decided on the row as a read saw it, exactly as the
//!   careful path decides on its own read (policy by use, quarantine dates,
//!   the legacy layout): the row the caller kept from a recent read
//!   ([`SeenRow`]: its ETag and columns, while this claim held it), or else
//!   the row as the batch reads it, one query per 14 keys;
//! - the writes go out as ETag-conditional Merges/Replaces in entity-group
//!   transactions of up to 100 rows (all rows share the pool's partition).
//!
//! A transaction is all or nothing and does not say which row failed. When
//! one fails (a row changed: 412; or vanished: 404) its rows are read again
//! with one query per 14 keys: rows whose ETag is unchanged go out again
//! together, a changed row takes the careful path on what was just read
//! (check the claim, decide, write conditionally, look again on 412), and a
//! missing row is reported missing. When a transaction's outcome is unclear
//! (a lost answer, a cancellation while a retry waited) the rows read back
//! tell: a row that shows the release is released, the others go on as above.
//! A release alone in its batch takes the careful path: one conditional
//! write on the row it was seen as, or a point read and one write.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::batch::{chunked, collect, BatchSettings, KEYS_PER_QUERY, MAX_TRANSACTION};
use super::conditional::Failure;
use super::error::StoreError;
use super::pool::{AliasPool, ReleaseChange, ReleaseOutcome, ReleasePolicy};
use super::row::{col, AliasRow, Claim};
use super::seen::SeenRow;
use crate::azure::odata::{and_all, eq_str, or_any};
use crate::azure::table::{BatchWrite, Entity};
use crate::azure::AzureError;

/// Rounds of transactions for the rows that stayed unchanged, before the
/// rest goes the careful way one by one.
const MAX_ROUNDS: u32 = 3;

/// Counters of what the release batcher did (for benchmarks and logs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReleaseCounts {
    /// Releases that went through a batch (with a seen row, or read by key
    /// together with the others).
    pub batched: u64,
    /// Entity-group transactions that committed.
    pub transactions: u64,
    /// Transactions that failed (a row changed or vanished, or the outcome
    /// was unclear) and whose rows were read again.
    pub failed_transactions: u64,
    /// Releases that took the careful path (alone in their batch, or their
    /// row changed).
    pub careful: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batched: AtomicU64,
    transactions: AtomicU64,
    failed_transactions: AtomicU64,
    careful: AtomicU64,
}

type Reply = oneshot::Sender<Result<ReleaseOutcome, StoreError>>;

struct Pending {
    alias_id: String,
    claim: Claim,
    policy: ReleasePolicy,
    /// The row as the caller's read saw it; `None`: the batch reads it.
    seen: Option<SeenRow>,
    reply: Reply,
}

/// Serves concurrent releases of one process together; dropping it stops
/// its worker task once the releases in flight are answered.
#[derive(Debug)]
pub struct ReleaseBatcher {
    counters: Arc<Counters>,
    queue: mpsc::UnboundedSender<Pending>,
    pool: AliasPool,
}

impl ReleaseBatcher {
    /// How the provider collects releases. Terraform spaces the destroys of
    /// one run by its own per-resource work (tens of ms each), so releases are
    /// held longer than claims to go out several at a time.
    pub const PROVIDER_SETTINGS: BatchSettings = BatchSettings {
        linger: Duration::from_millis(40),
        max_wait: Duration::from_millis(150),
        max_batch: MAX_TRANSACTION,
        candidate_ttl: Duration::ZERO,
    };

    /// A batcher collecting releases as `settings` say (only `linger`,
    /// `max_wait` and `max_batch` apply; [`BatchSettings::default`] is
    /// what the provider uses). Must be called inside a Tokio runtime.
    pub fn with_settings(pool: AliasPool, settings: BatchSettings) -> ReleaseBatcher {
        let counters = Arc::new(Counters::default());
        let (queue, mut rx) = mpsc::unbounded_channel();
        let settings = BatchSettings {
            max_batch: settings.max_batch.clamp(1, MAX_TRANSACTION),
            ..settings
        };
        let worker_pool = pool.clone();
        let worker_counters = Arc::clone(&counters);
        tokio::spawn(async move {
            let mut in_flight: Option<tokio::task::JoinHandle<()>> = None;
            while let Some(first) = rx.recv().await {
                let mut batch = collect(&mut rx, first, &settings).await;
                // One transaction out at a time, and whatever arrives while it is
                // out joins the next one: Terraform frees its parallelism slots
                // one by one, so a linger alone leaves batches of one or two.
                if let Some(mut previous) = in_flight.take() {
                    loop {
                        tokio::select! {
                            _ = &mut previous => break,
                            next = rx.recv(), if batch.len() < settings.max_batch => match next {
                                Some(p) => batch.push(p),
                                None => {
                                    let _ = previous.await;
                                    break;
                                }
                            },
                        }
                    }
                }
                in_flight = Some(tokio::spawn(serve(
                    worker_pool.clone(),
                    Arc::clone(&worker_counters),
                    batch,
                )));
            }
        });
        ReleaseBatcher {
            pool,
            queue,
            counters,
        }
    }

    /// What the batcher did so far.
    pub fn counts(&self) -> ReleaseCounts {
        let c = &self.counters;
        ReleaseCounts {
            batched: c.batched.load(Ordering::Relaxed),
            transactions: c.transactions.load(Ordering::Relaxed),
            failed_transactions: c.failed_transactions.load(Ordering::Relaxed),
            careful: c.careful.load(Ordering::Relaxed),
        }
    }

    /// Releases one alias like [`AliasPool::release`], with the same
    /// outcomes, together with the other releases arriving at about the same
    /// time. With `seen` (the row as a read saw it while `claim` held it) no
    /// read is needed first; without it, or when it is of another row or
    /// claim, the batch reads the row with the others' (by key).
    ///
    /// The release runs to its end even if the caller stops waiting.
    pub async fn release(
        &self,
        alias_id: &str,
        claim: &Claim,
        policy: ReleasePolicy,
        seen: Option<&SeenRow>,
    ) -> Result<ReleaseOutcome, StoreError> {
        let seen = seen.filter(|s| s.usable_for(alias_id, claim)).cloned();
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            alias_id: alias_id.to_owned(),
            claim: claim.clone(),
            policy,
            seen,
            reply,
        };
        if self.queue.send(pending).is_err() {
            // The worker is gone (runtime shutting down): the careful way.
            return self.pool.release(alias_id, claim, policy).await;
        }
        answer.await.unwrap_or(Err(AzureError::Cancelled {
            operation: "release alias",
        }
        .into()))
    }
}

/// One release of a batch, decided on the row as seen.
struct Item {
    pending: Pending,
    entity: Entity,
    row: AliasRow,
    change: ReleaseChange,
}

impl Item {
    fn answer(self, result: Result<ReleaseOutcome, StoreError>) {
        // A caller who stopped waiting still had its alias released.
        let _ = self.pending.reply.send(result);
    }
}

/// Serves one batch; every pending release gets exactly one answer.
async fn serve(pool: AliasPool, counters: Arc<Counters>, batch: Vec<Pending>) {
    tracing::debug!(releases = batch.len(), "serving a batch of releases");
    let pool = &pool;
    let counters = &*counters;
    if let [_] = batch.as_slice() {
        let alone = batch.into_iter().map(|p| {
            let read = p.seen.as_ref().and_then(|s| s.read(&p.claim));
            let read = read.map(|(entity, row)| (entity, row.etag().to_owned()));
            (p, read)
        });
        careful(pool, counters, alone.collect()).await;
        return;
    }
    counters
        .batched
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    let now = OffsetDateTime::now_utc();
    let mut items = Vec::with_capacity(batch.len());
    let mut alone = Vec::new();
    let mut keys = HashSet::new();
    let (seen, unseen): (Vec<Pending>, Vec<Pending>) =
        batch.into_iter().partition(|p| p.seen.is_some());
    let mut decided = Vec::new();
    for pending in seen {
        match pending.seen.as_ref().and_then(|s| s.read(&pending.claim)) {
            Some((entity, row)) => decided.push((pending, entity, row)),
            None => alone.push((pending, None)),
        }
    }
    if !unseen.is_empty() {
        let ids: Vec<&str> = unseen.iter().map(|p| p.alias_id.as_str()).collect();
        match read_keys(pool, &ids).await {
            Ok(mut now) => {
                for pending in unseen {
                    match now.remove(&pending.alias_id) {
                        None => {
                            let _ = pending.reply.send(Ok(ReleaseOutcome::Missing));
                        }
                        Some((entity, row)) if row.holds(&pending.claim) => {
                            decided.push((pending, entity, row))
                        }
                        // Decided (not held) on what was just read.
                        Some((entity, row)) => {
                            let read = (entity, row.etag().to_owned());
                            alone.push((pending, Some(read)))
                        }
                    }
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "could not read the rows of a release batch");
                alone.extend(unseen.into_iter().map(|p| (p, None)));
            }
        }
    }
    for (pending, entity, row) in decided {
        // One transaction cannot touch a row twice.
        if !keys.insert(pending.alias_id.clone()) {
            alone.push((pending, None));
            continue;
        }
        let change = ReleaseChange::new(&entity, &row, pending.policy, now);
        items.push(Item {
            pending,
            entity,
            row,
            change,
        });
    }
    let together = chunked(items, MAX_TRANSACTION)
        .into_iter()
        .map(|chunk| release_together(pool, counters, chunk));
    futures::join!(join_all(together), careful(pool, counters, alone));
}

/// Releases `items` in transactions, round after round with the rows that
/// stayed unchanged; changed rows go the careful way.
async fn release_together(pool: &AliasPool, counters: &Counters, mut items: Vec<Item>) {
    for _ in 0..MAX_ROUNDS {
        match items.len() {
            0 => return,
            // One row needs no transaction: the careful path writes the
            // same change on the same version with one conditional write.
            1 => break,
            _ => {}
        }
        let writes: Vec<BatchWrite> = items
            .iter()
            .map(|i| BatchWrite {
                row_key: &i.row.id,
                body: &i.change.body,
                etag: i.row.etag(),
                write: i.change.write,
            })
            .collect();
        let fail = match pool
            .io
            .write_batch_if_match(&writes, "release aliases")
            .await
        {
            Ok(_) => {
                counters.transactions.fetch_add(1, Ordering::Relaxed);
                for item in items {
                    let outcome = item.change.outcome(None);
                    item.answer(Ok(outcome));
                }
                return;
            }
            Err(fail) => fail,
        };
        counters.failed_transactions.fetch_add(1, Ordering::Relaxed);
        let failure = pool.failure(fail, "release aliases");
        let ambiguous = match &failure {
            Failure::Changed { ambiguous } => *ambiguous,
            Failure::Missing => false,
            Failure::Failed {
                ambiguous: true, ..
            } => true,
            // Refused as a whole for another reason (a bad row, …): each
            // row on its own says which.
            Failure::Failed { error, .. } => {
                tracing::debug!(%error, "release batch refused; releasing one by one");
                break;
            }
        };
        tracing::debug!(
            ?failure,
            "release batch not applied as sent; reading its rows"
        );
        // After a cancellation the rows must still be told apart.
        let reader = if ambiguous {
            pool.detached()
        } else {
            pool.clone()
        };
        let now = match read_rows(&reader, &items).await {
            Ok(now) => now,
            Err(e) => {
                tracing::debug!(error = %e, "could not read the rows of a failed release batch");
                break;
            }
        };
        let mut again = Vec::new();
        let mut alone = Vec::new();
        for item in items {
            match now.get(&item.row.id) {
                None => item.answer(Ok(ReleaseOutcome::Missing)),
                Some((_, row)) if row.etag() == item.row.etag() => again.push(item),
                Some((_, row)) if item.change.landed(row, &item.pending.claim.token) => {
                    let outcome = item.change.outcome(Some(row));
                    item.answer(Ok(outcome));
                }
                Some((entity, row)) => {
                    alone.push((item, Some((entity.clone(), row.etag().to_owned()))))
                }
            }
        }
        careful_items(pool, counters, alone).await;
        items = again;
        if pool.io.cancel.is_cancelled() {
            break;
        }
    }
    let rest = items
        .into_iter()
        .map(|i| {
            let read = Some((i.entity.clone(), i.row.etag().to_owned()));
            (i, read)
        })
        .collect();
    careful_items(pool, counters, rest).await;
}

/// The careful path for each item, starting from `read` when given.
async fn careful_items(
    pool: &AliasPool,
    counters: &Counters,
    items: Vec<(Item, Option<(Entity, String)>)>,
) {
    let pending = items.into_iter().map(|(item, read)| (item.pending, read));
    careful(pool, counters, pending.collect()).await;
}

/// The careful path for each release, starting from `read` when given.
async fn careful(
    pool: &AliasPool,
    counters: &Counters,
    releases: Vec<(Pending, Option<(Entity, String)>)>,
) {
    let runs = releases.into_iter().map(|(p, read)| async move {
        counters.careful.fetch_add(1, Ordering::Relaxed);
        let result = pool
            .release_from(&p.alias_id, &p.claim, p.policy, read)
            .await;
        // A caller who stopped waiting still had its alias released.
        let _ = p.reply.send(result);
    });
    join_all(runs).await;
}

/// The rows of `items` as they are now, by row key.
async fn read_rows(
    pool: &AliasPool,
    items: &[Item],
) -> Result<HashMap<String, (Entity, AliasRow)>, StoreError> {
    let keys: Vec<&str> = items.iter().map(|i| i.row.id.as_str()).collect();
    read_keys(pool, &keys).await
}

/// The rows with these keys as they are now (one query per 14 keys, every
/// column).
async fn read_keys(
    pool: &AliasPool,
    keys: &[&str],
) -> Result<HashMap<String, (Entity, AliasRow)>, StoreError> {
    let io = &pool.io;
    let queries = keys.chunks(KEYS_PER_QUERY).map(|chunk| {
        let filter = and_all([
            eq_str(col::PARTITION_KEY, &io.partition_key),
            or_any(chunk.iter().map(|k| eq_str(col::ROW_KEY, k))),
        ]);
        async move { io.query_all(&filter, None).await }
    });
    let mut found = HashMap::new();
    for page in join_all(queries).await {
        for entity in page? {
            let row = AliasRow::from_entity(&entity, None).map_err(|message| {
                StoreError::from(AzureError::Protocol {
                    operation: "read aliases",
                    message,
                })
            })?;
            found.insert(row.id.clone(), (entity, row));
        }
    }
    Ok(found)
}
