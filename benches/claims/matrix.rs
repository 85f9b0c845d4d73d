//! The claim matrix: strategies × pool size × fill × concurrency against Azurite.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use futures::{stream, StreamExt};
use rand::seq::SliceRandom;
use rootmail::store::{
    AliasPool, Claim, ClaimBatcher, ClaimRequest, LegacyRow, ReleasePolicy, StoreConfig,
};
use serde_json::{json, Value};

use crate::azurite;
use crate::azurite_log::LoggedAzurite;
use crate::charts;
use crate::naive::{NaiveOutcome, NaiveTool};
use crate::options::Options;
use crate::report::{median, ms, percentile, secs};
use crate::{DOMAIN, MAILBOX};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Strategy {
    Naive,
    Single,
    Batched,
}

impl Strategy {
    fn label(self) -> &'static str {
        match self {
            Strategy::Naive => "naive (first free row, give up on 412)",
            Strategy::Single => "AliasPool::claim (one by one)",
            Strategy::Batched => "ClaimBatcher (the provider's path)",
        }
    }
    fn short(self) -> &'static str {
        match self {
            Strategy::Naive => "naive",
            Strategy::Single => "claim",
            Strategy::Batched => "batched",
        }
    }
}

pub(crate) struct Cell {
    size: usize,
    fill: u32,
    /// Claimers asked for (the matrix's axis).
    requested: usize,
    /// Claimers that ran: never more than there were claims.
    concurrency: usize,
    strategy: Strategy,
    attempted: usize,
    claimed: usize,
    failed: usize,
    conflicts: u64,
    wall: Duration,
    latencies: Vec<Duration>,
    requests: u64,
}

impl Cell {
    fn throughput(&self) -> f64 {
        self.claimed as f64 / self.wall.as_secs_f64().max(1e-9)
    }
    fn p(&self, q: f64) -> Duration {
        percentile(&self.latencies, q)
    }
    fn requests_per_claim(&self) -> f64 {
        self.requests as f64 / (self.claimed.max(1)) as f64
    }
    /// Share of the claims tried that returned no alias, in percent.
    fn failed_percent(&self) -> f64 {
        100.0 * self.failed as f64 / self.attempted.max(1) as f64
    }
}

/// Azurite's database file in a `--location` folder.
pub(crate) const AZURITE_DB: &str = "__azurite_db_table__.json";

