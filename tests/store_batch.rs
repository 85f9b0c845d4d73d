//! Coalesced claims ([`ClaimBatcher`]) against a real Azurite: many claims at
//! once end up as few requests and never share an alias, a plain claimer
//! racing the batcher is handled, claim keys stay idempotent inside one batch,
//! mailbox filters and exhaustion are answered per request.

use testkit::azurite;

use std::collections::HashSet;
use std::sync::Arc;

use rootmail::store::{
    AliasFilter, AliasPool, AliasStatus, BatchSettings, ClaimBatcher, ClaimRequest, LegacyRow,
    StoreConfig, StoreError,
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
async fn claim_keys_are_idempotent_inside_and_across_batches() {
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
        results.push(t.await.expect("task").expect("claim"));
    }
    assert_eq!(
        batcher.counts().batches,
        1,
        "all eight arrived in one batch"
    );
    let id_of = |i: usize| results[i].alias.id.clone();
    assert_eq!(id_of(0), id_of(1));
    assert_eq!(id_of(0), id_of(4));
    assert_eq!(id_of(2), id_of(5));
    assert_eq!(results[0].token, results[1].token);
    let distinct: HashSet<_> = [0, 2, 3, 6, 7].iter().map(|&i| id_of(i)).collect();
    assert_eq!(distinct.len(), 5, "one alias per key and per keyless claim");
    assert_eq!(
        results.iter().filter(|r| !r.existing).count(),
        5,
        "only the first request of each key makes a new claim"
    );
    // A later batch finds the existing claims by key.
    let again = batcher
        .claim(&req("keys@company.com", Some("acct-'b")))
        .await
        .expect("claim again");
    assert!(again.existing);
    assert_eq!(again.alias.id, id_of(2));
    let claimed = pool
        .list(&AliasFilter {
            status: Some(AliasStatus::Claimed),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(claimed.len(), 5);
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
