//! Coalesced reads ([`ReadCoalescer`]) against a real Azurite: many reads at
//! once cost few requests and each gets exactly the row (and ETag) a point
//! read returns; rows changed behind the coalescer's back, by another
//! client or by this process's own writes, are never answered from an
//! older snapshot beyond its limits.

use testkit::azurite;

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use rootmail::store::{
    AliasPool, AliasRow, AliasUpdate, ClaimBatcher, ClaimRequest, ClaimedAlias, ReadCoalescer,
    ReadSettings, ReleasePolicy, SeenRow, StoreConfig,
};
use tokio::sync::Semaphore;

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

/// A second client of the same table: "somebody else", whose writes this
/// process's coalescer cannot know about.
fn other_client(pool: &AliasPool) -> AliasPool {
    let config = StoreConfig::emulator(azurite::shared().endpoint(), pool.table_name());
    AliasPool::connect(&config).expect("connect")
}

async fn claim_many(pool: &AliasPool, count: usize) -> Vec<ClaimedAlias> {
    let batcher = ClaimBatcher::new(pool.clone());
    let request = ClaimRequest {
        owner: "platform@company.com".to_owned(),
        purpose: "read test".to_owned(),
        ..Default::default()
    };
    let claims = (0..count).map(|_| batcher.claim(&request));
    join_all(claims)
        .await
        .into_iter()
        .map(|c| c.expect("claim"))
        .collect()
}

/// Reads every id through `reader` the way Terraform refreshes: at most
/// `parallelism` at a time, each started as soon as a slot frees.
async fn refresh(
    reader: &Arc<ReadCoalescer>,
    ids: &[String],
    parallelism: usize,
) -> Vec<Option<AliasRow>> {
    let slots = Arc::new(Semaphore::new(parallelism));
    let reads = ids.iter().map(|id| {
        let (reader, slots, id) = (Arc::clone(reader), Arc::clone(&slots), id.clone());
        tokio::spawn(async move {
            let _slot = slots.acquire_owned().await.expect("semaphore");
            reader.get(&id).await.expect("read")
        })
    });
    join_all(reads)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect()
}

