//! What only Terraform 1.5+ can do, end to end against Azurite: `import`
//! blocks (with `for_each`, 1.7), `-generate-config-out`, `removed` and
//! `moved` blocks, `check` blocks and unknown values from `terraform_data`.
//! Every test compares every column of every row before and after each plan:
//! a plan never writes, only apply does.
//!
//! The modern Terraform is `ROOTMAIL_TERRAFORM_MODERN`, else a `terraform` on
//! PATH of version ≥ 1.5. Without one these tests say so and return, unless
//! `ROOTMAIL_REQUIRE_MODERN_TERRAFORM=1` (set by `.ci/run`) makes them fail.

use rootmail::store::{AliasStatus, ClaimRequest, ReleasePolicy};
use serde_json::Value as Json;
use std::collections::BTreeSet;
use testkit::pool::{legacy_claim, Pool, OWNER};
use testkit::terraform;
use testkit::terraform::{flat, TerraformDir};

const OLD_OWNER: &str = "old-pipeline@company.com";

fn modern() -> Option<TerraformDir> {
    TerraformDir::modern()
}

/// An `import` block plus the resource it imports into.
fn import_tf(pool: &Pool, id: &str) -> String {
    pool.provider_block()
        + &format!(
            "import {{\n  to = rootmail_alias.imported\n  id = \"{id}\"\n}}\n\nresource \"rootmail_alias\" \"imported\" {{\n  owner = \"{OLD_OWNER}\"\n}}\n"
        )
}

/// The `values` of the resources in `terraform show -json`, by address.
fn state_values(dir: &TerraformDir) -> std::collections::BTreeMap<String, Json> {
    let state = dir.run_ok(&["show", "-json"]).json();
    state["values"]["root_module"]["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap_or("").to_string(),
                r["values"].clone(),
            )
        })
        .collect()
}

