//! Crashes and interruptions in the middle of an apply: the provider process
//! killed with SIGKILL, terraform interrupted with Ctrl-C (SIGINT, which makes
//! it call StopProvider), and the table service restarted. The next apply must
//! converge, with nothing handed out twice and (with `claim_key`, or after a
//! graceful stop) nothing leaked.

use std::time::{Duration, Instant};

use testkit::fault_proxy::{Fault, FaultProxy, Target};
use testkit::pool::Pool;
use testkit::reliability::{
    aliases_tf, assert_state_matches_table, processes_in, signal, state_emails, wait_for_process,
    wait_until, PROVIDER_EXE,
};
use testkit::terraform::TerraformDir;
use testkit::{azurite, azurite_disk, terraform};

const COUNT: usize = 20;
const APPLY: [&str; 4] = ["apply", "-auto-approve", "-parallelism=10", "-no-color"];

/// Every request takes this long, so the apply is still running when we strike.
const SLOW: Duration = Duration::from_millis(150);

/// Runs an apply of `COUNT` aliases and, once `claimed_before` are claimed,
/// calls `strike`. Returns the apply's output.
fn apply_and_strike(
    dir: &TerraformDir,
    pool: &Pool,
    claimed_before: usize,
    strike: impl FnOnce(),
) -> terraform::TerraformOutput {
    std::thread::scope(|s| {
        let apply = s.spawn(|| dir.run(&APPLY));
        wait_until(
            &format!("{claimed_before} aliases claimed"),
            Duration::from_secs(90),
            || pool.claimed().len() >= claimed_before,
        );
        strike();
        apply.join().expect("apply thread")
    })
}

/// The second apply converges: all `COUNT` aliases, distinct, state == table, no changes left.
fn converge(dir: &TerraformDir, pool: &Pool) {
    dir.run_ok(&APPLY);
    assert_eq!(assert_state_matches_table(dir, pool, true), COUNT);
    assert_eq!(pool.claimed().len(), COUNT, "no alias leaked");
    let plan = dir.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.status.code(), Some(0), "converged:\n{}", plan.stdout);
}

/// After a kill: a claim the provider had handed over in the instant before
/// it died (Terraform never saved it) is named by the next apply's error with
/// the ID that takes it over; importing as the errors say converges. Returns
/// how many were imported.
fn import_what_the_errors_name(dir: &TerraformDir) -> usize {
    let out = dir.run(&["apply", "-auto-approve", "-parallelism=10", "-json"]);
    if out.success() {
        return 0;
    }
    let mut imported = 0;
    for line in out.stdout.lines() {
        let Ok(m) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let d = &m["diagnostic"];
        if m["type"] != "diagnostic" || d["severity"] != "error" {
            continue;
        }
        let detail = d["detail"].as_str().unwrap_or_default();
        assert_eq!(
            d["summary"], "claim_key names an alias that is held",
            "{detail}"
        );
        let id = detail
            .split("`terraform import ADDRESS ")
            .nth(1)
            .and_then(|rest| rest.split('`').next())
            .expect("the error gives the import ID");
        let address = d["address"].as_str().expect("the error names the resource");
        dir.run_ok(&["import", "-no-color", address, id]);
        imported += 1;
    }
    assert!(
        imported > 0,
        "the apply failed for another reason:\n{}",
        out.stdout
    );
    imported
}

#[test]
fn provider_killed_mid_apply_next_apply_converges_without_leaks() {
    let az = azurite::shared();
    let pool = Pool::in_shared_azurite("sigkill", 30);
    let proxy = FaultProxy::start(&az.endpoint());
    proxy.set(Target::All, Fault::Delay(SLOW));
    let dir = TerraformDir::new();
    dir.write(
        "main.tf",
        &(pool.provider_block_at(&proxy.endpoint(), "") + &aliases_tf("k", COUNT, true)),
    );
    let mut killed = 0;
    let out = apply_and_strike(&dir, &pool, 5, || {
        let pid = wait_for_process(PROVIDER_EXE, dir.path(), Duration::from_secs(10))
            .expect("the provider process of this apply");
        signal(pid, "KILL");
        killed = pid;
    });
    assert!(
        !out.success(),
        "apply cannot succeed with its provider killed"
    );
    let in_state = state_emails(&dir).len();
    let claimed_after_kill = pool.claimed().len();
    // Everything in state is really claimed; some claims may have landed without reaching state.
    assert_state_matches_table(&dir, &pool, false);
    assert!(in_state < COUNT && claimed_after_kill >= in_state);
    proxy.clear();
    let imported = import_what_the_errors_name(&dir);
    converge(&dir, &pool);
    println!(
        "SIGKILL: provider {killed} killed with {claimed_after_kill} of {COUNT} claimed ({in_state} in state); \
         the next apply resumed {} by claim_key ({imported} handed over just before the kill were imported as \
         its error said) and converged to {COUNT} claimed == {COUNT} in state",
        claimed_after_kill - in_state - imported
    );
}

