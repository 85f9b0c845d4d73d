//! Coalesced reads: [`ReadCoalescer`] serves point reads of alias rows that
//! arrive together in one process (Terraform refreshing many
//! `rootmail_alias` resources at `-parallelism`) with fewer requests:
//!
//! - a handful of pending reads are point reads;
//! - more than that go out as one `RowKey eq … or …` query per 14 keys;
//! - once a burst of reads is long (many reads without a pause), one
//!   snapshot of the partition's claimed rows (`in_use eq true`, pages of
//!   up to 1,000) serves the reads that follow for a short, bounded time.
//!
//! Every answer is the row exactly as a point read returns it, with its
//! ETag. Freshness: a row is never older than the snapshot's age limit
//! when it is served, and a snapshot is only taken and used inside one
//! burst of reads (a pause ends it, and a new provider configuration, which
//! Terraform sends at the start of every run, starts a new coalescer). Any
//! write of this process (claim, release, update, link) retires the
//! snapshot. A row the snapshot does not hold (released, deleted, beyond
//! its pages) is read exactly, with the keyed reads above.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use tokio::sync::{mpsc, oneshot};

use super::batch::{collect, BatchSettings, KEYS_PER_QUERY};
use super::error::StoreError;
use super::pool::{protocol, AliasPool};
use super::row::check_alias_id;
use super::row::{col, AliasRow};
use crate::azure::odata::{and_all, eq_bool, eq_str, or_any};
use crate::azure::table::Entity;
use crate::azure::AzureError;

/// Most reads served as one batch.
const MAX_BATCH: usize = 1000;

/// Up to this many pending reads are point reads; more share a query.
const POINT_READS_UP_TO: usize = 2;

/// How a [`ReadCoalescer`] collects and serves reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadSettings {
    /// After each arrival, wait this long for another one before serving.
    pub linger: Duration,
    /// Never hold the first read of a batch longer than this.
    pub max_wait: Duration,
    /// Reads in one burst before a snapshot of the partition is worth it.
    pub snapshot_after: usize,
    /// The oldest a snapshot may be when it serves a read.
    pub snapshot_max_age: Duration,
    /// A pause without reads this long ends a burst (and its snapshot).
    pub burst_gap: Duration,
    /// Most query pages (1,000 rows each) one snapshot reads; rows beyond
    /// them are read by key.
    pub snapshot_max_pages: usize,
}

impl Default for ReadSettings {
    fn default() -> Self {
        ReadSettings {
            linger: Duration::from_millis(2),
            max_wait: Duration::from_millis(10),
            snapshot_after: 40,
            snapshot_max_age: Duration::from_secs(5),
            burst_gap: Duration::from_secs(1),
            snapshot_max_pages: 10,
        }
    }
}

/// Counters of what the coalescer did (for benchmarks, tests and logs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadCounts {
    /// Reads asked for.
    pub reads: u64,
    /// Reads answered from a snapshot.
    pub from_snapshot: u64,
    /// Point reads sent.
    pub point_reads: u64,
    /// Queries by row keys sent.
    pub key_queries: u64,
    /// Snapshots taken.
    pub snapshots: u64,
    /// Query pages read for snapshots.
    pub snapshot_pages: u64,
}

#[derive(Debug, Default)]
struct Counters {
    reads: AtomicU64,
    from_snapshot: AtomicU64,
    point_reads: AtomicU64,
    key_queries: AtomicU64,
    snapshots: AtomicU64,
    snapshot_pages: AtomicU64,
}

/// A row as read, with every column (as a point read returns it) and its ETag.
type Read = (Entity, String);

type Answer = Result<Option<Read>, StoreError>;

struct Pending {
    alias_id: String,
    reply: oneshot::Sender<Answer>,
}

/// Serves concurrent reads of one process together. Cheap to share
/// (`Arc`); dropping the last handle stops its worker task.
#[derive(Debug)]
pub struct ReadCoalescer {
    pool: AliasPool,
    queue: mpsc::UnboundedSender<Pending>,
    counters: Arc<Counters>,
}

impl ReadCoalescer {
    /// A coalescer with [`ReadSettings::default`]. Must be called inside a
    /// Tokio runtime (it spawns its worker task there).
    pub fn new(pool: AliasPool) -> ReadCoalescer {
        ReadCoalescer::with_settings(pool, ReadSettings::default())
    }

