//! The provider end to end: the real terraform runs the built provider binary
//! against a real Azurite. Each test has its own table and runs twice: with
//! Terraform 1.0.3 (the floor) and with a modern Terraform (≥ 1.5).

use rootmail::store::AliasStatus;
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use testkit::on_both_terraforms;
use testkit::pool::{legacy_claim, Pool, LEGACY_COLUMNS, MAILBOX, OWNER};
use testkit::terraform::{Cli, TerraformDir};
use testkit::{azurite, terraform};

/// The legacy columns of every row, which destroy must bring back exactly.
fn legacy_columns(
    snap: &BTreeMap<String, Map<String, Json>>,
) -> BTreeMap<String, Vec<(String, Json)>> {
    snap.iter()
        .map(|(k, row)| {
            (
                k.clone(),
                LEGACY_COLUMNS
                    .iter()
                    .map(|c| (c.to_string(), row.get(*c).cloned().unwrap_or(Json::Null)))
                    .collect(),
            )
        })
        .collect()
}

on_both_terraforms!(
    twenty_aliases_apply_replan_update_and_destroy,
    two_terraform_processes_never_share_an_alias,
    import_reads_and_the_apply_adopts_an_old_style_claim,
    released_behind_terraforms_back_is_planned_again,
    link_and_data_sources_show_what_the_table_holds,
    exhausted_pool_fails_clearly_and_keeps_what_was_claimed,
    bad_configuration_gets_diagnostics_on_the_attribute,
    a_state_written_before_status_existed_still_plans_and_applies,
    private_state_never_changes_on_refresh,
);

fn aliases_tf(count: usize, owner: &str) -> String {
    format!(
        r#"
resource "rootmail_alias" "a" {{
  count   = {count}
  owner   = "{owner}"
  purpose = "account-${{count.index}}"
}}

output "emails" {{
  value = rootmail_alias.a[*].email
}}
"#
    )
}

fn emails(dir: &TerraformDir) -> Vec<String> {
    let out = dir.run_ok(&["output", "-json", "emails"]);
    serde_json::from_str::<Vec<String>>(out.stdout.trim()).expect("emails output")
}

