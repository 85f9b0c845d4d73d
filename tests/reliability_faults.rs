//! Faults on the wire between the provider and the table, injected by a proxy
//! (testkit/src/fault_proxy.rs): throttling, server errors, dropped
//! connections, responses that come too late or never (ambiguous writes), and
//! a writer racing the provider between its read and its write.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::json;
use testkit::azurite;
use testkit::fault_proxy::{Fault, FaultProxy, Target};
use testkit::pool::{Pool, OWNER};
use testkit::reliability::{
    aliases_tf, assert_state_matches_table, distinct, state_emails, wait_until,
};
use testkit::terraform::TerraformDir;

const APPLY: [&str; 4] = ["apply", "-auto-approve", "-parallelism=10", "-no-color"];

fn setup(prefix: &str, count: usize) -> (Pool, FaultProxy) {
    let az = azurite::shared();
    let pool = Pool::in_shared_azurite(prefix, count);
    let proxy = FaultProxy::start(&az.endpoint());
    (pool, proxy)
}

#[test]
fn transient_faults_are_retried_and_applies_and_destroys_succeed() {
    let started = Instant::now();
    let (pool, proxy) = setup("transient", 8);
    let dir = TerraformDir::new();
    // 15 s budget: each attempt may take at most 5 s, so a 6 s delay is a timeout.
    dir.write(
        "main.tf",
        &(pool.provider_block_at(&proxy.endpoint(), "retry_timeout_seconds = 15")
            + &aliases_tf("t", 5, false)),
    );
    // A sequence of faults, one after the other, then everything passes.
    // Requests failing in a row share one clock (the budget), so the run of
    // faults stays well inside it.
    let sequence = [
        (Target::All, Fault::Status(503), 1),
        (Target::All, Fault::Status(429), 1),
        (Target::All, Fault::Status(500), 1),
        (Target::All, Fault::DropConnection, 2),
        (Target::Writes, Fault::DropResponse, 1),
        (Target::Writes, Fault::Delay(Duration::from_secs(6)), 1),
    ];
    proxy.clear();
    // The provider's start-up reads (one per configuration: plan, then
    // apply) pass, so the faults meet the claims.
    proxy.add(Target::Reads, Fault::Pass, Some(2));
    for (target, fault, n) in sequence {
        proxy.add(target, fault, Some(n));
    }
    let apply = dir.run_ok(&APPLY);
    let injected_on_apply = proxy.injected();
    assert_eq!(
        injected_on_apply, 7,
        "every fault of the sequence was injected"
    );
    let emails = distinct(&state_emails(&dir), "state");
    assert_eq!(emails.len(), 5);
    assert_eq!(assert_state_matches_table(&dir, &pool, true), 5);

    // Destroy through failing and lost writes.
    proxy.clear();
    proxy.add(Target::Writes, Fault::Status(503), Some(3));
    proxy.add(Target::Writes, Fault::DropResponse, Some(2));
    proxy.add(Target::Reads, Fault::DropConnection, Some(2));
    dir.run_ok(&["destroy", "-auto-approve", "-parallelism=10", "-no-color"]);
    let injected = proxy.injected();
    assert_eq!(injected, injected_on_apply + 7);
    assert!(pool.claimed().is_empty(), "every alias was released");
    println!(
        "transient faults: {injected} injected (503/429/500/dropped connection/lost response/6 s delay), \
         5 aliases claimed and released, apply {:?}, test {:?}",
        apply.elapsed,
        started.elapsed()
    );
}

#[test]
fn persistent_outage_fails_clearly_keeps_claimed_aliases_in_state_and_reapply_converges() {
    let (pool, proxy) = setup("outage", 10);
    let dir = TerraformDir::new();
    dir.write(
        "main.tf",
        &(pool.provider_block_at(&proxy.endpoint(), "retry_timeout_seconds = 3")
            + &aliases_tf("o", 6, false)),
    );
    // Slow requests down so the outage starts in the middle of the apply.
    proxy.set(Target::All, Fault::Delay(Duration::from_millis(250)));
    let out = std::thread::scope(|s| {
        let apply = s.spawn(|| dir.run(&["apply", "-auto-approve", "-parallelism=2", "-no-color"]));
        wait_until("two aliases claimed", Duration::from_secs(60), || {
            pool.claimed().len() >= 2
        });
        proxy.set(Target::All, Fault::Status(503));
        apply.join().expect("apply thread")
    });
    assert!(!out.success(), "apply should fail during the outage");
    let said = testkit::terraform::flat(&out.stderr);
    assert!(
        said.contains("still unavailable") && said.contains("503"),
        "the error says what happened:\n{}",
        out.stderr
    );
    let kept = assert_state_matches_table(&dir, &pool, true);
    assert!(
        (2..6).contains(&kept),
        "{kept} aliases in state after the outage"
    );
    let injected = proxy.injected();
    proxy.clear();
    dir.run_ok(&APPLY);
    assert_eq!(assert_state_matches_table(&dir, &pool, true), 6);
    let plan = dir.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.status.code(), Some(0), "converged:\n{}", plan.stdout);
    println!(
        "persistent outage: {injected} faulted requests, {kept} of 6 aliases claimed before it and kept in state; \
         second apply converged to 6 with no duplicate"
    );
}

