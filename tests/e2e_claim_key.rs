//! What `claim_key` promises, end to end with the modern Terraform against
//! Azurite (see `src/store/pool/keyed.rs`): a key never makes two states
//! share an alias, nor lets one's destroy free another's; a replacement with
//! create_before_destroy ends with the state holding a claimed alias;
//! renaming a key writes it; applies racing on one key end with one claimed
//! row; and a claim an apply killed with SIGKILL left behind is recovered by
//! the next apply of the same state (automatically while it was never handed
//! over, else with the import command the error gives).

use std::collections::BTreeMap;
use std::time::Duration;

use rootmail::store::{AliasRow, AliasStatus};
use serde_json::{Map, Value as Json};
use testkit::azurite;
use testkit::fault_proxy::{Fault, FaultProxy, Target};
use testkit::pool::{Pool, OWNER};
use testkit::reliability::{signal, state_emails, wait_for_process, wait_until, PROVIDER_EXE};
use testkit::terraform::{flat, TerraformDir, TerraformOutput};

const APPLY: [&str; 3] = ["apply", "-auto-approve", "-no-color"];

fn alias_tf(key: &str, owner: &str, extra: &str) -> String {
    format!(
        r#"
resource "rootmail_alias" "a" {{
  owner     = "{owner}"
  purpose   = "workload-prod"
  claim_key = "{key}"
{extra}}}
"#
    )
}

/// The claimed rows that carry `key`.
fn claimed_with_key(pool: &Pool, key: &str) -> Vec<AliasRow> {
    pool.claimed()
        .into_iter()
        .filter(|r| r.claim_key.as_deref() == Some(key))
        .collect()
}

/// The `claim_token` of every `rootmail_alias` instance in the state file, by e-mail.
fn state_tokens(dir: &TerraformDir) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.path().join("terraform.tfstate")).unwrap_or_default();
    let json: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
    let mut out = BTreeMap::new();
    for r in json["resources"].as_array().into_iter().flatten() {
        for i in r["instances"].as_array().into_iter().flatten() {
            let a = &i["attributes"];
            if let (Some(e), Some(t)) = (a["email"].as_str(), a["claim_token"].as_str()) {
                out.insert(e.to_owned(), t.to_owned());
            }
        }
    }
    out
}

/// Asserts the state holds exactly one alias and the row is claimed with its token.
fn assert_state_holds_a_claimed_alias(dir: &TerraformDir, pool: &Pool) -> AliasRow {
    let tokens = state_tokens(dir);
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    let (email, token) = tokens.into_iter().next().expect("one alias");
    let row = pool
        .claimed()
        .into_iter()
        .find(|r| r.email == email)
        .unwrap_or_else(|| panic!("the state's alias {email} is not claimed in the table"));
    assert_eq!(
        row.claim_token.as_ref().map(|t| t.as_str()),
        Some(token.as_str()),
        "the row carries the state's claim"
    );
    row
}

fn text(out: &TerraformOutput) -> String {
    flat(&format!("{}\n{}", out.stdout, out.stderr))
}

fn columns_of(pool: &Pool, id: &str) -> Map<String, Json> {
    pool.columns().remove(id).expect("row")
}

