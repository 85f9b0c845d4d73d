//! Coalesced releases with the real terraform (1.0.3 and a modern one)
//! against Azurite behind a recording proxy: a destroy reads the rows it
//! releases by key (one query for up to 14) and writes them in entity-group
//! transactions, each write conditional on the ETag it read, with or without
//! a refresh first; a row another tool changed after the refresh is released
//! as it is now, its columns kept; a destroy whose provider is killed
//! converges on the next run.

use std::collections::BTreeMap;
use std::time::Duration;

use rootmail::store::AliasStatus;
use serde_json::json;
use testkit::fault_proxy::{Fault, FaultProxy, RequestRecord, Target};
use testkit::pool::Pool;
use testkit::reliability::{aliases_tf, signal, state_emails, wait_for_process, wait_until};
use testkit::terraform::{Cli, TerraformDir};
use testkit::{azurite, reliability};

const COUNT: usize = 12;

fn setup(prefix: &str, free: usize, cli: Cli) -> Option<(Pool, FaultProxy, TerraformDir)> {
    let dir = TerraformDir::for_cli(cli)?;
    let az = azurite::shared();
    let pool = Pool::in_shared_azurite(prefix, free);
    let proxy = FaultProxy::start(&az.endpoint());
    dir.write(
        "main.tf",
        &(pool.provider_block_at(&proxy.endpoint(), "") + &aliases_tf("r", COUNT, true)),
    );
    Some((pool, proxy, dir))
}

fn is_write(r: &RequestRecord) -> bool {
    !matches!(r.method.as_str(), "GET" | "HEAD")
}

/// How many read requests named each alias id (point reads and key queries).
fn reads_per_row(log: &[RequestRecord], ids: &[String]) -> BTreeMap<String, usize> {
    ids.iter()
        .map(|id| {
            let n = log
                .iter()
                .filter(|r| !is_write(r) && r.target.contains(id.as_str()))
                .count();
            (id.clone(), n)
        })
        .collect()
}

/// Every write of `log` was conditional on a real ETag; returns how many
/// rows the writes touched (each operation of a transaction counts).
fn conditional_writes(log: &[RequestRecord]) -> usize {
    let mut rows = 0;
    for r in log.iter().filter(|r| is_write(r)) {
        if r.target.contains("$batch") {
            for (method, if_match) in &r.batch_writes {
                assert!(
                    if_match
                        .as_deref()
                        .is_some_and(|e| !e.is_empty() && e != "*"),
                    "{method} in a transaction without a real ETag: {r:?}"
                );
                rows += 1;
            }
        } else {
            assert!(
                r.if_match
                    .as_deref()
                    .is_some_and(|e| !e.is_empty() && e != "*"),
                "unconditional write: {r:?}"
            );
            rows += 1;
        }
    }
    rows
}

fn destroy_reads_by_key_and_writes_together(cli: Cli) {
    let Some((pool, proxy, dir)) = setup("e2erel", 30, cli) else {
        return;
    };
    dir.run_ok(&["apply", "-auto-approve", "-parallelism=10", "-no-color"]);
    let ids: Vec<String> = pool.claimed().into_iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), COUNT);
    let before = proxy.log().len();
    dir.run_ok(&["destroy", "-auto-approve", "-parallelism=10", "-no-color"]);
    let log = proxy.log().split_off(before);

    assert!(pool.claimed().is_empty(), "every alias released");
    for row in pool.rt.block_on(pool.raw.snapshot()).values() {
        assert_eq!(row["in_use"], json!(false));
        assert!(row.get("claim_token").is_none(), "legacy layout: {row:?}");
    }
    assert!(state_emails(&dir).is_empty());
    // The refresh read each row at most once, and so did the release.
    for (id, reads) in reads_per_row(&log, &ids) {
        assert!(reads <= 2, "row {id} read {reads} times: {log:#?}");
    }
    assert_eq!(conditional_writes(&log), COUNT, "one write per alias");
    let writes = log.iter().filter(|r| is_write(r)).count();
    let batches = log.iter().filter(|r| r.target.contains("$batch")).count();
    assert!(
        batches >= 1 && writes <= COUNT / 3,
        "releases went out together ({writes} write requests, {batches} transactions): {log:#?}"
    );
    println!(
        "{}: destroy of {COUNT} aliases sent {} requests ({writes} writes, {batches} transactions)",
        dir.binary().display(),
        log.len()
    );
}

#[test]
fn destroy_reads_by_key_and_writes_together_floor_terraform() {
    destroy_reads_by_key_and_writes_together(Cli::Floor);
}

