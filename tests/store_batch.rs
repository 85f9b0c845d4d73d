//! Coalesced claims ([`ClaimBatcher`]) against a real Azurite: many claims at
//! once end up as few requests and never share an alias, a plain claimer
//! racing the batcher is handled, claim keys keep their promises inside one
//! batch and between two processes racing on them,
//! mailbox filters and exhaustion are answered per request.

use testkit::azurite;

use std::collections::HashSet;
use std::sync::Arc;

use rootmail::store::{
    AliasFilter, AliasPool, AliasStatus, BatchSettings, ClaimBatcher, ClaimRequest, ClaimedAlias,
    LegacyRow, StoreConfig, StoreError,
};

async fn pool(prefix: &str, free: usize) -> AliasPool {
    let az = azurite::shared();
    let config = StoreConfig::emulator(az.endpoint(), azurite::unique_table_name(prefix));
    let pool = AliasPool::connect(&config).expect("connect");
    pool.ensure_table().await.expect("create table");
    pool.seed("box1@company.com", "company.com", free)
        .await
        .expect("seed");
    pool
}

fn req(owner: &str, key: Option<&str>) -> ClaimRequest {
    ClaimRequest {
        owner: owner.to_owned(),
        purpose: "batch test".to_owned(),
        mailbox: None,
        claim_key: key.map(str::to_owned),
        source: None,
    }
}

