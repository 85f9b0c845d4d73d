//! Reliability under load: many terraform processes claiming from one pool at
//! once, and the old function app claiming beside them. Nothing may be handed
//! out twice, nothing may be lost, and destroy must leave the table exactly as
//! it was.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::json;
use testkit::pool::{Pool, OWNER};
use testkit::reliability::{
    aliases_tf, assert_applied_apart, distinct, parallel_dirs, state_emails,
};
use testkit::table_tool::LegacyClaim;
use testkit::terraform::TerraformDir;
use testkit::{azurite, fault_proxy};

const PROCESSES: usize = 8;
const PER_PROCESS: usize = 25;

#[test]
fn eight_parallel_applies_share_two_hundred_aliases_and_destroy_restores_the_table() {
    let started = Instant::now();
    let az = azurite::shared();
    let total = PROCESSES * PER_PROCESS;
    let pool = Pool::in_shared_azurite("load", total);
    // Columns another tool added to a few rows (with types the store does not
    // know) must come back exactly, type annotations included.
    pool.rt.block_on(async {
        let ids: Vec<String> = pool.raw.snapshot().await.keys().take(5).cloned().collect();
        for id in ids {
            let (_, etag) = pool.raw.get(&id).await.expect("row");
            let body = json!({
                "note": "kept by another tool",
                "cost": "12345678901", "cost@odata.type": "Edm.Int64",
                "reviewed": "2024-01-02T03:04:05.678Z", "reviewed@odata.type": "Edm.DateTime",
            });
            assert!(pool.raw.merge_if_match(&id, &body, &etag).await);
        }
    });
    let before = pool.snapshot();
    assert_eq!(before.len(), total);
    // Terraform talks to the table through a passing proxy that records every
    // request, to check that each write is conditional on a real ETag.
    let proxy = fault_proxy::FaultProxy::start(&az.endpoint());
    let provider = pool.provider_block_at(&proxy.endpoint(), "");

    // Half the processes use claim_key, half do not; keys are unique per process.
    let dirs = parallel_dirs(&provider, PROCESSES, PER_PROCESS);
    let run_all = |args: &[&str]| {
        std::thread::scope(|s| {
            let handles: Vec<_> = dirs.iter().map(|d| s.spawn(move || d.run(args))).collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("terraform thread"))
                .collect::<Vec<_>>()
        })
    };

    let apply_started = Instant::now();
    let applies = run_all(&["apply", "-auto-approve", "-parallelism=10", "-no-color"]);
    let apply_time = apply_started.elapsed();
    let distinct_all = assert_applied_apart(&dirs, &applies, PER_PROCESS);
    assert_eq!(distinct_all.len(), total);
    let claimed = pool.claimed();
    assert_eq!(claimed.len(), total, "every alias is claimed exactly once");
    let in_table: BTreeSet<String> = claimed.iter().map(|r| r.email.clone()).collect();
    assert_eq!(in_table, distinct_all, "state and table agree");
    assert!(claimed
        .iter()
        .all(|r| r.owner == OWNER && r.claim_token.is_some()));

    let destroy_started = Instant::now();
    let destroys = run_all(&["destroy", "-auto-approve", "-parallelism=10", "-no-color"]);
    let destroy_time = destroy_started.elapsed();
    for (i, out) in destroys.iter().enumerate() {
        assert!(out.success(), "destroy {i} failed:\n{}", out.stderr);
    }
    let after = pool.snapshot();
    let columns: usize = before.values().map(|r| r.len()).sum();
    for (id, row) in &before {
        assert_eq!(
            after.get(id),
            Some(row),
            "row {id} differs after destroy (before vs after)"
        );
    }
    assert_eq!(after.len(), before.len(), "no row added or removed");
    let (writes, lost_races) = audit_writes(&proxy);
    // A keyed claim is handed over with a second write (see `pool/keyed.rs`).
    let keyed = PER_PROCESS * PROCESSES.div_ceil(2);
    assert_eq!(
        writes,
        2 * total + keyed,
        "exactly one successful claim write (two with a claim key) and one release write per alias"
    );
    println!(
        "load: {PROCESSES} terraform processes x {PER_PROCESS} aliases at -parallelism=10 on a pool of {total}: \
         {} distinct aliases, apply {apply_time:?}, destroy {destroy_time:?}, {} requests, {writes} conditional writes, {lost_races} lost races (412); \
         {} rows / {columns} cells identical after destroy; test {:?}",
        distinct_all.len(),
        proxy.log().len(),
        after.len(),
        started.elapsed()
    );
}