    /// A coalescer with explicit settings (inside a Tokio runtime).
    pub fn with_settings(pool: AliasPool, settings: ReadSettings) -> ReadCoalescer {
        let (queue, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let worker = Worker {
            pool: pool.clone(),
            settings,
            counters: Arc::clone(&counters),
            snapshot: None,
            burst: Burst::default(),
        };
        tokio::spawn(worker.run(rx));
        ReadCoalescer {
            pool,
            queue,
            counters,
        }
    }

    /// What the coalescer did so far.
    pub fn counts(&self) -> ReadCounts {
        let c = &self.counters;
        ReadCounts {
            reads: c.reads.load(Ordering::Relaxed),
            from_snapshot: c.from_snapshot.load(Ordering::Relaxed),
            point_reads: c.point_reads.load(Ordering::Relaxed),
            key_queries: c.key_queries.load(Ordering::Relaxed),
            snapshots: c.snapshots.load(Ordering::Relaxed),
            snapshot_pages: c.snapshot_pages.load(Ordering::Relaxed),
        }
    }

    /// The row with this id, like [`AliasPool::get`] (`None` when absent),
    /// served together with whatever other reads arrive at about the same time.
    pub async fn get(&self, alias_id: &str) -> Result<Option<AliasRow>, StoreError> {
        match self.read(alias_id).await? {
            None => Ok(None),
            // Every column is kept, as a point read keeps them, so the row
            // can be kept for a release without a read (see `SeenRow`).
            Some((entity, etag)) => AliasRow::from_full_entity(&entity, Some(&etag))
                .map(Some)
                .map_err(|m| protocol("read alias", m)),
        }
    }

    async fn read(&self, alias_id: &str) -> Answer {
        check_alias_id(alias_id)?;
        self.counters.reads.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            alias_id: alias_id.to_owned(),
            reply,
        };
        if self.queue.send(pending).is_err() {
            // The worker is gone (runtime shutting down): read directly.
            return Ok(self.pool.io.get(alias_id).await?);
        }
        match answer.await {
            Ok(result) => result,
            Err(_) => Err(AzureError::Cancelled {
                operation: "read alias",
            }
            .into()),
        }
    }
}

/// The partition's claimed rows as one moment saw them.
struct Snapshot {
    rows: HashMap<String, Read>,
    taken: Instant,
    /// This process's writes started before the snapshot was taken.
    writes: u64,
    pages: u64,
    served: u64,
}

/// Reads arriving without a pause longer than `burst_gap`.
#[derive(Default)]
struct Burst {
    reads: usize,
    last: Option<Instant>,
    /// A snapshot of this burst cost more than the keyed reads it saved.
    snapshots_unprofitable: bool,
}

struct Worker {
    pool: AliasPool,
    settings: ReadSettings,
    counters: Arc<Counters>,
    snapshot: Option<Snapshot>,
    burst: Burst,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Pending>) {
        let collecting = BatchSettings {
            linger: self.settings.linger,
            max_wait: self.settings.max_wait,
            max_batch: MAX_BATCH,
            ..BatchSettings::default()
        };
        while let Some(first) = rx.recv().await {
            let batch = collect(&mut rx, first, &collecting).await;
            self.serve(batch).await;
        }
    }

    /// Serves one batch; every pending read gets exactly one answer.
    async fn serve(&mut self, batch: Vec<Pending>) {
        let now = Instant::now();
        if self
            .burst
            .last
            .is_none_or(|t| now.duration_since(t) > self.settings.burst_gap)
        {
            self.end_snapshot();
            self.burst = Burst::default();
        }
        self.burst.reads += batch.len();
        self.burst.last = Some(now);

        if !self.snapshot_usable() {
            self.end_snapshot();
            if self.burst.reads >= self.settings.snapshot_after
                && !self.burst.snapshots_unprofitable
            {
                if let Err(e) = self.take_snapshot().await {
                    tracing::debug!(error = %e, "snapshot of the partition failed; reading by key");
                    self.burst.snapshots_unprofitable = true;
                }
            }
        }
        let mut rest = batch;
        if let Some(snap) = &mut self.snapshot {
            let mut missed = Vec::new();
            let mut served = 0;
            for p in rest {
                match snap.rows.get(&p.alias_id) {
                    Some(row) => {
                        let _ = p.reply.send(Ok(Some(row.clone())));
                        served += 1;
                    }
                    None => missed.push(p),
                }
            }
            snap.served += served;
            self.counters
                .from_snapshot
                .fetch_add(served, Ordering::Relaxed);
            rest = missed;
        }
        if rest.is_empty() {
            return;
        }
        // Keyed reads run on their own, so later batches are not held up.
        let pool = self.pool.clone();
        let counters = Arc::clone(&self.counters);
        tokio::spawn(read_by_key(pool, counters, rest));
    }

    /// True while the snapshot may still answer reads.
    fn snapshot_usable(&self) -> bool {
        self.snapshot.as_ref().is_some_and(|s| {
            s.taken.elapsed() <= self.settings.snapshot_max_age
                && self.pool.io.writes().started() == s.writes
        })
    }

    /// Drops the snapshot, noting whether it paid for itself.
    fn end_snapshot(&mut self) {
        if let Some(s) = self.snapshot.take() {
            // Keyed reads would have cost about one request per 10 reads.
            if s.served < s.pages * 10 {
                self.burst.snapshots_unprofitable = true;
            }
        }
    }

    /// Reads the partition's claimed rows (every row a resource may hold:
    /// anything not free has `in_use = true`), page after page.
    async fn take_snapshot(&mut self) -> Result<(), StoreError> {
        // Only while none of our own writes is in flight: one could land
        // between two pages and leave the snapshot behind the table.
        let Some(writes) = self.pool.io.writes().quiet() else {
            return Ok(());
        };
        let taken = Instant::now();
        let io = &self.pool.io;
        let filter = and_all([
            eq_str(col::PARTITION_KEY, &io.partition_key),
            eq_bool(col::IN_USE, true),
        ]);
        let mut rows = HashMap::new();
        let mut from = None;
        let mut pages = 0u64;
        loop {
            // Every column, as a point read returns them.
            let (page, next) = io
                .query_page(&filter, None, Some(1000), from.as_ref())
                .await?;
            pages += 1;
            for entity in page {
                let (key, read) = keyed(entity)?;
                rows.insert(key, read);
            }
            match next {
                Some(n) if (pages as usize) < self.settings.snapshot_max_pages => from = Some(n),
                _ => break,
            }
        }
        self.counters.snapshots.fetch_add(1, Ordering::Relaxed);
        self.counters
            .snapshot_pages
            .fetch_add(pages, Ordering::Relaxed);
        if io.writes().started() != writes {
            return Ok(()); // a write began meanwhile: not usable
        }
        tracing::debug!(rows = rows.len(), pages, "took a snapshot of the partition");
        self.snapshot = Some(Snapshot {
            rows,
            taken,
            writes,
            pages,
            served: 0,
        });
        Ok(())
    }
}