/// Waits long enough that every claim started at the same time lands in one batch.
fn wide_window() -> BatchSettings {
    BatchSettings {
        linger: std::time::Duration::from_millis(50),
        max_wait: std::time::Duration::from_millis(200),
        ..BatchSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_claims_are_distinct_and_cheap() {
    let pool = pool("batch64", 200).await;
    let batcher = Arc::new(ClaimBatcher::with_settings(pool.clone(), wide_window()));
    let before = pool.request_count();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let b = Arc::clone(&batcher);
            tokio::spawn(async move { b.claim(&req(&format!("owner{i}@company.com"), None)).await })
        })
        .collect();
    let mut ids = HashSet::new();
    let mut tokens = HashSet::new();
    for t in tasks {
        let claimed = t.await.expect("task").expect("claim");
        assert!(!claimed.existing);
        assert!(
            !claimed.alias.etag().is_empty(),
            "the transaction reports each row's new ETag"
        );
        assert!(
            ids.insert(claimed.alias.id.clone()),
            "alias handed out twice"
        );
        assert!(tokens.insert(claimed.token.as_str().to_owned()));
    }
    assert_eq!(ids.len(), 64);
    let used = pool.request_count() - before;
    let counts = batcher.counts();
    assert_eq!(counts.claims, 64);
    assert!(
        counts.transactions >= 1,
        "claims went out in a transaction: {counts:?}"
    );
    // One or two candidate queries and one transaction per batch: far below
    // the two requests per claim of one-by-one claims.
    assert!(
        used <= 8,
        "64 batched claims took {used} requests ({counts:?})"
    );
    // The table agrees: exactly these 64 rows are claimed, each with its token.
    let claimed = pool
        .list(&AliasFilter {
            status: Some(AliasStatus::Claimed),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(claimed.len(), 64);
    for row in &claimed {
        assert!(ids.contains(&row.id));
        assert!(row.in_use);
        assert!(row.owner.starts_with("owner"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plain_claimers_racing_the_batcher_never_share_an_alias() {
    // Few rows, so the batcher's candidates are often taken by the plain
    // claimers first and its transactions fail with 412.
    let pool = pool("batchrace", 70).await;
    let batcher = Arc::new(ClaimBatcher::with_settings(pool.clone(), wide_window()));
    let mut tasks = Vec::new();
    for i in 0..30 {
        let b = Arc::clone(&batcher);
        tasks.push(tokio::spawn(async move {
            b.claim(&req(&format!("batched{i}@company.com"), None))
                .await
        }));
        let p = pool.clone();
        tasks.push(tokio::spawn(async move {
            p.claim(&req(&format!("plain{i}@company.com"), None)).await
        }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        let claimed = t.await.expect("task").expect("claim");
        assert!(
            ids.insert(claimed.alias.id.clone()),
            "alias handed out twice"
        );
    }
    assert_eq!(ids.len(), 60);
    let rows = pool.list(&AliasFilter::default()).await.expect("list");
    let claimed: Vec<_> = rows
        .iter()
        .filter(|r| r.status == AliasStatus::Claimed)
        .collect();
    assert_eq!(claimed.len(), 60, "exactly the 60 claims hold rows");
    assert!(claimed.iter().all(|r| r.claim_token.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stale_candidates_fail_the_transaction_and_it_is_retried_together() {
    let pool = pool("batchstale", 40).await;
    let batcher = ClaimBatcher::with_settings(pool.clone(), wide_window());
    // First batch: caches leftover candidates.
    batcher
        .claim(&req("first@company.com", None))
        .await
        .expect("claim");
    // Someone else claims every cached row behind the batcher's back.
    let mut taken = HashSet::new();
    for i in 0..30 {
        let c = pool
            .claim(&req(&format!("other{i}@company.com"), None))
            .await
            .expect("plain claim");
        taken.insert(c.alias.id);
    }
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let b = &batcher;
            async move { b.claim(&req(&format!("late{i}@company.com"), None)).await }
        })
        .collect();
    let results = futures::future::join_all(tasks).await;
    let mut ids = HashSet::new();
    for r in results {
        let c = r.expect("claim after stale cache");
        assert!(
            !taken.contains(&c.alias.id),
            "took a row somebody else holds"
        );
        assert!(ids.insert(c.alias.id));
    }
    assert_eq!(ids.len(), 8);
    let counts = batcher.counts();
    // The lost transaction is tried once more as a whole on fresh
    // candidates, not claim by claim.
    assert!(
        counts.failed_transactions >= 1 && counts.transactions >= 1 && counts.single_claims == 0,
        "stale candidates made a transaction fail and be retried together: {counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claim_keys_keep_their_promises_inside_and_across_batches() {
    let pool = pool("batchkeys", 50).await;
    let batcher = Arc::new(ClaimBatcher::with_settings(pool.clone(), wide_window()));
    // Three requests for key "acct-a", two for "acct-'b" (a quote, escaped in
    // the lookup), and three without a key, all in one batch.
    let keys = [
        Some("acct-a"),
        Some("acct-a"),
        Some("acct-'b"),
        None,
        Some("acct-a"),
        Some("acct-'b"),
        None,
        None,
    ];
    let tasks: Vec<_> = keys
        .iter()
        .map(|k| {
            let b = Arc::clone(&batcher);
            let k = k.map(str::to_owned);
            tokio::spawn(async move { b.claim(&req("keys@company.com", k.as_deref())).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("task"));
    }
    assert_eq!(
        batcher.counts().batches,
        1,
        "all eight arrived in one batch"
    );
    // Per key, the request served first gets an alias; the repeats are
    // refused, naming that alias: a key never makes two claimers share one.
    let mut aliases = HashSet::new();
    for key in ["acct-a", "acct-'b"] {
        let same: Vec<usize> = (0..keys.len()).filter(|&i| keys[i] == Some(key)).collect();
        let won: Vec<&ClaimedAlias> = same
            .iter()
            .filter_map(|&i| results[i].as_ref().ok())
            .collect();
        assert_eq!(won.len(), 1, "{key}: {results:?}");
        assert!(!won[0].alias.claim_pending, "handed over");
        for &i in &same {
            match &results[i] {
                Ok(_) => {}
                Err(StoreError::ClaimKeyTaken { existing, .. }) => {
                    assert_eq!(existing.alias_id, won[0].alias.id, "request {i}")
                }
                Err(e) => panic!("request {i}: {e}"),
            }
        }
        aliases.insert(won[0].alias.id.clone());
    }
    for i in [3, 6, 7] {
        aliases.insert(results[i].as_ref().expect("keyless claim").alias.id.clone());
    }
    assert_eq!(aliases.len(), 5, "one alias per key and per keyless claim");
    let b_alias = results
        .iter()
        .zip(keys)
        .find_map(|(r, k)| r.as_ref().ok().filter(|_| k == Some("acct-'b")))
        .expect("acct-'b")
        .alias
        .id
        .clone();
    // A later batch finds the handed-over claim by key, and refuses it.
    let again = batcher
        .claim(&req("keys@company.com", Some("acct-'b")))
        .await;
    assert!(
        matches!(&again, Err(StoreError::ClaimKeyTaken { existing, .. }) if existing.alias_id == b_alias),
        "{again:?}"
    );
    let claimed = pool
        .list(&AliasFilter {
            status: Some(AliasStatus::Claimed),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(claimed.len(), 5);
    assert!(claimed.iter().all(|r| !r.claim_pending));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_racing_on_the_same_keys_end_with_one_claimed_row_per_key() {
    let first = pool("batchrace", 60).await;
    let config = StoreConfig::emulator(azurite::shared().endpoint(), first.table_name());
    let second = AliasPool::connect(&config).expect("connect");
    for round in 0..3 {
        let batchers = [&first, &second]
            .map(|p| Arc::new(ClaimBatcher::with_settings(p.clone(), wide_window())));
        let tasks: Vec<_> = (0..8)
            .flat_map(|k| batchers.iter().map(move |b| (k, Arc::clone(b))))
            .map(|(k, b)| {
                tokio::spawn(async move {
                    let key = format!("race{round}-{k}");
                    (
                        key.clone(),
                        b.claim(&req("race@company.com", Some(&key))).await,
                    )
                })
            })
            .collect();
        let mut won: std::collections::BTreeMap<String, usize> = Default::default();
        for t in tasks {
            let (key, result) = t.await.expect("task");
            match result {
                Ok(_) => *won.entry(key).or_default() += 1,
                Err(StoreError::ClaimKeyTaken { .. }) => {}
                Err(e) => panic!("{key}: {e}"),
            }
        }
        assert!(won.values().all(|n| *n == 1), "round {round}: {won:?}");
        assert_eq!(won.len(), 8, "round {round}: every key was claimed once");
    }
    let claimed = first
        .list(&AliasFilter {
            status: Some(AliasStatus::Claimed),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(claimed.len(), 24, "one row per key, no orphans");
    let keys: HashSet<_> = claimed.iter().filter_map(|r| r.claim_key.clone()).collect();
    assert_eq!(keys.len(), 24);
    assert!(claimed.iter().all(|r| !r.claim_pending));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mailbox_filters_and_exhaustion_are_answered_per_request() {
    let pool = pool("batchbox", 3).await;
    let other = "box2@company.com";
    let rows: Vec<LegacyRow> = (0..2)
        .map(|_| LegacyRow::free(other, "company.com"))
        .collect();
    pool.insert_legacy_rows(&rows).await.expect("seed box2");
    let batcher = Arc::new(ClaimBatcher::with_settings(pool.clone(), wide_window()));
    let mut tasks = Vec::new();
    for i in 0..4 {
        let b = Arc::clone(&batcher);
        tasks.push(tokio::spawn(async move {
            let mut r = req(&format!("box2-{i}@company.com"), None);
            r.mailbox = Some(other.to_owned());
            b.claim(&r).await
        }));
    }
    let mut won = Vec::new();
    let mut exhausted = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(c) => {
                assert_eq!(c.alias.root_mailbox, other, "mailbox filter ignored");
                won.push(c.alias.id);
            }
            Err(StoreError::PoolExhausted { mailbox, .. }) => {
                assert_eq!(mailbox.as_deref(), Some(other));
                exhausted += 1;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(won.len(), 2, "both box2 aliases claimed");
    assert_eq!(exhausted, 2, "the other two requests get PoolExhausted");
    // box1's three aliases are untouched and still claimable.
    let free = pool
        .list(&AliasFilter {
            status: Some(AliasStatus::Free),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(free.len(), 3);
    assert!(free.iter().all(|r| r.root_mailbox == "box1@company.com"));
    // Bad input is refused like a single claim refuses it.
    let bad = batcher
        .claim(&ClaimRequest {
            claim_key: Some(String::new()),
            ..req("x@company.com", None)
        })
        .await;
    assert!(matches!(bad, Err(StoreError::InvalidInput { .. })));
}