/// Every write the provider sent carries `If-Match` with a real ETag (never
/// `*`, never missing). Returns (successful writes, writes refused with 412).
fn audit_writes(proxy: &fault_proxy::FaultProxy) -> (usize, usize) {
    let mut ok = 0;
    let mut lost = 0;
    for r in proxy.log() {
        if !matches!(
            r.method.as_str(),
            "PUT" | "MERGE" | "PATCH" | "DELETE" | "POST"
        ) {
            continue;
        }
        let real_etag = |e: &str| e.starts_with("W/\"") || e.starts_with('"');
        if r.target.contains("$batch") {
            // An entity-group transaction: every inner write carries its own If-Match.
            for (method, if_match) in &r.batch_writes {
                assert!(
                    real_etag(if_match.as_deref().unwrap_or("")),
                    "{method} inside {} was sent with If-Match {if_match:?}: every write must be conditional on a real ETag",
                    r.target
                );
            }
            for status in &r.batch_statuses {
                match status {
                    412 => lost += 1,
                    s if (200..300).contains(s) => ok += 1,
                    other => panic!("a write inside {} answered {other}", r.target),
                }
            }
            continue;
        }
        let etag = r.if_match.as_deref().unwrap_or("");
        assert!(
            etag.starts_with("W/\"") || etag.starts_with('"'),
            "{} {} was sent with If-Match {:?}: every write must be conditional on a real ETag",
            r.method,
            r.target,
            r.if_match
        );
        match r.status {
            Some(412) => lost += 1,
            Some(s) if (200..300).contains(&s) => ok += 1,
            other => panic!("{} {} answered {other:?}", r.method, r.target),
        }
    }
    (ok, lost)
}

#[test]
fn old_function_app_claiming_beside_terraform_never_shares_an_alias() {
    const LEGACY_OWNER: &str = "legacy-app@company.com";
    const TF_COUNT: usize = 30;
    // Together they take the whole pool, so they keep meeting on the same rows.
    const LEGACY_MAX: usize = 10;
    let az = azurite::shared();
    let pool = Pool::in_shared_azurite("compat", 40);
    let proxy = fault_proxy::FaultProxy::start(&az.endpoint());
    let dir = TerraformDir::new();
    dir.write(
        "main.tf",
        &(pool.provider_block_at(&proxy.endpoint(), "") + &aliases_tf("c", TF_COUNT, true)),
    );
    let done = std::sync::atomic::AtomicBool::new(false);
    let (apply, legacy) = std::thread::scope(|s| {
        let apply = s.spawn(|| {
            let out = dir.run(&["apply", "-auto-approve", "-parallelism=10", "-no-color"]);
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            out
        });
        let legacy = s.spawn(|| {
            // The old app: first free row, write back with its ETag, give up on 412.
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            let mut claimed = Vec::new();
            let mut conflicts = 0;
            let mut attempts = 0;
            let deadline = Instant::now() + Duration::from_secs(120);
            // Start once terraform is claiming, so both really run at once.
            while pool.claimed().is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            while claimed.len() < LEGACY_MAX && Instant::now() < deadline {
                attempts += 1;
                match rt.block_on(pool.raw.legacy_claim(LEGACY_OWNER)) {
                    LegacyClaim::Claimed(id) => claimed.push(id),
                    LegacyClaim::Conflict(_) => conflicts += 1,
                    LegacyClaim::Empty => break,
                }
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
            }
            (claimed, conflicts, attempts)
        });
        (
            apply.join().expect("apply thread"),
            legacy.join().expect("legacy thread"),
        )
    });
    assert!(
        apply.success(),
        "apply failed beside the old app:\n{}\n{}",
        apply.stdout,
        apply.stderr
    );
    let (legacy_ids, legacy_conflicts, legacy_attempts) = legacy;
    let tf_emails = distinct(&state_emails(&dir), "terraform state");
    assert_eq!(tf_emails.len(), TF_COUNT);
    let legacy_set: BTreeSet<String> = legacy_ids.iter().cloned().collect();
    assert_eq!(
        legacy_set.len(),
        legacy_ids.len(),
        "old app got a row twice"
    );

    // Every claimed row has exactly one owner, and the owners' views agree.
    let claimed = pool.claimed();
    for row in &claimed {
        let tf = tf_emails.contains(&row.email);
        let old = legacy_set.contains(&row.id);
        assert!(
            tf ^ old,
            "row {} ({}) is held by {} owners (terraform: {tf}, old app: {old})",
            row.id,
            row.email,
            if tf && old { "two" } else { "no" }
        );
        if tf {
            assert_eq!(row.owner, OWNER, "{}", row.email);
            assert!(row.claim_token.is_some());
        } else {
            assert_eq!(row.owner, LEGACY_OWNER, "{}", row.email);
            assert!(row.claim_token.is_none(), "the old app's row got a token");
        }
    }
    assert_eq!(claimed.len(), TF_COUNT + legacy_ids.len());
    let (tf_writes, tf_lost) = audit_writes(&proxy);
    assert_eq!(
        tf_writes,
        2 * TF_COUNT,
        "one successful conditional write per claim, and one to hand a keyed claim over"
    );

    // Destroy gives back terraform's aliases only.
    dir.run_ok(&["destroy", "-auto-approve", "-parallelism=10", "-no-color"]);
    let still: BTreeSet<String> = pool.claimed().into_iter().map(|r| r.id).collect();
    assert_eq!(still, legacy_set, "destroy touched the old app's rows");
    println!(
        "compatibility: terraform claimed {TF_COUNT} while the old app made {legacy_attempts} attempts: \
         {} claimed, {legacy_conflicts} gave up on 412; the provider lost {tf_lost} races (412) and moved on; no alias with two owners among {} claimed rows",
        legacy_ids.len(),
        claimed.len()
    );
}