/// The table commits the claim, the response is lost, and the service then
/// stays unreachable past the budget: the apply fails with the alias claimed.
fn lose_a_committed_claim(keyed: bool) -> (Pool, FaultProxy, TerraformDir, String) {
    let (pool, proxy) = setup(if keyed { "ambkey" } else { "ambnokey" }, 4);
    let dir = TerraformDir::new();
    let config = pool.provider_block_at(&proxy.endpoint(), "retry_timeout_seconds = 3")
        + &aliases_tf("a", 1, keyed)
        + r#"
data "rootmail_aliases" "claimed" {
  status     = "claimed"
  depends_on = [rootmail_alias.a]
}
output "claimed" {
  value = [for a in data.rootmail_aliases.claimed.aliases : a.email]
}
"#;
    dir.write("main.tf", &config);
    proxy.set_for(Target::Writes, Fault::DropResponseThenStatus(503), 1);
    let out = dir.run_err(&APPLY);
    let said = testkit::terraform::flat(&out.stderr);
    assert!(said.contains("still unavailable"), "{}", out.stderr);
    assert!(state_emails(&dir).is_empty(), "nothing reached state");
    let claimed = pool.claimed();
    assert_eq!(claimed.len(), 1, "the lost write did land");
    proxy.clear();
    (pool, proxy, dir, claimed[0].email.clone())
}

#[test]
fn ambiguous_claim_with_claim_key_returns_the_same_alias() {
    let (pool, _proxy, dir, committed) = lose_a_committed_claim(true);
    dir.run_ok(&APPLY);
    assert_eq!(
        state_emails(&dir),
        vec![committed.clone()],
        "the retry took over the alias the lost write claimed"
    );
    assert_eq!(pool.claimed().len(), 1, "no second alias was claimed");
    assert_state_matches_table(&dir, &pool, true);
    println!("ambiguous write with claim_key: the second apply adopted {committed}; 1 claimed row, 1 in state");
}

#[test]
fn ambiguous_claim_without_claim_key_leaves_a_findable_orphan() {
    let (pool, _proxy, dir, committed) = lose_a_committed_claim(false);
    dir.run_ok(&APPLY);
    let in_state = state_emails(&dir);
    assert_eq!(in_state.len(), 1);
    assert_ne!(
        in_state[0], committed,
        "without a key a new alias is claimed"
    );
    // The data source shows both claimed aliases; the one no state owns is the orphan.
    let listed: BTreeSet<String> =
        serde_json::from_str(dir.run_ok(&["output", "-json", "claimed"]).stdout.trim())
            .expect("claimed output");
    let orphans: Vec<&String> = listed.iter().filter(|e| !in_state.contains(e)).collect();
    assert_eq!(
        orphans,
        vec![&committed],
        "rootmail_aliases lists the orphan"
    );
    let orphan_row = pool
        .claimed()
        .into_iter()
        .find(|r| r.email == committed)
        .expect("orphan row");
    assert_eq!(orphan_row.owner, OWNER, "the orphan says who claimed it");
    println!("ambiguous write without claim_key: orphan {committed} found through rootmail_aliases (status = claimed)");
}

/// `(PartitionKey='root',RowKey='<id>')` in a request target → `<id>`.
fn row_key_of(target: &str) -> String {
    let decoded = target.replace("%27", "'");
    let start = decoded.find("RowKey='").expect("entity request") + "RowKey='".len();
    let rest = &decoded[start..];
    rest[..rest.find('\'').expect("closing quote")].to_owned()
}