#[test]
fn import_blocks_with_for_each_adopt_fifty_old_style_claims() {
    let pool = Pool::in_shared_azurite("migrate50", 5);
    let legacy: Vec<_> = (0..50).map(|_| legacy_claim(OLD_OWNER)).collect();
    pool.insert(&legacy);
    // A claim some other Terraform state holds (it has a token): not to be migrated.
    let other = pool
        .rt
        .block_on(pool.pool.claim(&ClaimRequest {
            owner: OLD_OWNER.into(),
            ..Default::default()
        }))
        .expect("claim");
    let Some(inventory) = modern() else { return };
    let Some(dir) = modern() else { return };

    // Step 1: the inventory, built from rootmail_aliases (reads only).
    inventory.write(
        "main.tf",
        &(pool.provider_block() + include_str!("../examples/migrating/inventory/main.tf")),
    );
    let before = pool.columns();
    inventory.run_ok(&["apply", "-auto-approve", "-no-color"]);
    pool.assert_unchanged(&before, "the inventory apply");
    let listed = inventory.run_ok(&["output", "-json", "legacy_aliases"]);
    let map: serde_json::Map<String, Json> =
        serde_json::from_str(&listed.stdout).expect("inventory output is a JSON map");
    let expected: BTreeSet<&str> = legacy.iter().map(|r| r.aws_mail.as_str()).collect();
    assert_eq!(
        map.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected,
        "the inventory lists exactly the token-less claims"
    );
    assert!(!map.contains_key(&other.alias.email));

    // Step 2: import blocks with for_each over that map.
    dir.write("legacy-aliases.json", &listed.stdout);
    dir.write(
        "main.tf",
        &(pool.provider_block() + include_str!("../examples/migrating/main.tf")),
    );
    let plan = dir.run_ok(&["plan", "-out=tfplan", "-no-color"]);
    assert!(
        plan.stdout
            .contains("Plan: 50 to import, 0 to add, 50 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    assert!(plan.warnings().is_empty(), "{:?}", plan.warnings());
    pool.assert_unchanged(&before, "a plan with 50 import blocks");

    dir.run_ok(&["apply", "-no-color", "-parallelism=10", "tfplan"]);
    let after = pool.columns();
    let values = state_values(&dir);
    assert_eq!(values.len(), 50);
    for row in &legacy {
        let stored = &after[&row.id];
        let token = stored["claim_token"].as_str().unwrap_or_default();
        assert!(!token.is_empty(), "{} was not adopted", row.aws_mail);
        assert_eq!(stored["status"], "claimed");
        assert_eq!(stored["user_mail"], OLD_OWNER);
        assert_eq!(stored["in_use"], true);
        let state = &values[&format!("rootmail_alias.migrated[\"{}\"]", row.aws_mail)];
        assert_eq!(state["claim_token"], token, "state and row share the token");
        assert_eq!(state["status"], "claimed");
    }
    for (id, row) in &before {
        if !legacy.iter().any(|l| &l.id == id) {
            assert_eq!(&after[id], row, "a row that was not migrated changed");
        }
    }

    let replan = dir.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(replan.status.code(), Some(0), "{}", replan.stdout);
    assert!(replan.warnings().is_empty(), "{:?}", replan.warnings());
    pool.assert_unchanged(&after, "the re-plan");
}

#[test]
fn generated_config_plans_only_the_import_and_the_adoption() {
    let pool = Pool::in_shared_azurite("genconfig", 2);
    let old = legacy_claim(OLD_OWNER);
    pool.insert(std::slice::from_ref(&old));
    let Some(dir) = modern() else { return };
    dir.write(
        "main.tf",
        &(pool.provider_block()
            + &format!(
                "import {{\n  to = rootmail_alias.one\n  id = \"{}\"\n}}\n",
                old.aws_mail
            )),
    );
    let before = pool.columns();
    let plan = dir.run_ok(&[
        "plan",
        "-generate-config-out=generated.tf",
        "-out=tfplan",
        "-no-color",
    ]);
    pool.assert_unchanged(&before, "plan -generate-config-out");
    let generated = std::fs::read_to_string(dir.path().join("generated.tf")).expect("generated.tf");
    assert!(
        generated.contains(&format!("owner           = \"{OLD_OWNER}\""))
            || generated.contains(OLD_OWNER),
        "{generated}"
    );
    // Config generation itself may be announced; nothing else may warn.
    let warnings: Vec<_> = plan
        .warnings()
        .into_iter()
        .filter(|w| !w.starts_with("Config generation is experimental"))
        .collect();
    assert!(warnings.is_empty(), "{warnings:?}\n{generated}");

    // The planned change is the adoption only: status, token and claim time.
    let shown = dir.run_ok(&["show", "-json", "tfplan"]).json();
    let changes = shown["resource_changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{changes:?}");
    let change = &changes[0]["change"];
    assert_eq!(change["actions"], serde_json::json!(["update"]));
    assert_eq!(change["importing"]["id"], old.aws_mail.as_str());
    let (before_v, after_v) = (&change["before"], &change["after"]);
    let differing: BTreeSet<String> = before_v
        .as_object()
        .expect("before")
        .iter()
        .filter(|(k, v)| after_v.get(k.as_str()) != Some(v))
        .map(|(k, _)| k.clone())
        .collect();
    let adoption: BTreeSet<String> = ["status", "claim_token", "claimed_at"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(
        differing.is_subset(&adoption),
        "extra changes: {differing:?}\n{generated}"
    );
    assert_eq!(before_v["status"], "unadopted");
    assert_eq!(after_v["status"], "claimed");
    assert_eq!(change["after_unknown"]["claim_token"], true);

    // Planning the generated configuration again: the same, still no warnings.
    let again = dir.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "{}\n{}",
        again.stdout,
        again.stderr
    );
    assert!(
        again
            .stdout
            .contains("Plan: 1 to import, 0 to add, 1 to change, 0 to destroy."),
        "{}",
        again.stdout
    );
    assert!(
        again.warnings().is_empty(),
        "{:?}\n{generated}",
        again.warnings()
    );
    pool.assert_unchanged(&before, "planning the generated configuration");

    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let row = pool.row(&old.id);
    assert!(row.claim_token.is_some(), "the apply adopts the alias");
    let replan = dir.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(replan.status.code(), Some(0), "{}", replan.stdout);
    assert!(replan.warnings().is_empty(), "{:?}", replan.warnings());
}

#[test]
fn import_blocks_for_free_retired_quarantined_and_unknown_aliases_fail_and_write_nothing() {
    let pool = Pool::in_shared_azurite("importbad", 3);
    let rows = pool.rows(Some(AliasStatus::Free));
    let (free, to_retire, to_quarantine) = (&rows[0], &rows[1], &rows[2]);
    pool.rt.block_on(async {
        for (row, policy) in [
            (to_retire, ReleasePolicy::Retire),
            (to_quarantine, ReleasePolicy::quarantine()),
        ] {
            let claimed = pool
                .pool
                .try_claim_alias(
                    row,
                    &ClaimRequest {
                        owner: OWNER.into(),
                        ..Default::default()
                    },
                )
                .await
                .expect("claim")
                .expect("claimed");
            pool.pool
                .release(&row.id, &claimed.claim(), policy)
                .await
                .expect("release");
        }
    });
    let Some(dir) = modern() else { return };
    let before = pool.columns();
    for (id, summary, hint) in [
        (
            free.email.clone(),
            "Alias is free",
            "add a rootmail_alias without an import",
        ),
        (
            to_retire.email.clone(),
            "Alias is retired",
            "never handed out again",
        ),
        (
            to_quarantine.email.clone(),
            "Alias is quarantined",
            "cannot be imported",
        ),
        (
            "aws_00000000-0000-4000-8000-000000000000@company.com".to_string(),
            "Alias not in the pool",
            "Check the address",
        ),
    ] {
        dir.write("main.tf", &import_tf(&pool, &id));
        let out = dir.run_err(&["plan", "-no-color"]);
        let text = flat(&out.stderr);
        assert!(
            text.contains(summary) && text.contains(hint) && text.contains("Nothing was written"),
            "{id}: {text}"
        );
        pool.assert_unchanged(&before, &format!("a plan importing {summary}"));
    }
}

#[test]
fn another_states_claim_is_refused_and_taken_over_only_when_asked_in_apply() {
    let pool = Pool::in_shared_azurite("takeover", 3);
    let Some(first) = modern() else { return };
    let Some(second) = modern() else { return };
    first.write(
        "main.tf",
        &(pool.provider_block()
            + &format!("resource \"rootmail_alias\" \"a\" {{\n  owner = \"{OWNER}\"\n}}\n")),
    );
    first.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let email = state_values(&first)["rootmail_alias.a"]["email"]
        .as_str()
        .expect("email")
        .to_string();
    let before = pool.columns();

    second.write("main.tf", &import_tf(&pool, &email));
    let refused = second.run_err(&["plan", "-no-color"]);
    let text = flat(&refused.stderr);
    assert!(
        text.contains("held by another Terraform state")
            && text.contains(&format!("takeover:{email}")),
        "{text}"
    );
    pool.assert_unchanged(&before, "a refused import");

    second.write("main.tf", &import_tf(&pool, &format!("takeover:{email}")));
    let plan = second.run(&["plan", "-detailed-exitcode", "-out=tfplan", "-no-color"]);
    assert_eq!(
        plan.status.code(),
        Some(2),
        "{}\n{}",
        plan.stdout,
        plan.stderr
    );
    assert!(
        plan.stdout
            .contains("1 to import, 0 to add, 1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.warnings()
            .iter()
            .any(|w| w.contains("Taking over another state's alias")),
        "{:?}",
        plan.warnings()
    );
    pool.assert_unchanged(&before, "a take-over plan");

    second.run_ok(&["apply", "-no-color", "tfplan"]);
    let row = pool
        .rows(Some(AliasStatus::Claimed))
        .into_iter()
        .find(|r| r.email == email)
        .expect("still claimed");
    let token = row.claim_token.expect("token");
    assert_eq!(
        state_values(&second)["rootmail_alias.imported"]["claim_token"],
        token.as_str()
    );
    assert_ne!(
        state_values(&first)["rootmail_alias.a"]["claim_token"],
        token.as_str(),
        "the first state's token no longer holds the row"
    );
    // The first state now sees the alias as gone and plans a new one.
    let drift = first.run_ok(&["plan", "-no-color"]);
    assert!(
        drift.stdout.contains("1 to add, 0 to change, 0 to destroy"),
        "{}",
        drift.stdout
    );
    assert!(
        drift
            .warnings()
            .iter()
            .any(|w| w.contains("no longer held")),
        "{:?}",
        drift.warnings()
    );
}

#[test]
fn an_alias_claimed_anew_between_plan_and_apply_is_not_adopted() {
    use rootmail::store::{TakeOverRequest, TakeOverScope};
    let pool = Pool::in_shared_azurite("planapply", 1);
    let old = legacy_claim(OLD_OWNER);
    pool.insert(std::slice::from_ref(&old));
    let Some(dir) = modern() else { return };
    dir.write("main.tf", &import_tf(&pool, &old.aws_mail));
    dir.run_ok(&["plan", "-out=tfplan", "-no-color"]);
    // Meanwhile another state adopts the same old claim.
    let other = pool
        .rt
        .block_on(pool.pool.take_over(&TakeOverRequest {
            alias_id: old.id.clone(),
            email: old.aws_mail.clone(),
            scope: TakeOverScope::Untokened,
            owner: None,
            purpose: None,
            claim_key: None,
            seen: None,
        }))
        .expect("the other state adopts it");
    let before = pool.columns();
    let out = dir.run_err(&["apply", "-no-color", "tfplan"]);
    let text = flat(&out.stderr);
    assert!(
        text.contains("Alias changed since the plan") && text.contains("Run plan again"),
        "{text}"
    );
    pool.assert_unchanged(&before, "an apply of a stale adoption");
    let row = pool.row(&old.id);
    assert_eq!(
        row.claim_token,
        Some(other.token),
        "the other state keeps it"
    );
}

#[test]
fn moved_keeps_and_removed_forgets_without_releasing() {
    let pool = Pool::in_shared_azurite("movedrm", 4);
    let Some(dir) = modern() else { return };
    let resource = |name: &str| {
        format!("resource \"rootmail_alias\" \"{name}\" {{\n  owner = \"{OWNER}\"\n}}\n")
    };
    dir.write(
        "main.tf",
        &(pool.provider_block() + &resource("a") + &resource("b")),
    );
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let applied = pool.columns();

    dir.write(
        "main.tf",
        &(pool.provider_block()
            + &resource("renamed")
            + &resource("b")
            + "moved {\n  from = rootmail_alias.a\n  to   = rootmail_alias.renamed\n}\n"),
    );
    let plan = dir.run_ok(&["plan", "-no-color"]);
    assert!(
        plan.stdout.contains("has moved to rootmail_alias.renamed")
            && plan.stdout.contains("0 to add, 0 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    pool.assert_unchanged(&applied, "a moved block");

    dir.write(
        "main.tf",
        &(pool.provider_block()
            + &resource("renamed")
            + "removed {\n  from = rootmail_alias.b\n  lifecycle {\n    destroy = false\n  }\n}\n"),
    );
    let plan = dir.run_ok(&["plan", "-no-color"]);
    assert!(
        plan.stdout
            .contains("will no longer be managed by Terraform")
            && plan.stdout.contains("0 to destroy"),
        "{}",
        plan.stdout
    );
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    pool.assert_unchanged(&applied, "a removed block with destroy = false");
    let list = dir.run_ok(&["state", "list"]);
    assert_eq!(list.stdout.trim(), "rootmail_alias.renamed");
    assert_eq!(
        pool.rows(Some(AliasStatus::Claimed)).len(),
        2,
        "nothing released"
    );
}

#[test]
fn check_block_warns_when_the_pool_runs_low() {
    let pool = Pool::in_shared_azurite("check", 3);
    let Some(dir) = modern() else { return };
    let check = |min: u32| {
        pool.provider_block()
            + &include_str!("../examples/pool-check/main.tf").replace("= 50", &format!("= {min}"))
    };
    let before = pool.columns();
    dir.write("main.tf", &check(10));
    let low = dir.run_ok(&["plan", "-no-color"]);
    assert!(
        low.warnings()
            .iter()
            .any(|w| w.contains("Check block assertion failed")),
        "{:?}\n{}",
        low.warnings(),
        low.stdout
    );
    assert!(
        flat(&format!("{}{}", low.stdout, low.stderr)).contains("claimable aliases left"),
        "{}",
        low.stdout
    );
    dir.write("main.tf", &check(2));
    let fine = dir.run_ok(&["plan", "-no-color"]);
    assert!(fine.warnings().is_empty(), "{:?}", fine.warnings());
    pool.assert_unchanged(&before, "plans with a check block");
}

#[test]
fn unknown_values_from_terraform_data_flow_through_plan_and_apply() {
    let pool = Pool::in_shared_azurite("unknowns", 3);
    let Some(dir) = modern() else { return };
    dir.write(
        "main.tf",
        &(pool.provider_block()
            + &format!(
                r#"
resource "terraform_data" "account" {{
  input = "workload-prod"
}}

resource "terraform_data" "account_id" {{
  input = "123456789012"
}}

resource "rootmail_alias" "a" {{
  owner     = "{OWNER}"
  # Unknown at plan time; "acct-" makes it a refined unknown (known prefix) in 1.6+.
  purpose   = "acct-${{terraform_data.account.output}}"
  claim_key = terraform_data.account.id
}}

resource "rootmail_alias_account" "a" {{
  email          = rootmail_alias.a.email
  aws_account_id = terraform_data.account_id.output
}}
"#
            )),
    );
    let before = pool.columns();
    let plan = dir.run_ok(&["plan", "-no-color"]);
    assert!(plan.stdout.contains("4 to add"), "{}", plan.stdout);
    pool.assert_unchanged(&before, "a plan with unknown values");
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let row = pool.rows(Some(AliasStatus::Claimed)).remove(0);
    assert_eq!(row.purpose, "acct-workload-prod");
    assert_eq!(row.aws_account_id, "123456789012");
    let values = state_values(&dir);
    assert_eq!(
        row.claim_key.as_deref(),
        values["terraform_data.account"]["id"].as_str()
    );
    let replan = dir.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(replan.status.code(), Some(0), "{}", replan.stdout);
}

#[test]
fn examples_validate_with_modern_terraform() {
    // Every example but those using the AWS provider (not installed here:
    // aws-account, resources/rootmail_alias_account, data-sources/rootmail_audit),
    // with a required_providers block where it has none.
    for example in [
        "migrating",
        "migrating/inventory",
        "pool-check",
        "quickstart",
        "minting",
        "provider",
        "resources/rootmail_alias",
        "data-sources/rootmail_alias",
        "data-sources/rootmail_aliases",
        "data-sources/rootmail_pool",
    ] {
        let Some(dir) = modern() else { return };
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(example);
        for entry in std::fs::read_dir(&src).expect("example dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "tf" || e == "json") {
                let name = path
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .to_string();
                dir.write(&name, &std::fs::read_to_string(&path).expect("read"));
            }
        }
        let all_tf: String = std::fs::read_dir(dir.path())
            .expect("work dir")
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .collect();
        if !all_tf.contains("required_providers") {
            dir.write("versions.tf", &terraform::required_providers_block());
        }
        let out = dir.run_ok(&["validate", "-no-color"]);
        assert!(
            out.stdout.contains("The configuration is valid"),
            "{example}: {}",
            out.stdout
        );
    }
}

/// examples/testing: a module's tests with the provider mocked pass with
/// `terraform test` (no table at all), and the mock defaults matter: a bare
/// `mock_provider` gives `email` a random word that the module's output
/// precondition refuses.
#[test]
fn module_tests_with_a_mocked_provider_pass_with_valid_mock_values() {
    let Some(dir) = modern() else { return };
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/testing");
    std::fs::create_dir_all(dir.path().join("tests")).expect("tests dir");
    for file in [
        "main.tf",
        "tests/mocked.tftest.hcl",
        "tests/override.tftest.hcl",
    ] {
        dir.write(
            file,
            &std::fs::read_to_string(src.join(file)).expect("read"),
        );
    }
    let out = dir.run_ok(&["test", "-no-color"]);
    assert!(
        out.stdout.contains("Success! 6 passed, 0 failed"),
        "{}",
        out.stdout
    );

    dir.write(
        "tests/bare.tftest.hcl",
        "mock_provider \"rootmail\" {}\n\nvariables {\n  account_name = \"workload-prod\"\n  owner        = \"platform-team@company.com\"\n}\n\nrun \"bare\" {}\n",
    );
    let out = dir.run(&["test", "-no-color", "-filter=tests/bare.tftest.hcl"]);
    let text = flat(&(out.stdout.clone() + &out.stderr));
    assert!(
        !out.success() && text.contains("The alias is not an e-mail address"),
        "{text}"
    );
}