#[test]
fn ctrl_c_stops_gracefully_and_state_stays_consistent_even_without_claim_key() {
    let az = azurite::shared();
    let pool = Pool::in_shared_azurite("sigint", 30);
    let proxy = FaultProxy::start(&az.endpoint());
    proxy.set(Target::All, Fault::Delay(SLOW));
    let dir = TerraformDir::new();
    dir.write(
        "main.tf",
        &(pool.provider_block_at(&proxy.endpoint(), "") + &aliases_tf("i", COUNT, false)),
    );
    let mut interrupted_at = Instant::now();
    let out = apply_and_strike(&dir, &pool, 5, || {
        // Ctrl-C in a terminal signals the whole foreground process group:
        // terraform's panic-wrapper parent, terraform itself and the provider.
        wait_for_process(PROVIDER_EXE, dir.path(), Duration::from_secs(10))
            .expect("the provider process of this apply");
        let mut group = processes_in("terraform", dir.path());
        group.extend(processes_in(PROVIDER_EXE, dir.path()));
        assert!(group.len() >= 2, "terraform and its provider: {group:?}");
        for pid in group {
            signal(pid, "INT");
        }
        interrupted_at = Instant::now();
    });
    let stopped_in = interrupted_at.elapsed();
    assert!(
        !out.success(),
        "an interrupted apply reports failure:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stdout.contains("Interrupt received") || out.stderr.contains("Interrupt received"),
        "terraform saw the interrupt:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        dir.log().contains("Terraform asked the provider to stop"),
        "terraform called StopProvider"
    );
    assert!(!out.stderr.contains("panic"), "{}", out.stderr);
    // Graceful: every claim that landed reached state, so nothing leaked even without claim_key.
    let kept = assert_state_matches_table(&dir, &pool, true);
    assert!(kept < COUNT, "the interrupt stopped the apply early");
    converge(&dir, &pool);
    println!(
        "SIGINT: terraform stopped {stopped_in:?} after Ctrl-C with {kept} of {COUNT} claimed, all in state; \
         next apply converged to {COUNT}"
    );
}

#[test]
fn table_service_restarted_mid_apply_nothing_duplicated_and_reapply_converges() {
    let mut service = azurite_disk::DiskAzurite::start();
    let pool = Pool::seeded(&service.endpoint(), "restarttable".to_string(), 30);
    let proxy = FaultProxy::start(&service.endpoint());
    proxy.set(Target::All, Fault::Delay(SLOW));
    let dir = TerraformDir::new();
    dir.write(
        "main.tf",
        &(pool.provider_block_at(&proxy.endpoint(), "retry_timeout_seconds = 30")
            + &aliases_tf("s", COUNT, true)),
    );
    let mut down_for = Duration::ZERO;
    let out = apply_and_strike(&dir, &pool, 5, || {
        let t = Instant::now();
        service.stop();
        std::thread::sleep(Duration::from_secs(2));
        service.start_again();
        down_for = t.elapsed();
    });
    // Either outcome is fine; a failure must say what happened.
    if !out.success() {
        assert!(
            out.stderr.contains("Could not claim") || out.stderr.contains("unavailable"),
            "unclear failure:\n{}",
            out.stderr
        );
    }
    let in_state = assert_state_matches_table(&dir, &pool, false);
    converge(&dir, &pool);
    println!(
        "table service restart: down {down_for:?} mid-apply; first apply {} with {in_state} in state; \
         second apply converged to {COUNT} with no duplicate",
        if out.success() { "succeeded" } else { "failed cleanly" }
    );
}