#[test]
fn a_writer_racing_between_read_and_write_wins_and_the_provider_moves_on() {
    let (pool, proxy) = setup("etagrace", 3);
    let dir = TerraformDir::new();
    dir.write(
        "main.tf",
        &(pool.provider_block_at(&proxy.endpoint(), "") + &aliases_tf("r", 1, false)),
    );
    let racer = |id: &str, body: serde_json::Value| {
        pool.rt.block_on(async {
            let (_, etag) = pool.raw.get(id).await.expect("row");
            assert!(pool.raw.merge_if_match(id, &body, &etag).await);
        })
    };

    // Claim: hold the provider's conditional write, let another writer take the row.
    proxy.set_for(Target::Writes, Fault::Pause, 1);
    let (apply, raced) = std::thread::scope(|s| {
        let apply = s.spawn(|| dir.run(&APPLY));
        let held = proxy
            .wait_paused(Duration::from_secs(60))
            .expect("the claim's write reached the proxy");
        let raced = row_key_of(&held.target);
        racer(
            &raced,
            json!({"in_use": true, "user_mail": "racer@company.com"}),
        );
        proxy.resume();
        (apply.join().expect("apply"), raced)
    });
    assert!(apply.success(), "{}", apply.stderr);
    let log = proxy.log();
    let held = log
        .iter()
        .find(|r| r.fault == Fault::Pause)
        .expect("held write");
    assert_eq!(held.status, Some(412), "the stale write was refused");
    let raced_row = pool.rt.block_on(pool.raw.get(&raced)).expect("row").0;
    assert_eq!(
        raced_row["user_mail"],
        json!("racer@company.com"),
        "racer's claim stands"
    );
    assert!(raced_row.get("claim_token").is_none());
    let mine = state_emails(&dir);
    let mine_row = pool
        .claimed()
        .into_iter()
        .find(|r| r.email == mine[0])
        .expect("claimed row");
    assert_ne!(mine_row.id, raced, "the provider moved on to another alias");

    // Release: another tool touches the row between read and write; the
    // release re-reads, still holds the claim, and keeps the other tool's column.
    proxy.set_for(Target::Writes, Fault::Pause, 1);
    let destroy = std::thread::scope(|s| {
        let destroy = s.spawn(|| dir.run(&["destroy", "-auto-approve", "-no-color"]));
        proxy
            .wait_paused(Duration::from_secs(60))
            .expect("the release's write reached the proxy");
        racer(&mine_row.id, json!({"note": "written during the release"}));
        proxy.resume();
        destroy.join().expect("destroy")
    });
    assert!(destroy.success(), "{}", destroy.stderr);
    let released = pool.rt.block_on(pool.raw.get(&mine_row.id)).expect("row").0;
    assert_eq!(released["in_use"], json!(false));
    assert_eq!(released["note"], json!("written during the release"));
    assert!(released.get("claim_token").is_none());
    let refused = proxy.log().iter().filter(|r| r.status == Some(412)).count();
    assert_eq!(refused, 2, "both stale writes got 412");
    println!("ETag race: 2 writes held and raced, both refused with 412; racer's changes survived");
}

#[test]
fn a_batched_claim_whose_outcome_cannot_be_told_is_never_retried_into_a_second_alias() {
    const COUNT: usize = 4;
    let (pool, proxy) = setup("unclearbatch", 12);
    let dir = TerraformDir::new();
    dir.write(
        "main.tf",
        &(pool.provider_block_at(&proxy.endpoint(), "retry_timeout_seconds = 10")
            + &aliases_tf("u", COUNT, false)),
    );
    // The claims' transaction lands but its answer is lost; reading its rows
    // back fails too, so nobody can tell whether they were claimed.
    proxy.add(Target::Transactions, Fault::DropResponse, Some(1));
    proxy.add(Target::EntityReads, Fault::Status(400), Some(50));
    let out = dir.run(&APPLY);
    let log = proxy.log();
    let dropped = log
        .iter()
        .find(|r| r.fault == Fault::DropResponse)
        .expect("the claims went out as one transaction");
    let in_doubt = dropped.batch_writes.len();
    assert!(in_doubt >= 2, "{dropped:?}");
    assert!(!out.success(), "{}", out.stdout);
    assert!(
        out.stderr.contains("is unknown"),
        "the error says the outcome is unknown:\n{}",
        out.stderr
    );
    // Every claimed row is one resource's: in state, or in the transaction
    // whose outcome is unknown; no resource got a second alias.
    let in_state = state_emails(&dir).len();
    let claimed = pool.claimed().len();
    assert_eq!(
        claimed,
        in_state + in_doubt,
        "{claimed} claimed, {in_state} in state, {in_doubt} in doubt"
    );
    assert!(claimed <= COUNT);
    println!(
        "unclear batched claim: {in_doubt} claims in doubt failed with an unknown outcome, {in_state} reached state, {claimed} claimed"
    );
}

/// The benchmark's "table 30 ms away": with a latency set, every request is
/// answered one round trip later than the table answers it, and the first
/// one on a new connection one more (its handshake); without, at once.
#[test]
fn a_table_far_away_answers_a_round_trip_later() {
    use rootmail::store::{AliasFilter, AliasPool, StoreConfig};
    let (pool, proxy) = setup("faraway", 2);
    let rtt = Duration::from_millis(300);
    proxy.set_latency(rtt);
    let through =
        AliasPool::connect(&StoreConfig::emulator(proxy.endpoint(), &pool.table)).expect("pool");
    let mut took = Vec::new();
    for _ in 0..4 {
        let t = Instant::now();
        let rows = pool
            .rt
            .block_on(through.list(&AliasFilter::default()))
            .expect("list");
        assert_eq!(rows.len(), 2);
        took.push(t.elapsed());
    }
    assert!(
        took[0] >= rtt * 2,
        "a new connection costs a handshake: {took:?}"
    );
    assert!(took.iter().all(|t| *t >= rtt), "{took:?}");
    proxy.set_latency(Duration::ZERO);
    let t = Instant::now();
    pool.rt
        .block_on(through.list(&AliasFilter::default()))
        .expect("list");
    assert!(
        t.elapsed() < rtt,
        "no latency once turned off: {:?}",
        t.elapsed()
    );
}