/// What a plain point read returns for each id, now.
async fn point_reads(pool: &AliasPool, ids: &[String]) -> Vec<Option<AliasRow>> {
    let mut out = Vec::new();
    for id in ids {
        out.push(pool.get(id).await.expect("point read"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_of_many_rows_gets_each_row_and_etag_for_a_tenth_of_the_requests() {
    let pool = pool("reads300", 320).await;
    let claimed = claim_many(&pool, 300).await;
    // A released row, a row claimed by an older tool's way (no token) and an
    // id with no row at all are in the refresh too: they are read exactly.
    let released = &claimed[0];
    pool.release(
        &released.alias.id,
        &released.claim(),
        ReleasePolicy::Release,
    )
    .await
    .expect("release");
    let mut ids: Vec<String> = claimed.iter().map(|c| c.alias.id.clone()).collect();
    ids.push(uuid::Uuid::new_v4().to_string());

    let reader = Arc::new(ReadCoalescer::new(pool.clone()));
    let before = pool.request_count();
    let got = refresh(&reader, &ids, 10).await;
    let used = pool.request_count() - before;
    let counts = reader.counts();

    let expected = point_reads(&pool, &ids).await;
    assert_eq!(
        got, expected,
        "every read returns exactly its row, with its ETag"
    );
    assert!(got[0].as_ref().is_some_and(|r| !r.in_use));
    assert!(got.last().expect("last").is_none(), "no row, no answer");
    for (row, c) in got.iter().zip(&claimed).skip(1) {
        let row = row.as_ref().expect("row");
        assert!(row.carries(&c.token));
        assert_eq!(row.etag(), c.alias.etag(), "the ETag the claim left");
    }
    assert_eq!(counts.reads, ids.len() as u64);
    assert!(counts.snapshots >= 1, "{counts:?}");
    assert!(
        (used as f64) / (ids.len() as f64) <= 0.1,
        "{used} requests for {} reads: {counts:?}",
        ids.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_handful_of_reads_are_point_reads_and_never_a_snapshot() {
    let pool = pool("readsfew", 10).await;
    let claimed = claim_many(&pool, 3).await;
    let reader = Arc::new(ReadCoalescer::new(pool.clone()));
    let ids: Vec<String> = claimed.iter().map(|c| c.alias.id.clone()).collect();
    let got = refresh(&reader, &ids[..2], 10).await;
    assert_eq!(got, point_reads(&pool, &ids[..2]).await);
    let counts = reader.counts();
    assert_eq!(counts.snapshots, 0, "{counts:?}");
    assert_eq!(counts.point_reads + counts.key_queries * 2, 2, "{counts:?}");
}

/// A snapshot taken for one burst of reads: short limits so the test is quick.
fn short_lived() -> ReadSettings {
    ReadSettings {
        snapshot_after: 10,
        snapshot_max_age: Duration::from_millis(1500),
        burst_gap: Duration::from_millis(300),
        ..ReadSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_changed_behind_the_coalescers_back_are_seen_after_a_pause_or_its_age_limit() {
    let pool = pool("readsdrift", 60).await;
    let claimed = claim_many(&pool, 50).await;
    let ids: Vec<String> = claimed.iter().map(|c| c.alias.id.clone()).collect();
    let reader = Arc::new(ReadCoalescer::with_settings(pool.clone(), short_lived()));
    // Changed after the coalescer started but before any read: seen.
    let other = other_client(&pool);
    let drift = &claimed[1];
    other
        .update(
            &drift.alias.id,
            &drift.claim(),
            &AliasUpdate {
                purpose: Some("changed before the read".to_owned()),
                owner: None,
                claim_key: None,
            },
        )
        .await
        .expect("update");
    let got = refresh(&reader, &ids, 10).await;
    assert_eq!(got, point_reads(&pool, &ids).await);
    assert_eq!(
        got[1].as_ref().expect("row").purpose,
        "changed before the read"
    );
    assert!(reader.counts().snapshots >= 1);

    // Released and re-claimed by somebody else right after that refresh:
    // the next refresh, after a pause, sees both.
    let reclaimed = &claimed[3];
    other
        .release(
            &reclaimed.alias.id,
            &reclaimed.claim(),
            ReleasePolicy::Release,
        )
        .await
        .expect("release");
    let mut taken = None;
    for _ in 0..200 {
        let c = other
            .claim(&ClaimRequest {
                owner: "someone-else@company.com".to_owned(),
                ..Default::default()
            })
            .await
            .expect("claim");
        if c.alias.id == reclaimed.alias.id {
            taken = Some(c);
            break;
        }
    }
    let taken = taken.expect("the released row was claimed again");
    let released = &claimed[2];
    other
        .release(
            &released.alias.id,
            &released.claim(),
            ReleasePolicy::Release,
        )
        .await
        .expect("release");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let got = refresh(&reader, &ids, 10).await;
    assert_eq!(got, point_reads(&pool, &ids).await);
    assert!(!got[2].as_ref().expect("row").in_use, "released");
    let now = got[3].as_ref().expect("row");
    assert!(!now.carries(&reclaimed.token), "token mismatch seen");
    assert!(now.carries(&taken.token));

    // Within one long burst, a change is seen once the snapshot is older
    // than its limit.
    let late = &claimed[4];
    other
        .update(
            &late.alias.id,
            &late.claim(),
            &AliasUpdate {
                purpose: Some("changed during the burst".to_owned()),
                owner: None,
                claim_key: None,
            },
        )
        .await
        .expect("update");
    let started = std::time::Instant::now();
    let mut seen = false;
    while started.elapsed() < Duration::from_secs(10) {
        let row = refresh(&reader, &ids[4..5], 1)
            .await
            .remove(0)
            .expect("row");
        if row.purpose == "changed during the burst" {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        seen,
        "a change stayed hidden longer than the snapshot's age limit"
    );
    assert!(started.elapsed() < Duration::from_millis(1500) + Duration::from_millis(800));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn this_process_writes_retire_the_snapshot_at_once() {
    let pool = pool("readsown", 40).await;
    let claimed = claim_many(&pool, 30).await;
    let ids: Vec<String> = claimed.iter().map(|c| c.alias.id.clone()).collect();
    let settings = ReadSettings {
        snapshot_max_age: Duration::from_secs(60),
        burst_gap: Duration::from_secs(60),
        ..short_lived()
    };
    let reader = Arc::new(ReadCoalescer::with_settings(pool.clone(), settings));
    refresh(&reader, &ids, 10).await;
    assert!(reader.counts().snapshots >= 1);

    // Through a clone of the same pool (as the provider's resources write).
    let own = pool.clone();
    own.update(
        &claimed[0].alias.id,
        &claimed[0].claim(),
        &AliasUpdate {
            purpose: Some("updated by this process".to_owned()),
            owner: None,
            claim_key: None,
        },
    )
    .await
    .expect("update");
    own.release(
        &claimed[1].alias.id,
        &claimed[1].claim(),
        ReleasePolicy::Release,
    )
    .await
    .expect("release");
    let got = refresh(&reader, &ids, 10).await;
    assert_eq!(got, point_reads(&pool, &ids).await);
    assert_eq!(
        got[0].as_ref().expect("row").purpose,
        "updated by this process"
    );
    assert!(!got[1].as_ref().expect("row").in_use);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_seen_for_a_later_release_are_the_ones_a_point_read_sees() {
    let pool = pool("readsseen", 70).await;
    let claimed = claim_many(&pool, 60).await;
    // Keyed queries first, then a snapshot: both kinds of answer are checked.
    let settings = ReadSettings {
        snapshot_after: 30,
        ..short_lived()
    };
    let reader = Arc::new(ReadCoalescer::with_settings(pool.clone(), settings));
    let slots = Arc::new(Semaphore::new(10));
    let reads = claimed.iter().map(|c| {
        let (reader, slots, c) = (Arc::clone(&reader), Arc::clone(&slots), c.clone());
        tokio::spawn(async move {
            let _slot = slots.acquire_owned().await.expect("semaphore");
            let row = reader.get(&c.alias.id).await.expect("read").expect("row");
            let seen = SeenRow::of(&row, &c.claim());
            (row, seen)
        })
    });
    let got: Vec<_> = join_all(reads)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    let counts = reader.counts();
    assert!(
        counts.snapshots >= 1 && counts.key_queries >= 1,
        "{counts:?}"
    );
    for (c, got) in claimed.iter().zip(got) {
        let expected = pool
            .get(&c.alias.id)
            .await
            .expect("point read")
            .expect("row");
        let (row, seen) = got;
        let seen = seen.expect("held by its token");
        assert_eq!(row, expected);
        assert_eq!(Some(&seen), SeenRow::of(&expected, &c.claim()).as_ref());
        assert_eq!(seen.etag(), c.alias.etag());
    }
    // Somebody else's token sees the row but no claim to keep.
    let other = rootmail::store::Claim {
        token: rootmail::store::ClaimToken::generate(),
        ..claimed[0].claim()
    };
    let row = reader
        .get(&claimed[0].alias.id)
        .await
        .expect("read")
        .expect("row");
    assert!(SeenRow::of(&row, &other).is_none());
}