/// A folder holding an Azurite table database with `size` rows of the legacy
/// layout in table `table`, `fill`% of them claimed by an older tool.
///
/// Inserting rows over HTTP costs Azurite O(rows) per insert (its point
/// lookups scan the partition), so 100k rows would take far longer than the
/// whole benchmark may. Instead Azurite creates the (empty) table itself, is
/// stopped once it has saved its database, and the rows are written into
/// that LokiJS file in the shape Azurite stores entities it received.
pub(crate) async fn prepare_database(
    table: &str,
    size: usize,
    fill: u32,
) -> Result<(tempfile::TempDir, Vec<String>)> {
    let az = LoggedAzurite::on_disk(tempfile::tempdir()?)?;
    let pool = AliasPool::connect(&StoreConfig::emulator(az.endpoint(), table))?;
    pool.ensure_table().await?;
    // Azurite saves every 5 s; wait until the table is in the file.
    let collection_name = format!("{}${table}", azurite::ACCOUNT);
    let db = az.dir.path().join(AZURITE_DB);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let saved = std::fs::read_to_string(&db).unwrap_or_default();
        if saved.contains(&collection_name) {
            break;
        }
        if Instant::now() > deadline {
            bail!("Azurite did not save its database with table {table}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dir = az.stop();
    let db = dir.path().join(AZURITE_DB);
    let mut database: Value = serde_json::from_str(&std::fs::read_to_string(&db)?)?;
    let collection = database["collections"]
        .as_array_mut()
        .and_then(|cs| {
            cs.iter_mut()
                .find(|c| c["name"] == collection_name.as_str())
        })
        .ok_or_else(|| anyhow!("no collection {collection_name} in Azurite's database"))?;
    let claimed = size * fill as usize / 100;
    let mut flags: Vec<bool> = (0..size).map(|i| i < claimed).collect();
    flags.shuffle(&mut rand::rng());
    let now = time::OffsetDateTime::now_utc();
    let created_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let pk = rootmail::settings::DEFAULT_PARTITION_KEY;
    let mut docs = Vec::with_capacity(size);
    let mut keys = Vec::with_capacity(size);
    for (i, in_use) in flags.into_iter().enumerate() {
        let row = LegacyRow::free(MAILBOX, DOMAIN);
        // Distinct timestamps (and so ETags) per row, 100 ns apart.
        let t = now + time::Duration::nanoseconds(100 * i as i64);
        let stamp = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
            t.year(),
            t.month() as u8,
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.nanosecond() / 100
        );
        let etag = format!("W/\"datetime'{}'\"", stamp.replace(':', "%3A"));
        keys.push(row.id.clone());
        docs.push(json!({
            "PartitionKey": pk,
            "RowKey": row.id,
            "properties": {
                "PartitionKey": pk,
                "RowKey": row.id,
                "id": row.id,
                "aws_mail": row.aws_mail,
                "in_use": in_use,
                "user_mail": if in_use { "legacy-owner@company.com" } else { "" },
                "root_mailbox": row.root_mailbox,
                "aws_account_id": "",
                "Timestamp": stamp,
                "Timestamp@odata.type": "Edm.DateTime",
            },
            "lastModifiedTime": stamp,
            "eTag": etag,
            "meta": {"revision": 0, "created": created_ms, "version": 0},
            "$loki": i + 1,
        }));
    }
    // Loki's binary indices: document positions in value order.
    let mut by_row_key: Vec<usize> = (0..size).collect();
    by_row_key.sort_by(|a, b| keys[*a].cmp(&keys[*b]));
    collection["data"] = Value::Array(docs);
    collection["maxId"] = json!(size);
    collection["binaryIndices"] = json!({
        "PartitionKey": {"name": "PartitionKey", "dirty": false, "values": (0..size).collect::<Vec<_>>()},
        "RowKey": {"name": "RowKey", "dirty": false, "values": by_row_key},
    });
    std::fs::write(&db, serde_json::to_vec(&database)?)?;
    keys.truncate(200);
    Ok((dir, keys))
}

/// Inserts `size` rows with `fill`% claimed through the store's own
/// entity-group inserts (for the record: how slow that is on Azurite).
pub(crate) async fn seed_over_http(pool: &AliasPool, size: usize, fill: u32) -> Result<()> {
    let claimed = size * fill as usize / 100;
    let rows: Vec<LegacyRow> = (0..size)
        .map(|i| {
            let mut r = LegacyRow::free(MAILBOX, DOMAIN);
            if i < claimed {
                r.in_use = true;
                r.user_mail = "legacy-owner@company.com".into();
            }
            r
        })
        .collect();
    pool.insert_legacy_rows(&rows).await?;
    Ok(())
}

pub(crate) struct SeededTable {
    fill: u32,
    free: usize,
    config: StoreConfig,
    seed_time: Duration,
    azurite: LoggedAzurite,
    /// Median of sequential point reads: what one round trip costs Azurite
    /// on this table.
    point_read_p50: Duration,
}

/// One Azurite per table, started on a prepared database.
pub(crate) async fn seed_table(size: usize, fill: u32) -> Result<SeededTable> {
    let table = format!("bench{size}f{fill}");
    let started = Instant::now();
    let (dir, sample) = prepare_database(&table, size, fill).await?;
    let azurite = LoggedAzurite::on_disk(dir)?;
    let config = StoreConfig::emulator(azurite.endpoint(), &table);
    // What Azurite loaded is what the store expects to find.
    let pool = AliasPool::connect(&config)?;
    let stats = pool.stats(None).await?;
    let claimed = size * fill as usize / 100;
    if stats.all.total != size as u64 || stats.all.free != (size - claimed) as u64 {
        bail!(
            "Azurite loaded {} rows ({} free), expected {size} ({} free)",
            stats.all.total,
            stats.all.free,
            size - claimed
        );
    }
    let seed_time = started.elapsed();
    let mut reads = Vec::new();
    for id in sample.iter().take(100) {
        let t0 = Instant::now();
        pool.get(id)
            .await?
            .ok_or_else(|| anyhow!("row {id} missing"))?;
        reads.push(t0.elapsed());
    }
    Ok(SeededTable {
        fill,
        free: size - claimed,
        config,
        seed_time,
        azurite,
        point_read_p50: median(reads),
    })
}

/// One claim, by whichever strategy.
pub(crate) enum Claimer {
    Naive(Arc<NaiveTool>),
    Single(AliasPool),
    Batched(Arc<ClaimBatcher>),
}

pub(crate) enum Won {
    Token(String, Claim),
    Row(String),
}

pub(crate) async fn run_cell(
    table: &SeededTable,
    size: usize,
    requested: usize,
    strategy: Strategy,
    claims: usize,
) -> Result<Cell> {
    let concurrency = requested.min(claims);
    let endpoint = table.azurite.endpoint();
    let endpoint = endpoint.as_str();
    let claimer = match strategy {
        Strategy::Naive => Claimer::Naive(Arc::new(NaiveTool::new(
            endpoint,
            &table.config.connection.table,
        ))),
        Strategy::Single => Claimer::Single(AliasPool::connect(&table.config)?),
        Strategy::Batched => Claimer::Batched(Arc::new(ClaimBatcher::new(AliasPool::connect(
            &table.config,
        )?))),
    };
    let claimer = Arc::new(claimer);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let claimer = Arc::clone(&claimer);
        let next = Arc::clone(&next);
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut won = Vec::new();
            let mut failed = 0usize;
            let mut errors = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < claims {
                let owner = format!("bench{w}@company.com");
                let t0 = Instant::now();
                let outcome: Result<Option<Won>> = match &*claimer {
                    Claimer::Naive(n) => match n.claim(&owner).await {
                        Ok(NaiveOutcome::Claimed(rk)) => Ok(Some(Won::Row(rk))),
                        Ok(NaiveOutcome::Conflict | NaiveOutcome::Exhausted) => Ok(None),
                        Err(e) => Err(e),
                    },
                    Claimer::Single(p) => p
                        .claim(&request(&owner))
                        .await
                        .map(|c| Some(Won::Token(c.alias.id.clone(), c.claim())))
                        .map_err(Into::into),
                    Claimer::Batched(b) => b
                        .claim(&request(&owner))
                        .await
                        .map(|c| Some(Won::Token(c.alias.id.clone(), c.claim())))
                        .map_err(Into::into),
                };
                let took = t0.elapsed();
                match outcome {
                    Ok(Some(w)) => {
                        lat.push(took);
                        won.push(w);
                    }
                    Ok(None) => failed += 1,
                    Err(e) => {
                        failed += 1;
                        errors.push(e.to_string());
                    }
                }
            }
            (lat, won, failed, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut won = Vec::new();
    let mut failed = 0;
    for w in workers {
        let (l, mut wn, f, errors) = w.await?;
        if let Some(e) = errors.first() {
            eprintln!("  ! {} errors in {strategy:?}, e.g. {e}", errors.len());
        }
        latencies.extend(l);
        won.append(&mut wn);
        failed += f;
    }
    let wall = started.elapsed();
    latencies.sort();
    let (requests, conflicts) = match &*claimer {
        Claimer::Naive(n) => (n.requests.load(Ordering::Relaxed), failed as u64),
        Claimer::Single(p) => (p.request_count(), p.conflict_count()),
        Claimer::Batched(b) => (b.pool().request_count(), b.pool().conflict_count()),
    };
    let cell = Cell {
        size,
        fill: table.fill,
        requested,
        concurrency,
        strategy,
        attempted: claims,
        claimed: won.len(),
        failed,
        conflicts,
        wall,
        latencies,
        requests,
    };
    // Put every claimed row back so the next cell sees the same fill level.
    let janitor = AliasPool::connect(&table.config)?;
    let naive = NaiveTool::new(endpoint, &table.config.connection.table);
    let resets: Vec<Result<()>> = stream::iter(won)
        .map(|w| {
            let janitor = janitor.clone();
            let naive = &naive;
            async move {
                match w {
                    Won::Token(id, claim) => {
                        janitor.release(&id, &claim, ReleasePolicy::Release).await?;
                        Ok(())
                    }
                    Won::Row(rk) => naive.reset(&rk).await,
                }
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for r in resets {
        r?;
    }
    Ok(cell)
}

pub(crate) fn request(owner: &str) -> ClaimRequest {
    ClaimRequest {
        owner: owner.to_owned(),
        purpose: "benchmark".to_owned(),
        mailbox: None,
        claim_key: None,
        source: None,
    }
}

pub(crate) async fn claims_section(
    opts: &Options,
    doc: &mut String,
    summary: &mut Vec<String>,
) -> Result<()> {
    let mut cells: Vec<Cell> = Vec::new();
    let mut seeding = Vec::new();
    let strategies = [Strategy::Naive, Strategy::Single, Strategy::Batched];
    for &size in &opts.sizes {
        for &fill in &opts.fills {
            let table = seed_table(size, fill).await?;
            println!(
                "prepared {size} rows, {fill}% claimed, in {} s",
                secs(table.seed_time)
            );
            seeding.push((size, fill, table.seed_time, table.point_read_p50));
            // Bounded so the whole run stays within about 15 minutes: every
            // request on a 100k-row Azurite table costs it a scan.
            let per_cell = if size >= 100_000 {
                opts.claims_per_cell.min(40)
            } else {
                opts.claims_per_cell
            };
            let claims = per_cell.min((table.free * 6 / 10).max(1));
            let mut ran: Vec<usize> = Vec::new();
            for &requested in &opts.concurrency {
                // No more claimers than claims: a cell that would run with
                // as many claimers as one already measured is not run again.
                let claimers = requested.min(claims);
                if ran.contains(&claimers) {
                    continue;
                }
                ran.push(claimers);
                for strategy in strategies {
                    let cell = run_cell(&table, size, requested, strategy, claims).await?;
                    println!(
                        "{:>7} rows {:>2}% c={:<3} {:<8} {:>4}/{:<4} ok  {:>8.1}/s  p50 {:>7} ms  p99 {:>7} ms  {:.2} req/claim  {} failed, {} conflicts",
                        size,
                        fill,
                        cell.concurrency,
                        strategy.short(),
                        cell.claimed,
                        cell.attempted,
                        cell.throughput(),
                        ms(cell.p(50.0)),
                        ms(cell.p(99.0)),
                        cell.requests_per_claim(),
                        cell.failed,
                        cell.conflicts
                    );
                    cells.push(cell);
                }
            }
        }
    }
    // For the record: the same rows inserted over HTTP.
    let mut http_seeding = Vec::new();
    for &size in opts.sizes.iter().filter(|&&s| s <= 10_000) {
        let az = azurite::Azurite::start();
        let pool = AliasPool::connect(&StoreConfig::emulator(az.endpoint(), "httpseed"))?;
        pool.ensure_table().await?;
        let t0 = Instant::now();
        seed_over_http(&pool, size, 90).await?;
        http_seeding.push((size, t0.elapsed()));
        println!("inserted {size} rows over HTTP in {} s", secs(t0.elapsed()));
    }
    write_claims_doc(opts, doc, &cells, &seeding, &http_seeding);
    if let Some(dir) = opts.charts_dir() {
        claims_charts(dir, opts, &cells, doc)?;
    }
    // Derived comparisons only: the measurements themselves are in the tables.
    if let Some(&size) = opts.sizes.first() {
        let fill = opts.fills.iter().copied().max().unwrap_or(0);
        let at = |strategy: Strategy| {
            cells
                .iter()
                .filter(|c| c.size == size && c.fill == fill && c.strategy == strategy)
                .max_by_key(|c| c.concurrency)
        };
        if let (Some(naive), Some(single), Some(batched)) = (
            at(Strategy::Naive),
            at(Strategy::Single),
            at(Strategy::Batched),
        ) {
            summary.push(format!(
                "Claims ({size} rows, {fill}% claimed, {} claimers at once, section 1): the naive \
strategy of older tools lost {:.0}% of its claims; `batched` (the provider's path) served all \
with {:.1}x the throughput of one-by-one claims and {:.0}x fewer requests per claim.",
                batched.concurrency,
                naive.failed_percent(),
                batched.throughput() / single.throughput().max(1e-9),
                single.requests_per_claim() / batched.requests_per_claim().max(1e-9),
            ));
        }
    }
    Ok(())
}

pub(crate) fn write_claims_doc(
    opts: &Options,
    doc: &mut String,
    cells: &[Cell],
    seeding: &[(usize, u32, Duration, Duration)],
    http_seeding: &[(usize, Duration)],
) {
    let _ = writeln!(
        doc,
        "## 1. Claims: throughput, latency, round trips (Azurite on loopback)\n"
    );
    let asked: Vec<String> = opts.concurrency.iter().map(|c| c.to_string()).collect();
    // The tables whose cells ran with fewer claimers than asked for.
    let mut fewer: Vec<String> = Vec::new();
    for c in cells.iter().filter(|c| c.concurrency < c.requested) {
        let text = format!("{} on {} rows {}% claimed", c.attempted, c.size, c.fill);
        if !fewer.contains(&text) {
            fewer.push(text);
        }
    }
    let large_note = if opts.sizes.iter().any(|&s| s >= 100_000) {
        " (40 on the 100k-row tables, where every Azurite request scans the table, to keep the \
run near 15 minutes)"
    } else {
        ""
    };
    let fewer_note = if fewer.is_empty() {
        String::new()
    } else {
        format!(
            " Where a table allows fewer claims than that ({}), the *claimers* column says how \
many ran: all at once, one claim each; a cell that would repeat another's number of claimers is \
not run.",
            fewer.join(", ")
        )
    };
    let _ = writeln!(
        doc,
        "Each cell claims up to {} aliases{large_note}, and at most 60% of the free rows, so the \
fill level stays close to the nominal one (with few claims p99 is close to the maximum), then \
releases them again (not timed) so the next cell starts from the same table. The matrix asks for \
{} concurrent claimers in one process, but a cell never has more claimers than claims.{fewer_note} \
Latency is per successful claim; `failed` is the share of claims that returned no alias (for the \
naive strategy a lost ETag race: it gives up; for the others any error), next to the latency \
because a strategy that fails most of its claims can look fast; req/claim is HTTP requests sent \
by the claimer (every retry counts) divided by successful claims.\n",
        opts.claims_per_cell,
        asked.join(", ")
    );
    let _ = writeln!(doc, "Strategies:\n");
    for s in [Strategy::Naive, Strategy::Single, Strategy::Batched] {
        let _ = writeln!(doc, "- **{}** — {}", s.short(), s.label());
    }
    let _ = writeln!(doc);
    let _ = writeln!(
        doc,
        "| rows | claimed | claimers | strategy | ok / tried | failed | p50 ms | p99 ms | claims/s | req/claim | 412s |"
    );
    let _ = writeln!(
        doc,
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for c in cells {
        let _ = writeln!(
            doc,
            "| {} | {}% | {} | {} | {}/{} | {:.0}% | {} | {} | {:.0} | {:.2} | {} |",
            c.size,
            c.fill,
            c.concurrency,
            c.strategy.short(),
            c.claimed,
            c.attempted,
            c.failed_percent(),
            ms(c.p(50.0)),
            ms(c.p(99.0)),
            c.throughput(),
            c.requests_per_claim(),
            c.conflicts
        );
    }
    let _ = writeln!(doc);
    // Cost at scale: p50 at the largest vs the smallest pool, per strategy,
    // as ratios (the p50s themselves are in the table above).
    let (Some(&small), Some(&large)) = (opts.sizes.first(), opts.sizes.last()) else {
        return;
    };
    if small != large {
        let _ = writeln!(
            doc,
            "### Cost at scale: p50 at {large} rows against {small} rows\n\n\
The ratio of the p50s above, and each p50 in units of Azurite's own point read on that table \
(the floor any request pays there; see the next table). Claimers are matched by the number asked \
for; where the two tables ran different numbers, both are given.\n"
        );
        let _ = writeln!(
            doc,
            "| claimed | claimers | strategy | p50 ratio | p50 in point reads @ {small} | @ {large} |\n|---:|---:|---|---:|---:|---:|"
        );
        let floor = |size: usize, fill: u32| {
            seeding
                .iter()
                .find(|(s, f, _, _)| *s == size && *f == fill)
                .map(|(_, _, _, r)| r.as_secs_f64())
                .unwrap_or(f64::NAN)
        };
        for c in cells.iter().filter(|c| c.size == large) {
            if let Some(base) = cells.iter().find(|b| {
                b.size == small
                    && b.fill == c.fill
                    && b.requested == c.requested
                    && b.strategy == c.strategy
            }) {
                let ratio = c.p(50.0).as_secs_f64() / base.p(50.0).as_secs_f64().max(1e-9);
                let claimers = if base.concurrency == c.concurrency {
                    c.concurrency.to_string()
                } else {
                    format!("{} / {}", base.concurrency, c.concurrency)
                };
                let _ = writeln!(
                    doc,
                    "| {}% | {claimers} | {} | {:.2}x | {:.1} | {:.1} |",
                    c.fill,
                    c.strategy.short(),
                    ratio,
                    base.p(50.0).as_secs_f64() / floor(small, c.fill),
                    c.p(50.0).as_secs_f64() / floor(large, c.fill)
                );
            }
        }
        let _ = writeln!(doc);
    }
    let _ = writeln!(
        doc,
        "Tables: each (rows, claimed) table lives in its own Azurite, started on a database \
folder the benchmark prepares (Azurite creates the table and saves it; the rows are then added \
to its LokiJS file in the shape Azurite stores entities, and the store's `stats` checks the \
counts after loading). Inserting over HTTP costs Azurite O(rows) per insert — its point lookups \
scan the partition — so 100k rows that way would take longer than the whole benchmark. An \
Azurite with a database folder saves it every 5 s while rows change, which costs it more the \
larger the table: this penalises the large tables here, mostly in p99.\n"
    );
    let _ = writeln!(
        doc,
        "| rows | claimed | prepare + load s | point read p50 ms (Azurite's floor) |\n|---:|---:|---:|---:|"
    );
    for (size, fill, t, read) in seeding {
        let _ = writeln!(doc, "| {size} | {fill}% | {} | {} |", secs(*t), ms(*read));
    }
    let _ = writeln!(doc);
    if !http_seeding.is_empty() {
        let _ = writeln!(
            doc,
            "For comparison, 90%-claimed tables inserted over HTTP with `insert_legacy_rows` \
(entity-group transactions of 100, one after another, in-memory Azurite):\n"
        );
        let _ = writeln!(doc, "| rows | seconds | rows/s |\n|---:|---:|---:|");
        for (size, t) in http_seeding {
            let _ = writeln!(
                doc,
                "| {size} | {} | {:.0} |",
                secs(*t),
                *size as f64 / t.as_secs_f64().max(1e-9)
            );
        }
        let _ = writeln!(doc);
    }
}

/// Claims/s and p50 against the number of claimers, one line per strategy,
/// on the smallest pool at its fullest: where the strategies differ most.
/// The naive strategy's points say how many of its claims failed.
fn claims_charts(dir: &Path, opts: &Options, cells: &[Cell], doc: &mut String) -> Result<()> {
    let (Some(&size), Some(&fill)) = (opts.sizes.first(), opts.fills.iter().max()) else {
        return Ok(());
    };
    let line = |strategy: Strategy, y: &dyn Fn(&Cell) -> f64| {
        let shown: Vec<&Cell> = cells
            .iter()
            .filter(|c| c.size == size && c.fill == fill && c.strategy == strategy)
            .collect();
        charts::Line {
            name: match strategy {
                Strategy::Naive => "naive (successful claims only)".to_string(),
                other => other.short().to_string(),
            },
            points: shown.iter().map(|c| (c.concurrency as f64, y(c))).collect(),
            notes: shown
                .iter()
                .map(|c| match c.failed {
                    0 => String::new(),
                    _ => format!(" {:.0}% failed", c.failed_percent()),
                })
                .collect(),
        }
    };
    let strategies = [Strategy::Naive, Strategy::Single, Strategy::Batched];
    let throughput: Vec<_> = strategies
        .iter()
        .map(|&s| line(s, &Cell::throughput))
        .collect();
    let p50: Vec<_> = strategies
        .iter()
        .map(|&s| line(s, &|c| c.p(50.0).as_secs_f64() * 1000.0))
        .collect();
    let context = format!("{size} rows, {fill}% claimed, Azurite on loopback");
    for (file, title, y_label, lines) in [
        (
            "perf-claims-throughput.svg",
            "Successful claims per second",
            "claims/s",
            &throughput,
        ),
        (
            "perf-claims-p50.svg",
            "Claim latency, p50 of successful claims",
            "p50 ms",
            &p50,
        ),
    ] {
        charts::lines(
            &dir.join(file),
            &format!("{title} ({context})"),
            "concurrent claimers (log scale)",
            y_label,
            lines,
        )?;
        let _ = writeln!(
            doc,
            "![{title} against concurrent claimers, {context}]({file})\n"
        );
    }
    Ok(())
}