fn twenty_aliases_apply_replan_update_and_destroy(cli: Cli) {
    let pool = Pool::in_shared_azurite("twenty", 30);
    let before = pool.columns();
    let Some(dir) = TerraformDir::for_cli(cli) else {
        return;
    };
    dir.write("main.tf", &(pool.provider_block() + &aliases_tf(20, OWNER)));

    dir.run_ok(&["apply", "-auto-approve", "-parallelism=10", "-no-color"]);
    let got = emails(&dir);
    assert_eq!(got.len(), 20);
    assert_eq!(
        got.iter().collect::<BTreeSet<_>>().len(),
        20,
        "duplicate alias handed out: {got:?}"
    );
    let claimed = pool.rows(Some(AliasStatus::Claimed));
    assert_eq!(claimed.len(), 20);
    for row in &claimed {
        assert_eq!(row.owner, OWNER);
        assert!(
            row.purpose.starts_with("account-"),
            "purpose {:?}",
            row.purpose
        );
        assert!(row.in_use);
        assert!(got.contains(&row.email));
    }

    // A plain re-plan changes nothing (exit code 0 with -detailed-exitcode).
    let plan = pool.plan(&dir, &["-detailed-exitcode", "-no-color"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "re-plan shows changes:\n{}",
        plan.stdout
    );

    // Changing the owner is an in-place update of every alias.
    dir.write(
        "main.tf",
        &(pool.provider_block() + &aliases_tf(20, "new-owner@company.com")),
    );
    let plan = pool.plan(&dir, &["-no-color"]);
    assert!(
        plan.stdout.contains("0 to add, 20 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    dir.run_ok(&["apply", "-auto-approve", "-parallelism=10", "-no-color"]);
    assert_eq!(
        emails(&dir),
        got,
        "an owner change must keep the same aliases"
    );
    assert!(pool
        .rows(Some(AliasStatus::Claimed))
        .iter()
        .all(|r| r.owner == "new-owner@company.com"));

    dir.run_ok(&["destroy", "-auto-approve", "-parallelism=10", "-no-color"]);
    assert_eq!(pool.rows(Some(AliasStatus::Free)).len(), 30);
    assert_eq!(legacy_columns(&pool.columns()), legacy_columns(&before));
}

fn two_terraform_processes_never_share_an_alias(cli: Cli) {
    let pool = Pool::in_shared_azurite("twoproc", 24);
    let Some(dirs) = (0..2)
        .map(|_| {
            let d = TerraformDir::for_cli(cli)?;
            d.write("main.tf", &(pool.provider_block() + &aliases_tf(12, OWNER)));
            Some(d)
        })
        .collect::<Option<Vec<TerraformDir>>>()
    else {
        return;
    };
    std::thread::scope(|s| {
        for d in &dirs {
            s.spawn(move || d.run_ok(&["apply", "-auto-approve", "-parallelism=10", "-no-color"]));
        }
    });
    let all: Vec<String> = dirs.iter().flat_map(emails).collect();
    assert_eq!(all.len(), 24);
    assert_eq!(
        all.iter().collect::<BTreeSet<_>>().len(),
        24,
        "an alias was handed out twice"
    );
    assert!(pool.rows(Some(AliasStatus::Free)).is_empty());
}

fn import_reads_and_the_apply_adopts_an_old_style_claim(cli: Cli) {
    let pool = Pool::in_shared_azurite("import", 3);
    // A row claimed by the old function app: in_use, user_mail, no token.
    let old = legacy_claim(OWNER);
    pool.insert(std::slice::from_ref(&old));
    let Some(dir) = TerraformDir::for_cli(cli) else {
        return;
    };
    dir.write(
        "main.tf",
        &(pool.provider_block()
            + &format!("resource \"rootmail_alias\" \"old\" {{\n  owner = \"{OWNER}\"\n}}\n")),
    );
    let before = pool.columns();
    dir.run_ok(&["import", "-no-color", "rootmail_alias.old", &old.aws_mail]);
    pool.assert_unchanged(&before, "terraform import");

    // The plan shows the adoption as an in-place update, and writes nothing.
    let plan = pool.plan(&dir, &["-detailed-exitcode", "-no-color"]);
    plan.assert_code(2);
    assert!(
        plan.stdout.contains("0 to add, 1 to change, 0 to destroy")
            && plan.stdout.contains(r#"~ status"#)
            && plan.stdout.contains(r#""unadopted" -> "claimed""#),
        "{}",
        plan.stdout
    );
    assert!(plan.warnings().is_empty(), "{:?}", plan.warnings());
    pool.assert_unchanged(&before, "terraform plan after import");

    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let row = pool.row(&old.id);
    let token = row
        .claim_token
        .clone()
        .expect("the apply writes a claim token");
    assert_eq!(row.owner, OWNER);
    let state = dir.run_ok(&["show", "-json"]).json();
    let values = &state["values"]["root_module"]["resources"][0]["values"];
    assert_eq!(
        values["claim_token"],
        token.as_str(),
        "state holds the row's token"
    );
    assert_eq!(values["status"], "claimed");

    let replan = pool.plan(&dir, &["-detailed-exitcode", "-no-color"]);
    assert_eq!(replan.status.code(), Some(0), "{}", replan.stdout);
    assert!(replan.warnings().is_empty(), "{:?}", replan.warnings());

    // Importing something that is not an e-mail is a clear error.
    let Some(dir2) = TerraformDir::for_cli(cli) else {
        return;
    };
    dir2.write(
        "main.tf",
        &(pool.provider_block() + "resource \"rootmail_alias\" \"x\" {\n  owner = \"a@b.co\"\n}\n"),
    );
    let bad = dir2.run_err(&["import", "-no-color", "rootmail_alias.x", "not-an-email"]);
    assert!(bad.stderr.contains("Invalid import ID"), "{}", bad.stderr);

    // A free alias is not imported (that would claim it without any apply).
    let free = pool.rows(Some(AliasStatus::Free)).remove(0);
    let before = pool.columns();
    let refused = dir2.run_err(&["import", "-no-color", "rootmail_alias.x", &free.email]);
    let text = terraform::flat(&refused.stderr);
    assert!(
        text.contains("Alias is free") && text.contains("Nothing was written"),
        "{}",
        refused.stderr
    );
    // Nor one that another state holds (the token of `old` is ours now).
    let held = dir2.run_err(&["import", "-no-color", "rootmail_alias.x", &old.aws_mail]);
    let text = terraform::flat(&held.stderr);
    assert!(
        text.contains("held by another Terraform state")
            && text.contains(&format!("takeover:{}", old.aws_mail)),
        "{}",
        held.stderr
    );
    pool.assert_unchanged(&before, "refused imports");
}

fn released_behind_terraforms_back_is_planned_again(cli: Cli) {
    let pool = Pool::in_shared_azurite("drift", 3);
    let Some(dir) = TerraformDir::for_cli(cli) else {
        return;
    };
    dir.write("main.tf", &(pool.provider_block() + &aliases_tf(1, OWNER)));
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let email = emails(&dir).remove(0);
    let row = pool.rows(Some(AliasStatus::Claimed)).remove(0);
    let claim = row.claim().expect("claimed");
    pool.rt
        .block_on(
            pool.pool
                .release(&row.id, &claim, rootmail::store::ReleasePolicy::Release),
        )
        .expect("release");
    let plan = pool.plan(&dir, &["-no-color"]);
    assert!(
        plan.stdout.contains("1 to add, 0 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("no longer held") || plan.stderr.contains("no longer held"),
        "warning missing:\n{}\n{}",
        plan.stdout,
        plan.stderr
    );
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(pool.rows(Some(AliasStatus::Claimed)).len(), 1);
    let _ = email;
}

fn link_and_data_sources_show_what_the_table_holds(cli: Cli) {
    let pool = Pool::in_shared_azurite("link", 5);
    let Some(dir) = TerraformDir::for_cli(cli) else {
        return;
    };
    let tf = |account: &str| {
        pool.provider_block()
            + &format!(
                r#"
resource "rootmail_alias" "a" {{
  owner   = "{OWNER}"
  purpose = "workload"
}}

resource "rootmail_alias_account" "a" {{
  email          = rootmail_alias.a.email
  aws_account_id = "{account}"
}}

data "rootmail_alias" "by_account" {{
  aws_account_id = rootmail_alias_account.a.aws_account_id
}}

data "rootmail_aliases" "claimed" {{
  status     = "claimed"
  depends_on = [rootmail_alias_account.a]
}}

data "rootmail_pool" "all" {{
  depends_on = [rootmail_alias_account.a]
}}

output "found" {{
  value = data.rootmail_alias.by_account.email
}}
output "used_by" {{
  value = data.rootmail_alias.by_account.used_by_aws_account_id
}}
output "email" {{
  value = rootmail_alias.a.email
}}
output "claimed" {{
  value = [for a in data.rootmail_aliases.claimed.aliases : a.email]
}}
output "free" {{
  value = data.rootmail_pool.all.free
}}
output "per_mailbox_total" {{
  value = data.rootmail_pool.all.per_mailbox["{MAILBOX}"].total
}}
"#
            )
    };
    dir.write("main.tf", &tf("123456789012"));
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let out = |name: &str| -> Json {
        serde_json::from_str(dir.run_ok(&["output", "-json", name]).stdout.trim()).expect("json")
    };
    let email = out("email");
    assert_eq!(out("found"), email);
    assert_eq!(out("used_by"), Json::from("123456789012"));
    assert_eq!(out("claimed"), Json::Array(vec![email.clone()]));
    assert_eq!(out("free"), Json::from(4));
    assert_eq!(out("per_mailbox_total"), Json::from(5));
    let row = pool.rows(Some(AliasStatus::Claimed)).remove(0);
    assert_eq!(row.aws_account_id, "123456789012");

    // Moving the link to another account updates the row.
    dir.write("main.tf", &tf("210987654321"));
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(
        pool.rows(Some(AliasStatus::Claimed))
            .remove(0)
            .aws_account_id,
        "210987654321"
    );

    // A malformed account id is refused at plan time, naming the attribute.
    dir.write("main.tf", &tf("12345"));
    let bad = pool.plan(&dir, &["-no-color"]);
    assert!(!bad.success());
    assert!(
        bad.stderr.contains("Invalid AWS account id") && bad.stderr.contains("aws_account_id"),
        "{}",
        bad.stderr
    );

    dir.write("main.tf", &tf("210987654321"));
    dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
    // Every link is gone; the alias an account used is retired (AWS never
    // frees a root address), the others are free.
    let rows = pool.rows(None);
    assert!(rows.iter().all(|r| r.aws_account_id.is_empty()));
    let used: Vec<_> = rows.iter().filter(|r| r.in_use).collect();
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].email, email.as_str().unwrap_or_default());
    assert_eq!(used[0].status, AliasStatus::Retired);
    assert_eq!(used[0].used_by, "210987654321");
}

fn exhausted_pool_fails_clearly_and_keeps_what_was_claimed(cli: Cli) {
    let pool = Pool::in_shared_azurite("exhaust", 5);
    let Some(dir) = TerraformDir::for_cli(cli) else {
        return;
    };
    dir.write("main.tf", &(pool.provider_block() + &aliases_tf(8, OWNER)));
    let out = dir.run_err(&["apply", "-auto-approve", "-parallelism=4", "-no-color"]);
    assert!(
        out.stderr.contains("Alias pool exhausted"),
        "{}",
        out.stderr
    );
    let list = dir.run_ok(&["state", "list"]);
    let in_state = list
        .stdout
        .lines()
        .filter(|l| l.starts_with("rootmail_alias.a["))
        .count();
    assert_eq!(
        in_state, 5,
        "every claimed alias must be in state:\n{}",
        list.stdout
    );
    assert!(pool.rows(Some(AliasStatus::Free)).is_empty());
}

fn bad_configuration_gets_diagnostics_on_the_attribute(cli: Cli) {
    let pool = Pool::in_shared_azurite("badcfg", 1);
    let Some(dir) = TerraformDir::for_cli(cli) else {
        return;
    };
    let cases = [
        ("owner = \"not-an-email\"", "Invalid e-mail address"),
        ("owner = \"\"", "Invalid e-mail address"),
        (
            "owner = \"a@b.co\"\n  on_destroy = \"shred\"",
            "Invalid value",
        ),
        (
            "owner = \"a@b.co\"\n  quarantine_days = 0",
            "Invalid number",
        ),
        (
            "owner = \"a@b.co\"\n  purpose = \"line\\nbreak\"",
            "Control characters",
        ),
        (
            "owner = \"' or in_use eq false or '@x.com\"",
            "Invalid e-mail address",
        ),
    ];
    for (body, expected) in cases {
        dir.write(
            "main.tf",
            &(pool.provider_block()
                + &format!("resource \"rootmail_alias\" \"x\" {{\n  {body}\n}}\n")),
        );
        let out = pool.plan(&dir, &["-no-color"]);
        assert!(!out.success());
        assert!(
            out.stderr.contains(expected),
            "{body}: expected {expected:?} in\n{}",
            out.stderr
        );
    }
    // Contradictory authentication in the provider block.
    dir.write(
        "main.tf",
        &format!(
            "{}\nprovider \"rootmail\" {{\n  endpoint = \"{}\"\n  use_emulator = true\n  access_key = \"c2VjcmV0\"\n}}\nresource \"rootmail_alias\" \"x\" {{\n  owner = \"a@b.co\"\n}}\n",
            terraform::required_providers_block(),
            azurite::shared().endpoint()
        ),
    );
    let out = pool.plan(&dir, &["-no-color"]);
    assert!(!out.success());
    assert!(
        out.stderr.contains("Conflicting authentication settings"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("c2VjcmV0"),
        "a secret leaked into a diagnostic"
    );
    assert_eq!(
        pool.rows(Some(AliasStatus::Free)).len(),
        1,
        "no row may change"
    );
}

/// States written by earlier versions have no `status`; an update planned
/// without a refresh must still apply consistently.
fn a_state_written_before_status_existed_still_plans_and_applies(cli: Cli) {
    let pool = Pool::in_shared_azurite("oldstate", 2);
    let Some(dir) = TerraformDir::for_cli(cli) else {
        return;
    };
    dir.write("main.tf", &(pool.provider_block() + &aliases_tf(1, OWNER)));
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let path = dir.path().join("terraform.tfstate");
    let mut state: Json =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("state")).expect("json");
    for instance in state["resources"][0]["instances"]
        .as_array_mut()
        .expect("instances")
    {
        instance["attributes"]
            .as_object_mut()
            .expect("attributes")
            .remove("status");
    }
    std::fs::write(&path, state.to_string()).expect("write state");

    dir.write(
        "main.tf",
        &(pool.provider_block() + &aliases_tf(1, "new-owner@company.com")),
    );
    dir.run_ok(&["apply", "-auto-approve", "-refresh=false", "-no-color"]);
    let row = pool.rows(Some(AliasStatus::Claimed)).remove(0);
    assert_eq!(row.owner, "new-owner@company.com");
    let replan = pool.plan(&dir, &["-detailed-exitcode", "-no-color"]);
    assert_eq!(replan.status.code(), Some(0), "{}", replan.stdout);
}

/// The private state Terraform saved for the only resource instance, as JSON.
fn saved_private(dir: &TerraformDir) -> Json {
    use base64::Engine;
    let text = std::fs::read_to_string(dir.path().join("terraform.tfstate")).expect("state file");
    let state: Json = serde_json::from_str(&text).expect("state JSON");
    let encoded = state["resources"][0]["instances"][0]["private"]
        .as_str()
        .unwrap_or_else(|| panic!("no private state saved:\n{text}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("private state is base64");
    serde_json::from_slice(&bytes).expect("private state is JSON")
}

fn private_state_never_changes_on_refresh(cli: Cli) {
    let pool = Pool::in_shared_azurite("private", 2);
    let Some(dir) = TerraformDir::for_cli(cli) else {
        return;
    };
    dir.write("main.tf", &(pool.provider_block() + &aliases_tf(1, OWNER)));
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let claimed = pool.rows(Some(AliasStatus::Claimed)).remove(0);
    let created = saved_private(&dir);
    assert_eq!(
        created["etag"].as_str(),
        Some(claimed.etag()),
        "create keeps the ETag of the row it wrote"
    );

    // The row is written behind Terraform's back (a link), which changes
    // nothing the alias's state shows: a refresh leaves the state, private
    // state included, exactly as it was (Terraform counts a changed private
    // state as a change: drift jobs would alarm).
    pool.rt
        .block_on(pool.pool.link_account(
            &rootmail::store::LinkTarget::Email(claimed.email.clone()),
            "123456789012",
        ))
        .expect("link");
    let linked = pool.rows(Some(AliasStatus::Claimed)).remove(0);
    assert_ne!(linked.etag(), claimed.etag());
    let before = std::fs::read_to_string(dir.path().join("terraform.tfstate")).expect("state");
    dir.run_ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    assert_eq!(saved_private(&dir), created);
    let after = std::fs::read_to_string(dir.path().join("terraform.tfstate")).expect("state");
    assert_eq!(after, before, "nothing to store");

    // A destroy without a refresh reads the row as it is now: the link
    // made since is seen, and the alias an account used is retired.
    dir.run_ok(&["destroy", "-refresh=false", "-auto-approve", "-no-color"]);
    let row = pool.row(&claimed.id);
    assert_eq!(row.status, AliasStatus::Retired);
    assert_eq!(row.used_by, "123456789012");
}