/// Answers reads exactly: point reads for a handful, else one query per
/// 14 row keys (a key the query does not return has no row).
async fn read_by_key(pool: AliasPool, counters: Arc<Counters>, reads: Vec<Pending>) {
    if reads.len() <= POINT_READS_UP_TO {
        let point = reads.into_iter().map(|p| {
            counters.point_reads.fetch_add(1, Ordering::Relaxed);
            let pool = &pool;
            async move {
                let answer = pool.io.get(&p.alias_id).await;
                let _ = p.reply.send(answer.map_err(StoreError::from));
            }
        });
        join_all(point).await;
        return;
    }
    let mut chunks: Vec<Vec<Pending>> = Vec::new();
    for p in reads {
        match chunks.last_mut() {
            Some(last) if last.len() < KEYS_PER_QUERY => last.push(p),
            _ => chunks.push(vec![p]),
        }
    }
    let queries = chunks.into_iter().map(|chunk| {
        counters.key_queries.fetch_add(1, Ordering::Relaxed);
        let (pool, counters) = (&pool, &counters);
        async move {
            match query_keys(pool, &chunk).await {
                Ok(mut found) => {
                    for p in chunk {
                        let _ = p.reply.send(Ok(found.remove(&p.alias_id)));
                    }
                }
                Err(e) => {
                    // Each read then gets its own answer (or its own error).
                    tracing::debug!(error = %e, "query by row keys failed; reading one by one");
                    let point = chunk.into_iter().map(|p| async move {
                        counters.point_reads.fetch_add(1, Ordering::Relaxed);
                        let answer = pool.io.get(&p.alias_id).await;
                        let _ = p.reply.send(answer.map_err(StoreError::from));
                    });
                    join_all(point).await;
                }
            }
        }
    });
    join_all(queries).await;
}

/// The rows with these keys (every column), by key.
async fn query_keys(
    pool: &AliasPool,
    reads: &[Pending],
) -> Result<HashMap<String, Read>, StoreError> {
    let io = &pool.io;
    let filter = and_all([
        eq_str(col::PARTITION_KEY, &io.partition_key),
        or_any(reads.iter().map(|p| eq_str(col::ROW_KEY, &p.alias_id))),
    ]);
    io.query_all(&filter, None)
        .await?
        .into_iter()
        .map(keyed)
        .collect()
}

/// A queried entity by its row key, with the ETag the query reported for it
/// (the one a point read returns in its header).
fn keyed(mut entity: Entity) -> Result<(String, Read), StoreError> {
    let key = entity
        .get(col::ROW_KEY)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    let etag = match entity.remove("odata.etag") {
        Some(serde_json::Value::String(e)) if !e.is_empty() => e,
        _ => {
            return Err(protocol(
                "read alias",
                "entity without odata.etag".to_owned(),
            ))
        }
    };
    match key {
        Some(key) => Ok((key, (entity, etag))),
        None => Err(protocol("read alias", "entity without RowKey".to_owned())),
    }
}