#[test]
fn a_claim_key_another_state_holds_never_shares_or_frees_its_alias() {
    let pool = Pool::in_shared_azurite("keyshare", 4);
    let Some(dir) = TerraformDir::modern() else {
        return;
    };
    // Production, a `terraform test` run and a second workspace all use one
    // literal key: the user's bug, which must be loud and harmless.
    dir.write(
        "main.tf",
        &(pool.provider_block() + &alias_tf("workload-prod", OWNER, "")),
    );
    dir.run_ok(&APPLY);
    let held = assert_state_holds_a_claimed_alias(&dir, &pool);
    let production = columns_of(&pool, &held.id);

    // A `terraform test` run (its own state) with the same key fails, and its
    // clean-up frees nothing.
    std::fs::create_dir_all(dir.path().join("tests")).expect("tests dir");
    dir.write(
        "tests/same_key.tftest.hcl",
        "run \"claims_an_alias\" {\n  assert {\n    condition     = rootmail_alias.a.email != \"\"\n    error_message = \"no alias\"\n  }\n}\n",
    );
    let test = dir.run(&["test", "-no-color"]);
    assert!(
        !test.success(),
        "a test run sharing production's key must not pass:\n{}",
        text(&test)
    );
    assert!(
        text(&test).contains("claim_key names an alias that is held")
            && text(&test).contains(&held.email),
        "{}",
        text(&test)
    );
    assert_eq!(columns_of(&pool, &held.id), production, "terraform test");
    std::fs::remove_dir_all(dir.path().join("tests")).expect("remove tests");

    // Another workspace, with another owner: a clean error, nothing in its
    // state (no tainted resource carrying production's token), and its
    // destroy writes nothing.
    dir.run_ok(&["workspace", "new", "-no-color", "b"]);
    dir.write(
        "main.tf",
        &(pool.provider_block() + &alias_tf("workload-prod", "other-team@company.com", "")),
    );
    let other = dir.run(&APPLY);
    assert!(!other.success(), "{}", text(&other));
    assert!(
        text(&other).contains("claim_key names an alias that is held")
            && text(&other).contains(&format!("takeover:{}", held.email))
            && !text(&other).contains("inconsistent result"),
        "{}",
        text(&other)
    );
    let b_state = dir.path().join("terraform.tfstate.d/b/terraform.tfstate");
    let b_state = std::fs::read_to_string(b_state).unwrap_or_default();
    assert!(!b_state.contains("rootmail_alias"), "{b_state}");
    dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(columns_of(&pool, &held.id), production, "workspace b");

    // Production still holds its alias, unchanged.
    dir.run_ok(&["workspace", "select", "-no-color", "default"]);
    dir.write(
        "main.tf",
        &(pool.provider_block() + &alias_tf("workload-prod", OWNER, "")),
    );
    let plan = pool.plan(&dir, &["-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    assert_eq!(assert_state_holds_a_claimed_alias(&dir, &pool).id, held.id);
    assert_eq!(pool.claimed().len(), 1);
}

#[test]
fn replacing_with_create_before_destroy_ends_with_the_state_holding_a_claimed_alias() {
    let pool = Pool::in_shared_azurite("keycbd", 4);
    let Some(dir) = TerraformDir::modern() else {
        return;
    };
    let cbd = "  lifecycle {\n    create_before_destroy = true\n  }\n";
    dir.write(
        "main.tf",
        &(pool.provider_block() + &alias_tf("cbd-1", OWNER, cbd)),
    );
    dir.run_ok(&APPLY);
    let first = assert_state_holds_a_claimed_alias(&dir, &pool);

    // The new instance would take the key the old one holds: refused, and
    // the old instance keeps its alias.
    let replace = dir.run(&[
        "apply",
        "-auto-approve",
        "-no-color",
        "-replace=rootmail_alias.a",
    ]);
    assert!(!replace.success(), "{}", text(&replace));
    assert!(
        text(&replace).contains("create_before_destroy"),
        "{}",
        text(&replace)
    );
    assert_eq!(assert_state_holds_a_claimed_alias(&dir, &pool).id, first.id);

    // With a new key the replacement gets a new alias and gives the old one back.
    dir.write(
        "main.tf",
        &(pool.provider_block() + &alias_tf("cbd-2", OWNER, cbd)),
    );
    dir.run_ok(&[
        "apply",
        "-auto-approve",
        "-no-color",
        "-replace=rootmail_alias.a",
    ]);
    let second = assert_state_holds_a_claimed_alias(&dir, &pool);
    assert_ne!(second.id, first.id);
    assert_eq!(second.claim_key.as_deref(), Some("cbd-2"));
    assert_eq!(pool.row(&first.id).status, AliasStatus::Free);
    assert_eq!(pool.claimed().len(), 1);
}

#[test]
fn renaming_a_claim_key_writes_it_so_the_old_key_names_nothing() {
    let pool = Pool::in_shared_azurite("keyrename", 4);
    let Some(dir) = TerraformDir::modern() else {
        return;
    };
    dir.write(
        "main.tf",
        &(pool.provider_block() + &alias_tf("old-key", OWNER, "")),
    );
    dir.run_ok(&APPLY);
    let held = assert_state_holds_a_claimed_alias(&dir, &pool);
    dir.write(
        "main.tf",
        &(pool.provider_block() + &alias_tf("new-key", OWNER, "")),
    );
    let plan = pool.plan(&dir, &["-no-color"]);
    assert!(
        plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    dir.run_ok(&APPLY);
    assert_eq!(pool.row(&held.id).claim_key.as_deref(), Some("new-key"));

    // A later resource with the old key claims an alias of its own.
    let later = "\nresource \"rootmail_alias\" \"later\" {\n  owner     = \"platform-team@company.com\"\n  purpose   = \"workload-prod\"\n  claim_key = \"old-key\"\n}\n";
    dir.write(
        "main.tf",
        &(pool.provider_block() + &alias_tf("new-key", OWNER, "") + later),
    );
    dir.run_ok(&APPLY);
    let emails = state_emails(&dir);
    assert_eq!(emails.len(), 2);
    assert_ne!(
        emails[0], emails[1],
        "the old key found nothing: {emails:?}"
    );
    assert_eq!(claimed_with_key(&pool, "old-key").len(), 1);
    assert_eq!(claimed_with_key(&pool, "new-key")[0].id, held.id);
}

#[test]
fn two_applies_racing_on_one_claim_key_end_with_one_claimed_row() {
    let pool = Pool::in_shared_azurite("keyrace", 4);
    let proxy = FaultProxy::start(&azurite::shared().endpoint());
    let dirs: Vec<TerraformDir> = (0..2)
        .filter_map(|i| {
            let dir = TerraformDir::modern()?;
            let owner = format!("pipeline{i}@company.com");
            dir.write(
                "main.tf",
                &(pool.provider_block_at(&proxy.endpoint(), "") + &alias_tf("race", &owner, "")),
            );
            Some(dir)
        })
        .collect();
    if dirs.len() < 2 {
        return;
    }
    // Both claims' writes are held until both are in flight, then land together.
    proxy.set_for(Target::Writes, Fault::Pause, 2);
    let outs: Vec<TerraformOutput> = std::thread::scope(|s| {
        let runs: Vec<_> = dirs.iter().map(|d| s.spawn(|| d.run(&APPLY))).collect();
        assert!(
            proxy.wait_paused_count(2, Duration::from_secs(60)),
            "both claims reached the table"
        );
        proxy.resume();
        runs.into_iter().map(|r| r.join().expect("apply")).collect()
    });
    let won: Vec<usize> = (0..2).filter(|&i| outs[i].success()).collect();
    assert_eq!(won.len(), 1, "exactly one apply holds the key");
    let lost = &outs[1 - won[0]];
    assert!(
        text(lost).contains("claim_key was used by another apply at the same moment")
            || text(lost).contains("claim_key names an alias that is held"),
        "{}",
        text(lost)
    );
    let rows = claimed_with_key(&pool, "race");
    assert_eq!(rows.len(), 1, "one claimed row for the key");
    assert_eq!(pool.claimed().len(), 1, "no orphan");
    assert_eq!(
        assert_state_holds_a_claimed_alias(&dirs[won[0]], &pool).id,
        rows[0].id
    );
    assert!(state_emails(&dirs[1 - won[0]]).is_empty());
}

/// Runs an apply of one keyed alias through `proxy`, kills its provider
/// with SIGKILL once `ready` holds, and returns the apply's output.
fn apply_and_kill(dir: &TerraformDir, ready: impl Fn() -> bool) -> TerraformOutput {
    std::thread::scope(|s| {
        let apply = s.spawn(|| dir.run(&APPLY));
        wait_until("the moment to strike", Duration::from_secs(60), &ready);
        let pid = wait_for_process(PROVIDER_EXE, dir.path(), Duration::from_secs(10))
            .expect("the provider of this apply");
        signal(pid, "KILL");
        apply.join().expect("apply")
    })
}

#[test]
fn a_claim_left_by_an_apply_killed_with_sigkill_is_recovered_by_the_next_apply() {
    let pool = Pool::in_shared_azurite("keykill", 4);
    let proxy = FaultProxy::start(&azurite::shared().endpoint());
    let Some(dir) = TerraformDir::modern() else {
        return;
    };
    dir.write(
        "main.tf",
        &(pool.provider_block_at(&proxy.endpoint(), "") + &alias_tf("killed-1", OWNER, "")),
    );
    // Killed after the claim landed and before it was handed over: the next
    // apply resumes it, with a warning.
    proxy.set_for(Target::Writes, Fault::Delay(Duration::from_secs(60)), 1);
    let out = apply_and_kill(&dir, || pool.claimed().len() == 1);
    assert!(!out.success());
    let pending = pool.claimed().remove(0);
    assert!(pending.claim_pending, "killed before the hand-over");
    proxy.clear();
    let next = dir.run_ok(&APPLY);
    assert!(
        next.warnings()
            .iter()
            .any(|w| w == "Resumed an interrupted claim"),
        "{:?}",
        next.warnings()
    );
    assert_eq!(
        assert_state_holds_a_claimed_alias(&dir, &pool).id,
        pending.id
    );
    assert_eq!(pool.claimed().len(), 1);
    dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);

    // Killed after the hand-over and before the state was saved: nobody can
    // tell this state from another, so the next apply stops and gives the
    // command that takes the alias over.
    proxy.add(Target::Writes, Fault::Pass, Some(1));
    proxy.add(
        Target::Writes,
        Fault::Delay(Duration::from_secs(60)),
        Some(1),
    );
    let out = apply_and_kill(&dir, || {
        pool.claimed().first().is_some_and(|r| !r.claim_pending)
    });
    assert!(!out.success());
    proxy.clear();
    let handed = pool.claimed().remove(0);
    assert!(state_emails(&dir).is_empty(), "the state never saw it");
    let before = pool.columns();
    let next = dir.run(&APPLY);
    assert!(!next.success());
    pool.assert_unchanged(&before, "the apply that found the handed-over claim");
    let command = format!("takeover:{}", handed.email);
    assert!(text(&next).contains(&command), "{}", text(&next));
    dir.run_ok(&["import", "-no-color", "rootmail_alias.a", &command]);
    dir.run_ok(&APPLY);
    assert_eq!(
        assert_state_holds_a_claimed_alias(&dir, &pool).id,
        handed.id
    );
    assert_eq!(pool.claimed().len(), 1);
}
