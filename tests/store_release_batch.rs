//! Coalesced releases ([`ReleaseBatcher`]) against a real Azurite: releases
//! that come with the row as a refresh saw it go out as one entity-group
//! transaction without a read, with the same result as careful releases; a
//! writer racing one row of a batch leaves the others released and that row
//! handled on its own (policy decided anew, somebody else's claim left
//! alone); a lost answer is told apart by reading the rows back; releases
//! without a seen row are read by key together; a stale seen row takes the
//! careful path.

use testkit::{azurite, fault_proxy, table_tool};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use fault_proxy::{Fault, FaultProxy, Target};
use rootmail::store::{
    AliasPool, AliasStatus, BatchSettings, ClaimRequest, ClaimToken, ClaimedAlias, LinkTarget,
    ReleaseBatcher, ReleaseOutcome, ReleasePolicy, SeenRow, StoreConfig,
};
use serde_json::{json, Value};
use table_tool::RawTable;

struct Fixture {
    pool: AliasPool,
    raw: RawTable,
    endpoint: String,
    table: String,
}

impl Fixture {
    /// A pool of `free` rows, each with a column another tool wrote (one of
    /// them typed), so that a plain release must keep them exactly.
    async fn new(prefix: &str, free: usize) -> Fixture {
        let endpoint = azurite::shared().endpoint();
        let table = azurite::unique_table_name(prefix);
        let pool = AliasPool::connect(&StoreConfig::emulator(endpoint.clone(), table.clone()))
            .expect("connect");
        pool.ensure_table().await.expect("create table");
        pool.seed("box1@company.com", "company.com", free)
            .await
            .expect("seed");
        let raw = RawTable::new(&endpoint, &table);
        for (key, _) in raw.snapshot().await {
            let (_, etag) = raw.get(&key).await.expect("row");
            let note =
                json!({"note": "kept by another tool", "n@odata.type": "Edm.Int64", "n": "7"});
            assert!(raw.merge_if_match(&key, &note, &etag).await);
        }
        Fixture {
            pool,
            raw,
            endpoint,
            table,
        }
    }

    /// The same table through `endpoint` (a fault proxy).
    fn pool_at(&self, endpoint: &str) -> AliasPool {
        AliasPool::connect(&StoreConfig::emulator(
            endpoint.to_owned(),
            self.table.clone(),
        ))
        .expect("connect")
    }

    async fn claim(&self, n: usize) -> Vec<ClaimedAlias> {
        let mut out = Vec::new();
        for i in 0..n {
            let req = ClaimRequest {
                owner: format!("owner{i}@company.com"),
                purpose: format!("account-{i}"),
                mailbox: None,
                claim_key: Some(format!("key-{i}")),
                source: None,
            };
            out.push(self.pool.claim(&req).await.expect("claim"));
        }
        out
    }

    /// What a refresh keeps: the row as read while the claim held it.
    async fn seen(&self, claimed: &ClaimedAlias) -> SeenRow {
        let row = self
            .pool
            .get(&claimed.alias.id)
            .await
            .expect("read")
            .expect("row");
        assert!(row.carries(&claimed.token));
        SeenRow::of(&row, &claimed.claim()).expect("held rows are kept as seen")
    }

    async fn raw_row(&self, id: &str) -> BTreeMap<String, Value> {
        let (row, _) = self.raw.get(id).await.expect("row");
        row.into_iter()
            .filter(|(k, _)| !k.starts_with("odata.") && !k.starts_with("Timestamp"))
            .collect()
    }
}

/// Waits long enough that releases started together land in one batch.
fn wide_window() -> BatchSettings {
    BatchSettings {
        linger: Duration::from_millis(50),
        max_wait: Duration::from_millis(300),
        ..BatchSettings::default()
    }
}

