//! The batcher's worker task: collects the claims that arrive together and
//! serves them (claim keys, candidates, transactions, minting, the single path).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use futures::future::join_all;
use rand::seq::SliceRandom;
use tokio::sync::mpsc;

use super::super::delivery::deliver;
use super::super::error::StoreError;
use super::super::minting::AddressSource;
use super::super::pool::{AliasPool, ClaimedAlias};
use super::super::row::{col, status_value, AliasRow, AliasStatus, SELECT_ALL_KNOWN};
use super::mint::mint_together;
use super::transaction::claim_together;
use super::{chunked, collect, BatchSettings, Counters, Pending};
use crate::azure::odata::{and_all, eq_bool, eq_str, ge_str, lt_str};

/// Free rows from an earlier query, per mailbox filter and kind (aliases,
/// or released minted rows).
struct Cached {
    rows: Vec<AliasRow>,
    fetched: Instant,
}

pub(super) struct Worker {
    pool: AliasPool,
    settings: BatchSettings,
    cache: HashMap<(Option<String>, bool), Cached>,
    counters: Arc<Counters>,
}

impl Worker {
    pub(super) fn new(pool: AliasPool, settings: BatchSettings, counters: Arc<Counters>) -> Worker {
        Worker {
            pool,
            settings,
            cache: HashMap::new(),
            counters,
        }
    }