#[test]
fn destroy_reads_by_key_and_writes_together_modern_terraform() {
    destroy_reads_by_key_and_writes_together(Cli::Modern);
}

#[test]
fn without_a_refresh_or_after_a_change_the_release_takes_the_row_as_it_is() {
    let Some((pool, proxy, dir)) = setup("e2ecareful", 40, Cli::Floor) else {
        return;
    };
    let apply = ["apply", "-auto-approve", "-parallelism=10", "-no-color"];
    let destroy = [
        "destroy",
        "-auto-approve",
        "-refresh=false",
        "-parallelism=10",
        "-no-color",
    ];

    // Without a refresh: every row read once (by key), then written together.
    dir.run_ok(&apply);
    let ids: Vec<String> = pool.claimed().into_iter().map(|r| r.id).collect();
    let before = proxy.log().len();
    dir.run_ok(&destroy);
    let log = proxy.log().split_off(before);
    assert!(pool.claimed().is_empty());
    assert!(
        reads_per_row(&log, &ids).values().all(|n| *n == 1),
        "{log:#?}"
    );
    assert_eq!(conditional_writes(&log), COUNT);
    assert!(log.iter().any(|r| r.target.contains("$batch")), "{log:#?}");

    // A separate refresh; then another tool changes one of the rows (still
    // held): it is released as it is now, the other tool's column kept, and
    // ends free like the rest; no write is refused for a stale version.
    dir.run_ok(&apply);
    dir.run_ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    let claimed = pool.claimed();
    let changed = &claimed[3].id;
    pool.rt.block_on(async {
        let (_, etag) = pool.raw.get(changed).await.expect("row");
        assert!(
            pool.raw
                .merge_if_match(changed, &json!({"note": "after the refresh"}), &etag)
                .await
        );
    });
    let before = proxy.log().len();
    dir.run_ok(&destroy);
    let log = proxy.log().split_off(before);
    assert!(pool.claimed().is_empty());
    let row = pool.rt.block_on(pool.raw.get(changed)).expect("row").0;
    assert_eq!(row["in_use"], json!(false));
    assert_eq!(row["note"], json!("after the refresh"));
    assert!(row.get("claim_token").is_none());
    let refused = log
        .iter()
        .filter(|r| r.status == Some(412) || r.batch_statuses.contains(&412))
        .count();
    assert_eq!(refused, 0, "{log:#?}");
    assert_eq!(conditional_writes(&log), COUNT);
    assert_eq!(
        pool.rows(Some(AliasStatus::Retired)).len(),
        0,
        "unused aliases are released, as before"
    );
}

#[test]
fn a_destroy_killed_midway_converges_on_the_next_run() {
    let Some((pool, proxy, dir)) = setup("e2ekill", 30, Cli::Floor) else {
        return;
    };
    dir.run_ok(&["apply", "-auto-approve", "-parallelism=10", "-no-color"]);
    assert_eq!(pool.claimed().len(), COUNT);
    // Slow writes, so the destroy is still running when the provider dies.
    proxy.set(Target::Writes, Fault::Delay(Duration::from_millis(400)));
    // Small batches (parallelism 3), so some land before the kill.
    let out = std::thread::scope(|s| {
        let destroy =
            s.spawn(|| dir.run(&["destroy", "-auto-approve", "-parallelism=3", "-no-color"]));
        wait_until("some aliases released", Duration::from_secs(90), || {
            pool.claimed().len() < COUNT
        });
        let pid = wait_for_process(
            reliability::PROVIDER_EXE,
            dir.path(),
            Duration::from_secs(10),
        )
        .expect("the provider process of this destroy");
        signal(pid, "KILL");
        destroy.join().expect("destroy thread")
    });
    assert!(
        !out.success(),
        "a destroy cannot succeed with its provider killed"
    );
    let left = pool.claimed().len();
    assert!(left > 0, "killed before the end");
    proxy.clear();
    dir.run_ok(&["destroy", "-auto-approve", "-parallelism=10", "-no-color"]);
    assert!(pool.claimed().is_empty(), "converged: nothing left claimed");
    assert!(state_emails(&dir).is_empty(), "converged: state empty");
    assert!(pool.rows(Some(AliasStatus::Retired)).is_empty());
    assert_eq!(pool.rows(Some(AliasStatus::Free)).len(), 30);
    let plan = dir.run(&["plan", "-destroy", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "nothing left to destroy:\n{}",
        plan.stdout
    );
}