/// Releases every claim at once through `batcher`, each with its seen row.
async fn release_all(
    batcher: &Arc<ReleaseBatcher>,
    work: Vec<(ClaimedAlias, ReleasePolicy, Option<SeenRow>)>,
) -> Vec<(ClaimedAlias, ReleaseOutcome)> {
    let tasks: Vec<_> = work
        .into_iter()
        .map(|(claimed, policy, seen)| {
            let b = Arc::clone(batcher);
            tokio::spawn(async move {
                let outcome = b
                    .release(&claimed.alias.id, &claimed.claim(), policy, seen.as_ref())
                    .await
                    .expect("release");
                (claimed, outcome)
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

/// A row with its per-row values (key, address, time stamps) left out, to
/// compare what two releases did to two rows.
fn shape(mut row: BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    for k in [
        "RowKey",
        "id",
        "aws_mail",
        "reusable_after",
        "claimed_at",
        "purpose",
        "user_mail",
    ] {
        row.remove(k);
    }
    row
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seen_rows_are_released_in_one_transaction_exactly_like_careful_releases() {
    let f = Fixture::new("relbatch", 40).await;
    let claims = f.claim(16).await;
    // One account used claims[6]: the default policy must retire it.
    f.pool
        .link_account(
            &LinkTarget::Claim {
                alias_id: claims[6].alias.id.clone(),
                claim: claims[6].claim(),
            },
            "123456789012",
        )
        .await
        .expect("link");
    let policy_of = |i: usize| match i % 8 {
        4 => ReleasePolicy::Retire,
        5 => ReleasePolicy::Quarantine { days: 30 },
        _ => ReleasePolicy::RetireIfUsed,
    };
    // Rows 0..8 are released together; 8..16 the careful way, as twins.
    let mut work = Vec::new();
    for (i, c) in claims.iter().take(8).enumerate() {
        work.push((c.clone(), policy_of(i), Some(f.seen(c).await)));
    }
    f.pool
        .link_account(
            &LinkTarget::Claim {
                alias_id: claims[14].alias.id.clone(),
                claim: claims[14].claim(),
            },
            "123456789012",
        )
        .await
        .expect("link the twin");
    let batcher = Arc::new(ReleaseBatcher::with_settings(f.pool.clone(), wide_window()));
    let before = f.pool.request_count();
    let released = release_all(&batcher, work).await;
    assert_eq!(
        f.pool.request_count() - before,
        1,
        "eight releases with seen rows cost one transaction and no read"
    );
    let counts = batcher.counts();
    assert_eq!((counts.batched, counts.transactions), (8, 1), "{counts:?}");
    assert_eq!(counts.careful, 0);

    for (i, (claimed, outcome)) in released.iter().enumerate() {
        let twin = &claims[8 + i];
        let careful = f
            .pool
            .release(&twin.alias.id, &twin.claim(), policy_of(i))
            .await
            .expect("careful release");
        match (outcome, &careful) {
            (
                ReleaseOutcome::Quarantined { reusable_after: a },
                ReleaseOutcome::Quarantined { reusable_after: b },
            ) => {
                let days = (*a - time::OffsetDateTime::now_utc()).whole_hours();
                assert!((29 * 24..=30 * 24).contains(&days), "{days} hours");
                assert!((*a - *b).abs() < time::Duration::minutes(1));
            }
            _ => assert_eq!(outcome, &careful, "row {i}"),
        }
        let row = f.raw_row(&claimed.alias.id).await;
        assert_eq!(row["note"], json!("kept by another tool"));
        assert_eq!(row["n"], json!("7"), "typed columns of other tools stay");
        assert_eq!(
            shape(row),
            shape(f.raw_row(&twin.alias.id).await),
            "row {i}: a batched release writes what a careful one writes"
        );
    }
    assert_eq!(released[0].1, ReleaseOutcome::Released);
    assert_eq!(released[4].1, ReleaseOutcome::Retired);
    assert_eq!(released[6].1, ReleaseOutcome::Retired, "used alias retired");
    let retired = f.raw_row(&claims[6].alias.id).await;
    assert_eq!(retired["used_by_account"], json!("123456789012"));
    let free = f.raw_row(&claims[0].alias.id).await;
    assert_eq!(free["in_use"], json!(false));
    assert!(
        !free.contains_key("claim_token") && !free.contains_key("status"),
        "a released row is the legacy row it was: {free:?}"
    );
}

#[test]
fn a_writer_racing_one_row_of_a_batch_leaves_the_others_released() {
    // The proxy runs its own runtime, so this test drives its own.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let f = rt.block_on(Fixture::new("relrace", 20));
    let proxy = FaultProxy::start(&f.endpoint);
    let claims = rt.block_on(f.claim(10));
    let mut work = Vec::new();
    for c in &claims {
        let seen = rt.block_on(f.seen(c));
        work.push((c.clone(), ReleasePolicy::RetireIfUsed, Some(seen)));
    }
    let batcher = {
        let _inside = rt.enter();
        Arc::new(ReleaseBatcher::with_settings(
            f.pool_at(&proxy.endpoint()),
            wide_window(),
        ))
    };
    proxy.set_for(Target::Writes, Fault::Pause, 1);
    let releases = rt.spawn({
        let batcher = Arc::clone(&batcher);
        async move { release_all(&batcher, work).await }
    });
    let held = proxy
        .wait_paused(Duration::from_secs(30))
        .expect("the transaction reached the proxy");
    assert!(held.target.contains("$batch"), "{}", held.target);
    // While the transaction is held: an account links row 3 (so it is used
    // now), and another tool hands row 7 to somebody else.
    let foreign = ClaimToken::generate();
    rt.block_on(async {
        f.pool
            .link_account(
                &LinkTarget::Claim {
                    alias_id: claims[3].alias.id.clone(),
                    claim: claims[3].claim(),
                },
                "210987654321",
            )
            .await
            .expect("link during the release");
        let (_, etag) = f.raw.get(&claims[7].alias.id).await.expect("row");
        let takeover = json!({"claim_token": foreign.as_str(), "user_mail": "someone@else.com"});
        assert!(
            f.raw
                .merge_if_match(&claims[7].alias.id, &takeover, &etag)
                .await
        );
    });
    proxy.resume();
    let released = rt.block_on(releases).expect("releases");

    for (claimed, outcome) in &released {
        let row = rt.block_on(f.raw_row(&claimed.alias.id));
        if claimed.alias.id == claims[3].alias.id {
            assert_eq!(outcome, &ReleaseOutcome::Retired, "decided anew: now used");
            assert_eq!(row["used_by_account"], json!("210987654321"));
            assert_eq!(row["status"], json!("retired"));
        } else if claimed.alias.id == claims[7].alias.id {
            assert_eq!(
                outcome,
                &ReleaseOutcome::NotHeld {
                    status: AliasStatus::Claimed
                }
            );
            assert_eq!(row["claim_token"], json!(foreign.as_str()), "left alone");
            assert_eq!(row["user_mail"], json!("someone@else.com"));
        } else {
            assert_eq!(outcome, &ReleaseOutcome::Released);
            assert_eq!(row["in_use"], json!(false));
            assert!(!row.contains_key("claim_token"));
        }
    }
    let counts = batcher.counts();
    assert_eq!(counts.failed_transactions, 1, "{counts:?}");
    assert_eq!(counts.transactions, 1, "the others went again together");
    assert_eq!(counts.careful, 2, "the two changed rows on their own");
    let log = proxy.log();
    let batches: Vec<_> = log.iter().filter(|r| r.target.contains("$batch")).collect();
    assert_eq!(batches.len(), 2, "{log:#?}");
    assert_eq!(batches[0].batch_writes.len(), 10);
    assert_eq!(batches[0].batch_statuses, [412]);
    assert_eq!(
        batches[1].batch_writes.len(),
        8,
        "without the two changed rows"
    );
    assert!(batches
        .iter()
        .flat_map(|b| &b.batch_writes)
        .all(|(_, if_match)| if_match.as_deref().is_some_and(|e| e != "*")));
    // One query read the ten rows again; one conditional write retired row 3.
    assert_eq!(
        log.len(),
        4,
        "transaction, one query, transaction, one write: {log:#?}"
    );
    drop(batcher);
    drop(rt);
}

#[test]
fn a_lost_answer_is_told_apart_by_reading_the_rows_back() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let f = rt.block_on(Fixture::new("rellost", 12));
    let proxy = FaultProxy::start(&f.endpoint);
    let claims = rt.block_on(f.claim(6));
    let mut work = Vec::new();
    for c in &claims {
        let seen = rt.block_on(f.seen(c));
        work.push((c.clone(), ReleasePolicy::Release, Some(seen)));
    }
    let batcher = {
        let _inside = rt.enter();
        Arc::new(ReleaseBatcher::with_settings(
            f.pool_at(&proxy.endpoint()),
            wide_window(),
        ))
    };
    // The transaction lands, its answer is lost.
    proxy.set_for(Target::Writes, Fault::DropResponse, 1);
    let released = rt.block_on(release_all(&batcher, work));
    for (claimed, outcome) in &released {
        assert_eq!(outcome, &ReleaseOutcome::Released);
        let row = rt.block_on(f.raw_row(&claimed.alias.id));
        assert_eq!(row["in_use"], json!(false));
        assert_eq!(row["note"], json!("kept by another tool"));
    }
    let log = proxy.log();
    let sent = log.iter().filter(|r| r.target.contains("$batch")).count();
    assert_eq!(sent, 2, "the lost one and its retry: {log:#?}");
    let counts = batcher.counts();
    assert_eq!(counts.failed_transactions, 1, "{counts:?}");
    assert_eq!(counts.careful, 0, "every row showed the release");
    drop(batcher);
    drop(rt);
}

/// What a destroy sends: no seen rows (Terraform's private state keeps none,
/// so that a refresh never changes it). The batch reads its rows by key, one
/// query for up to 14, and writes them in one transaction; a row released
/// by somebody else meanwhile is left alone, exactly as the careful path
/// leaves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unseen_releases_are_read_by_key_and_written_together() {
    let f = Fixture::new("relunseen", 12).await;
    let claims = f.claim(9).await;
    f.pool
        .release(
            &claims[8].alias.id,
            &claims[8].claim(),
            ReleasePolicy::Retire,
        )
        .await
        .expect("released elsewhere");
    let batcher = Arc::new(ReleaseBatcher::with_settings(f.pool.clone(), wide_window()));
    let work = claims
        .iter()
        .map(|c| (c.clone(), ReleasePolicy::RetireIfUsed, None))
        .collect();
    let before = f.pool.request_count();
    let released = release_all(&batcher, work).await;
    assert_eq!(
        f.pool.request_count() - before,
        2,
        "nine releases: one keyed read and one transaction"
    );
    let counts = batcher.counts();
    assert_eq!((counts.batched, counts.transactions), (9, 1), "{counts:?}");
    assert_eq!(
        counts.careful, 1,
        "the row held by nobody: decided on the read"
    );
    for (claimed, outcome) in &released[..8] {
        assert_eq!(outcome, &ReleaseOutcome::Released);
        let row = f.raw_row(&claimed.alias.id).await;
        assert_eq!(row["in_use"], json!(false));
        assert_eq!(row["note"], json!("kept by another tool"));
    }
    assert_eq!(
        released[8].1,
        ReleaseOutcome::NotHeld {
            status: AliasStatus::Retired
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_or_foreign_seen_row_takes_the_careful_path() {
    let f = Fixture::new("relstale", 8).await;
    let claims = f.claim(3).await;
    let batcher = Arc::new(ReleaseBatcher::with_settings(f.pool.clone(), wide_window()));

    // Changed since the refresh (purpose updated): 412, then read, check, write.
    let stale = f.seen(&claims[0]).await;
    f.pool
        .update(
            &claims[0].alias.id,
            &claims[0].claim(),
            &rootmail::store::AliasUpdate {
                owner: None,
                purpose: Some("changed".into()),
                claim_key: None,
            },
        )
        .await
        .expect("update");
    let before = f.pool.request_count();
    let outcome = batcher
        .release(
            &claims[0].alias.id,
            &claims[0].claim(),
            ReleasePolicy::RetireIfUsed,
            Some(&stale),
        )
        .await
        .expect("release");
    assert_eq!(outcome, ReleaseOutcome::Released);
    assert_eq!(
        f.pool.request_count() - before,
        3,
        "the stale write (412), the careful read and its write"
    );
    let row = f.raw_row(&claims[0].alias.id).await;
    assert_eq!(row["in_use"], json!(false));
    assert_eq!(row["user_mail"], json!(""));

    // A seen row of another alias or claim is not used at all.
    let other = f.seen(&claims[2]).await;
    let before = f.pool.request_count();
    let outcome = batcher
        .release(
            &claims[1].alias.id,
            &claims[1].claim(),
            ReleasePolicy::Retire,
            Some(&other),
        )
        .await
        .expect("release");
    assert_eq!(outcome, ReleaseOutcome::Retired);
    assert_eq!(f.pool.request_count() - before, 2, "read, then write");
    assert_eq!(batcher.counts().careful, 2);

    // Released meanwhile by somebody else: not held, exactly as today.
    f.pool
        .release(
            &claims[2].alias.id,
            &claims[2].claim(),
            ReleasePolicy::Retire,
        )
        .await
        .expect("release elsewhere");
    let outcome = batcher
        .release(
            &claims[2].alias.id,
            &claims[2].claim(),
            ReleasePolicy::Release,
            Some(&other),
        )
        .await
        .expect("release");
    assert_eq!(
        outcome,
        ReleaseOutcome::NotHeld {
            status: AliasStatus::Retired
        }
    );
}