    pub(super) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Pending>) {
        while let Some(first) = rx.recv().await {
            let batch = collect(&mut rx, first, &self.settings).await;
            self.counters.batches.fetch_add(1, Ordering::Relaxed);
            self.counters
                .claims
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            self.serve(batch).await;
        }
    }

    /// Serves one batch; every pending claim gets exactly one answer.
    async fn serve(&mut self, batch: Vec<Pending>) {
        tracing::debug!(claims = batch.len(), "serving a batch of claims");
        // 1. Requests the single path would refuse are refused the same way.
        let mut valid = Vec::with_capacity(batch.len());
        for p in batch {
            match p.request.check() {
                Ok(()) => valid.push(p),
                Err(e) => deliver(&self.pool, p.reply, Err(e)).await,
            }
        }

        // 2. Claim keys: one lookup for all of them. A key that names claims
        //    goes the way of `keyed.rs` (resumed or refused); a key repeated
        //    in the batch waits for the first request with it, and then
        //    finds its claim (and is refused) like any later request.
        let keys: Vec<String> = {
            let mut seen = HashSet::new();
            valid
                .iter()
                .filter_map(|p| p.request.claim_key.clone())
                .filter(|k| seen.insert(k.clone()))
                .collect()
        };
        let mut existing = match keys.is_empty() {
            true => Some(HashMap::new()),
            false => match self.pool.claims_with_keys(&keys).await {
                Ok(found) => Some(found),
                Err(e) => {
                    tracing::debug!(error = %e, "claim-key lookup failed; claiming one by one");
                    None
                }
            },
        };
        let mut leaders: Vec<Pending> = Vec::new();
        let mut followers: Vec<Pending> = Vec::new();
        let mut singles: Vec<Pending> = Vec::new();
        let mut resumes: Vec<(Pending, String, Vec<AliasRow>)> = Vec::new();
        let mut leading: HashSet<String> = HashSet::new();
        for p in valid {
            let Some(key) = p.request.claim_key.clone() else {
                leaders.push(p);
                continue;
            };
            if !leading.insert(key.clone()) {
                followers.push(p);
                continue;
            }
            match existing.as_mut().map(|found| found.remove(&key)) {
                // The single path looks the key up again itself.
                None => singles.push(p),
                Some(Some(rows)) => resumes.push((p, key, rows)),
                Some(None) => leaders.push(p),
            }
        }
        let pool = self.pool.clone();
        let pool = &pool;
        let counters = Arc::clone(&self.counters);
        let counters = &counters;

        // 3. Candidates per mailbox filter, then one transaction per group.
        //    A transaction that lost a race (another process took one of its
        //    rows) is tried once more as a whole, on fresh candidates from a
        //    new query, before its claims fall back to the single path: two
        //    requests for the batch instead of about three per claim.
        //    Meanwhile, the claims their keys name are resumed (or refused).
        let resumed = join_all(resumes.into_iter().map(|(p, key, rows)| async move {
            let result = pool.resume_by_key(&p.request, &key, rows).await;
            (p, result)
        }));
        let claimed = async {
            let mut answered = Vec::new();
            let (unpaired, lost) = self.claim_in_transactions(leaders, &mut answered).await;
            let (unpaired_again, lost) = self.claim_in_transactions(lost, &mut answered).await;
            let fallback: Vec<Pending> = [unpaired, unpaired_again, lost]
                .into_iter()
                .flatten()
                .collect();
            (answered, fallback)
        };
        let (resumed, (answered, fallback)) = futures::join!(resumed, claimed);
        singles.extend(fallback);
        for (p, result) in resumed {
            match result {
                Ok(Some(claimed)) => deliver(pool, p.reply, Ok(claimed)).await,
                // The claims of the key were given back meanwhile.
                Ok(None) => singles.push(p),
                Err(e) => deliver(pool, p.reply, Err(e)).await,
            }
        }

        // 4. New keyed claims are handed over only once their key is looked
        //    up again (one lookup and one transaction for all of them).
        let mut keyed = Vec::new();
        for (p, result) in answered {
            match (p.request.claim_key.clone(), result) {
                (Some(key), Ok(claimed)) => keyed.push((p, (claimed, key))),
                (_, result) => deliver(pool, p.reply, result).await,
            }
        }
        if !keyed.is_empty() {
            let (waiting, claims): (Vec<Pending>, Vec<_>) = keyed.into_iter().unzip();
            let settled = pool.settle_keyed_all(claims).await;
            for (p, result) in waiting.into_iter().zip(settled) {
                deliver(pool, p.reply, result).await;
            }
        }

        // 5. Everything else one by one, concurrently (fresh candidates
        //    each); then a repeated key, once the first request with it is
        //    answered.
        for rest in [singles, followers] {
            let single = rest.into_iter().map(|p| async move {
                counters.single_claims.fetch_add(1, Ordering::Relaxed);
                let result = pool.claim(&p.request).await;
                (p, result)
            });
            for (p, result) in join_all(single).await {
                deliver(pool, p.reply, result).await;
            }
        }
    }

    /// Pairs claims with candidates and claims each group in one
    /// transaction; answered claims are added to `answered` (not delivered:
    /// keyed ones are handed over first). Returns the claims left without a
    /// candidate, and the claims of transactions that were not applied (a
    /// row had changed).
    async fn claim_in_transactions(
        &mut self,
        claims: Vec<Pending>,
        answered: &mut Vec<(Pending, Result<ClaimedAlias, StoreError>)>,
    ) -> (Vec<Pending>, Vec<Pending>) {
        let mut unpaired = Vec::new();
        if claims.is_empty() {
            return (unpaired, Vec::new());
        }
        let mut groups: BTreeMap<(Option<String>, AddressSource), Vec<Pending>> = BTreeMap::new();
        for p in claims {
            let source = p.request.source_on(&self.pool);
            groups
                .entry((p.request.mailbox.clone(), source))
                .or_default()
                .push(p);
        }
        let mut plans: Vec<Vec<(Pending, AliasRow)>> = Vec::new();
        let mut to_mint = Vec::new();
        // A row may be a candidate of two mailbox filters (any / its own):
        // never put it in two transactions of one batch.
        let mut used: HashSet<String> = HashSet::new();
        for ((mailbox, source), members) in groups {
            let mut candidates = Vec::new();
            // Aliases first, then released minted rows, as the source allows.
            for minted in [false, true] {
                let wanted = members.len() - candidates.len();
                if wanted == 0 || !source.admits(minted) {
                    continue;
                }
                match self
                    .take_candidates(&mailbox, minted, wanted, &mut used)
                    .await
                {
                    Ok(c) => candidates.extend(c),
                    Err(e) => {
                        tracing::debug!(error = %e, "candidate query failed; claiming one by one");
                    }
                }
            }
            let mut paired = Vec::new();
            let mut members = members.into_iter();
            for candidate in candidates {
                match members.next() {
                    Some(p) => paired.push((p, candidate)),
                    None => break,
                }
            }
            if source.takes_minted() {
                to_mint.extend(members);
            } else {
                unpaired.extend(members);
            }
            for chunk in chunked(paired, self.settings.max_batch) {
                plans.push(chunk);
            }
        }
        let pool = &self.pool;
        let counters = &self.counters;
        let claimed = join_all(
            plans
                .into_iter()
                .map(|plan| claim_together(pool, counters, plan)),
        );
        let ((minted, not_minted), outcomes) =
            futures::join!(mint_together(pool, counters, to_mint), claimed);
        answered.extend(minted);
        unpaired.extend(not_minted);
        let mut lost = Vec::new();
        let mut conflicted = false;
        for (done, retry, conflict) in outcomes {
            conflicted |= conflict;
            answered.extend(done);
            lost.extend(retry);
        }
        if conflicted {
            // Somebody else is claiming from the same rows: do not reuse
            // what may be stale.
            self.cache.clear();
        }
        (unpaired, lost)
    }

    /// Up to `wanted` free rows for this mailbox filter, aliases or released
    /// minted rows (`minted`), in random order: first from the cache, then
    /// from one query (two when the random start point is near the end of
    /// the key space). Rows left over are cached.
    async fn take_candidates(
        &mut self,
        mailbox: &Option<String>,
        minted: bool,
        wanted: usize,
        used: &mut HashSet<String>,
    ) -> Result<Vec<AliasRow>, StoreError> {
        let mut out = Vec::with_capacity(wanted);
        let ttl = self.settings.candidate_ttl;
        let cache_key = (mailbox.clone(), minted);
        if let Some(cached) = self.cache.get_mut(&cache_key) {
            if cached.fetched.elapsed() <= ttl {
                while out.len() < wanted {
                    match cached.rows.pop() {
                        Some(row) if used.insert(row.id.clone()) => out.push(row),
                        Some(_) => {}
                        None => break,
                    }
                }
            } else {
                cached.rows.clear();
            }
        }
        if out.len() == wanted {
            return Ok(out);
        }
        let io = &self.pool.io;
        let mut base = vec![eq_str(col::PARTITION_KEY, &io.partition_key)];
        if minted {
            // A free minted row keeps in_use = true (see `store::minting`).
            base.push(eq_bool(col::MINTED, true));
            base.push(eq_str(col::STATUS, status_value::FREE));
        } else {
            base.push(eq_bool(col::IN_USE, false));
        }
        if let Some(m) = mailbox {
            base.push(eq_str(col::ROOT_MAILBOX, m));
        }
        // Enough for this batch and a few more; the service caps $top at 1000.
        let top = ((wanted - out.len()) * 2)
            .max(self.pool.page_size as usize)
            .min(1000) as u32;
        let start = uuid::Uuid::new_v4().to_string();
        let mut fresh = Vec::new();
        let mut seen = HashSet::new();
        for segment in [ge_str(col::ROW_KEY, &start), lt_str(col::ROW_KEY, &start)] {
            let mut clauses = base.clone();
            clauses.push(segment);
            let (page, _) = io
                .query_page(&and_all(clauses), Some(SELECT_ALL_KNOWN), Some(top), None)
                .await?;
            fresh.extend(
                page.iter()
                    .filter_map(|e| AliasRow::from_entity(e, None).ok())
                    .filter(|r| {
                        // Never hand out an address AWS refuses or one an
                        // account already used.
                        if let Some(why) = r.handout_refusal() {
                            tracing::warn!(alias_id = %r.id, "claim skipped an alias: {why}");
                            return false;
                        }
                        r.status == AliasStatus::Free
                            && r.minted == minted
                            && !used.contains(&r.id)
                            && seen.insert(r.id.clone())
                    }),
            );
            if out.len() + fresh.len() >= wanted {
                break;
            }
        }
        fresh.shuffle(&mut rand::rng());
        while out.len() < wanted {
            match fresh.pop() {
                Some(row) => {
                    used.insert(row.id.clone());
                    out.push(row);
                }
                None => break,
            }
        }
        let cached = self.cache.entry(cache_key).or_insert(Cached {
            rows: Vec::new(),
            fetched: Instant::now(),
        });
        // Only this query's rows: older leftovers were drained above.
        cached.rows = fresh;
        cached.fetched = Instant::now();
        Ok(out)
    }
}
