//! Ownership is the whole claim, end to end with the real terraform against
//! Azurite and a peer that behaves like the old function app: it reads a row
//! and writes it back whole, every column included (as the PowerShell AzTable
//! module's `Update-AzTableRow` does), so a row it released and handed to
//! someone else still carries this provider's claim token. A state holds an
//! alias only while the row is claimed with its token, owner and claim time
//! as last seen; anything else is "no longer held": refresh says so, and no
//! update or destroy, also with `-refresh=false`, writes to the row.

use std::collections::BTreeMap;

use rootmail::store::{AliasRow, AliasStatus};
use serde_json::{Map, Value as Json};
use testkit::pool::{Pool, OWNER};
use testkit::terraform::{Cli, TerraformDir, TerraformOutput};

const SOMEONE_ELSE: &str = "someone-else@company.com";
const NOT_HELD: &str = "Alias no longer held by this resource";

fn aliases_tf(purpose: &str) -> String {
    format!(
        r#"
resource "rootmail_alias" "a" {{
  count   = 3
  owner   = "{OWNER}"
  purpose = "{purpose}-${{count.index}}"
}}
"#
    )
}

/// The claimed rows, by the index in their purpose.
fn rows_by_index(pool: &Pool) -> Vec<AliasRow> {
    let mut rows = pool.claimed();
    rows.sort_by_key(|r| r.purpose.rsplit('-').next().unwrap_or("").to_owned());
    assert_eq!(rows.len(), 3);
    rows
}

/// (summary, detail) of every diagnostic a `-json` run reported.
fn diagnostics(out: &TerraformOutput) -> Vec<(String, String)> {
    out.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .filter(|m| m["type"] == "diagnostic")
        .map(|m| {
            let d = &m["diagnostic"];
            let text = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
            (text("summary"), text("detail"))
        })
        .collect()
}

/// The details of the diagnostics with this summary.
fn details(out: &TerraformOutput, summary: &str) -> Vec<String> {
    diagnostics(out)
        .into_iter()
        .filter(|(s, _)| s == summary)
        .map(|(_, d)| d)
        .collect()
}

fn columns(pool: &Pool, ids: &[&str]) -> BTreeMap<String, Map<String, Json>> {
    let mut all = pool.columns();
    all.retain(|k, _| ids.contains(&k.as_str()));
    all
}

#[test]
fn an_alias_the_old_function_app_handed_to_someone_else_is_never_written_by_this_state() {
    let pool = Pool::in_shared_azurite("wholeclaim", 6);
    let Some(dir) = TerraformDir::for_cli(Cli::Floor) else {
        return;
    };
    dir.write("main.tf", &(pool.provider_block() + &aliases_tf("account")));
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let rows = rows_by_index(&pool);

    // The old function app releases row 0 and hands it to someone else, and
    // releases row 1; both keep every column of ours. Row 2 stays ours.
    pool.rt.block_on(async {
        pool.raw.legacy_release(&rows[0].id).await;
        pool.raw.legacy_reissue(&rows[0].id, SOMEONE_ELSE).await;
        pool.raw.legacy_release(&rows[1].id).await;
    });
    let reissued = pool.row(&rows[0].id);
    assert_eq!(reissued.owner, SOMEONE_ELSE);
    assert_eq!(
        reissued.claim_token, rows[0].claim_token,
        "our token stayed"
    );
    assert_eq!(pool.row(&rows[1].id).status, AliasStatus::Free);
    let theirs = [rows[0].id.as_str(), rows[1].id.as_str()];
    let before = columns(&pool, &theirs);

    // Refresh: both are no longer held, and say why; a new claim is planned.
    let plan = pool.plan(&dir, &["-json"]);
    let lost = details(&plan, NOT_HELD).join("\n");
    assert!(
        lost.contains(&format!("handed to `{SOMEONE_ELSE}`")),
        "{lost}"
    );
    assert!(lost.contains("it is free now"), "{lost}");
    assert_eq!(details(&plan, NOT_HELD).len(), 2, "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains(r#""changes":{"add":2,"change":0,"remove":0"#),
        "{}",
        plan.stdout
    );

    // An update without refresh writes nothing to them (row 2 is updated).
    dir.write("main.tf", &(pool.provider_block() + &aliases_tf("renamed")));
    let update = dir.run(&["apply", "-refresh=false", "-auto-approve", "-json"]);
    assert!(!update.success(), "{}", update.stdout);
    assert_eq!(details(&update, NOT_HELD).len(), 2, "{}", update.stdout);
    assert_eq!(columns(&pool, &theirs), before, "the update wrote to them");
    assert_eq!(pool.row(&rows[2].id).purpose, "renamed-2");

    // A destroy without refresh writes nothing to them, and releases row 2.
    let destroy = dir.run_ok(&["destroy", "-refresh=false", "-auto-approve", "-json"]);
    assert_eq!(
        details(&destroy, "Alias was not released").len(),
        2,
        "{}",
        destroy.stdout
    );
    assert_eq!(columns(&pool, &theirs), before, "the destroy wrote to them");
    assert_eq!(pool.row(&rows[0].id).owner, SOMEONE_ELSE);
    assert_eq!(pool.row(&rows[2].id).status, AliasStatus::Free);
}
