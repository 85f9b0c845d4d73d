//! Refreshes of many `rootmail_alias` resources at once, end to end: the
//! real terraform runs the built provider against Azurite, Terraform reads
//! 60 aliases at `-parallelism=10` so the coalesced reads (keyed queries and
//! a snapshot of the partition) serve them, and rows changed behind
//! Terraform's back (drift, released, re-claimed with another token) are
//! reported exactly as one-by-one point reads report them. A provider that
//! outlives a run (reattached) never answers the next run from an older
//! snapshot.

use testkit::pool::{Pool, OWNER};
use testkit::terraform;

use rootmail::store::{AliasRow, AliasStatus, AliasUpdate, ReleasePolicy};
use terraform::{Cli, DebugProvider, TerraformDir, TerraformOutput};

const COUNT: usize = 60;

#[test]
fn floor_refresh_of_many_aliases_reports_changes_as_point_reads_do() {
    refresh_of_many_aliases_reports_changes_as_point_reads_do(Cli::Floor);
}

#[test]
fn modern_refresh_of_many_aliases_reports_changes_as_point_reads_do() {
    refresh_of_many_aliases_reports_changes_as_point_reads_do(Cli::Modern);
}

#[test]
fn a_reattached_provider_never_answers_a_run_from_an_earlier_runs_snapshot() {
    let pool = Pool::in_shared_azurite("reattach", COUNT + 10);
    let Some(mut dir) = TerraformDir::for_cli(Cli::Floor) else {
        return;
    };
    dir.write("main.tf", &(pool.provider_block() + &aliases_tf()));
    dir.run_ok(&["apply", "-auto-approve", "-parallelism=10", "-no-color"]);
    let provider = DebugProvider::start();
    dir.env("TF_REATTACH_PROVIDERS", provider.reattach.clone());

    // A refresh through the long-lived provider (its snapshot is fresh now).
    let plan = pool.plan(&dir, &["-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.status.code(), Some(0), "{}", plan.stdout);
    // Changed after that provider started and after its last refresh, but
    // before the next run reads it: the next plan sees it.
    let rows = held_rows(&pool);
    let changed = &rows[7];
    update_purpose(&pool, changed, "changed between two runs");
    let plan = pool.plan(&dir, &["-no-color"]);
    assert!(
        plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("changed between two runs"),
        "{}",
        plan.stdout
    );
    drop(provider);
}

fn aliases_tf() -> String {
    format!(
        r#"
resource "rootmail_alias" "a" {{
  count   = {COUNT}
  owner   = "{OWNER}"
  purpose = "account-${{count.index}}"
}}
"#
    )
}

/// The claimed rows, in the order of their `purpose` (the resource index).
fn held_rows(pool: &Pool) -> Vec<AliasRow> {
    let mut rows = pool.rows(Some(AliasStatus::Claimed));
    rows.sort_by_key(|r| {
        r.purpose
            .trim_start_matches("account-")
            .parse::<usize>()
            .unwrap_or(usize::MAX)
    });
    assert_eq!(rows.len(), COUNT);
    rows
}

fn update_purpose(pool: &Pool, row: &AliasRow, purpose: &str) {
    let claim = row.claim().expect("claimed");
    pool.rt
        .block_on(pool.pool.update(
            &row.id,
            &claim,
            &AliasUpdate {
                purpose: Some(purpose.to_owned()),
                owner: None,
                claim_key: None,
            },
        ))
        .expect("update");
}

/// What a `plan -json` reported, in a fixed order (concurrent reads finish
/// in any order): diagnostics, planned changes, drift and the summary.
fn reported(out: &TerraformOutput) -> Vec<String> {
    let mut items: Vec<String> = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|m| {
            let kind = m["type"].as_str()?.to_owned();
            match kind.as_str() {
                "diagnostic" => Some(format!(
                    "diagnostic {} {} | {} | {}",
                    m["diagnostic"]["severity"],
                    m["diagnostic"]["address"],
                    m["diagnostic"]["summary"],
                    m["diagnostic"]["detail"]
                )),
                "planned_change" | "resource_drift" => Some(format!(
                    "{kind} {} {}",
                    m["change"]["resource"]["addr"], m["change"]["action"]
                )),
                "change_summary" => Some(format!("summary {}", m["changes"])),
                _ => None,
            }
        })
        .collect();
    items.sort();
    items
}

fn refresh_of_many_aliases_reports_changes_as_point_reads_do(cli: Cli) {
    let pool = Pool::in_shared_azurite("refresh", COUNT + 10);
    let Some(mut dir) = TerraformDir::for_cli(cli) else {
        return;
    };
    dir.write("main.tf", &(pool.provider_block() + &aliases_tf()));
    dir.run_ok(&["apply", "-auto-approve", "-parallelism=10", "-no-color"]);

    // Nothing changed: the coalesced refresh finds every alias as it is.
    let plan = pool.plan(
        &dir,
        &["-detailed-exitcode", "-parallelism=10", "-no-color"],
    );
    plan.assert_code(0);
    assert!(
        dir.log().contains("took a snapshot of the partition"),
        "the refresh did not go through the coalesced path"
    );

    // Behind Terraform's back: drift in one row, one released, one
    // re-claimed by somebody else (another claim token).
    let rows = held_rows(&pool);
    update_purpose(&pool, &rows[3], "changed by hand");
    let released = &rows[20];
    pool.rt
        .block_on(pool.pool.release(
            &released.id,
            &released.claim().expect("claimed"),
            ReleasePolicy::Release,
        ))
        .expect("release");
    let reclaimed = &rows[41];
    let raw = &pool.raw;
    pool.rt.block_on(async {
        let (_, etag) = raw.get(&reclaimed.id).await.expect("row");
        let body = serde_json::json!({
            "claim_token": uuid::Uuid::new_v4().to_string(),
            "user_mail": "someone-else@company.com",
        });
        assert!(raw.merge_if_match(&reclaimed.id, &body, &etag).await);
    });

    let coalesced = pool.plan(&dir, &["-parallelism=10", "-json"]);
    assert!(coalesced.success(), "{}", coalesced.stderr);
    let report = reported(&coalesced);
    let text = report.join("\n");
    assert!(
        report.iter().any(|l| l.starts_with("summary")
            && l.contains("\"add\":2")
            && l.contains("\"change\":1")
            && l.contains("\"remove\":0")),
        "{text}"
    );
    assert!(
        report.contains(&"planned_change \"rootmail_alias.a[3]\" \"update\"".to_owned()),
        "{text}"
    );
    for (gone, index) in [(released, 20), (reclaimed, 41)] {
        assert!(
            report
                .iter()
                .any(|l| l.contains(&format!("rootmail_alias.a[{index}]"))
                    && l.contains(&format!(
                        "The alias {} is no longer held by this resource",
                        gone.email
                    ))),
            "no warning for {}:\n{text}",
            gone.email
        );
    }

    // The same plan with every refresh a point read of its own says the same.
    dir.env("ROOTMAIL_READ_BATCHING", "off");
    let one_by_one = pool.plan(&dir, &["-parallelism=10", "-json"]);
    assert_eq!(report, reported(&one_by_one));

    // And the apply that follows claims new aliases for the two lost ones.
    dir.env("ROOTMAIL_READ_BATCHING", "on");
    dir.run_ok(&["apply", "-auto-approve", "-parallelism=10", "-no-color"]);
    let now = pool.rows(Some(AliasStatus::Claimed));
    assert_eq!(now.iter().filter(|r| r.owner == OWNER).count(), COUNT);
    let plan = pool.plan(
        &dir,
        &["-detailed-exitcode", "-parallelism=10", "-no-color"],
    );
    assert_eq!(plan.status.code(), Some(0), "{}", plan.stdout);
}
