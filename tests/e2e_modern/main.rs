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

mod import;
mod ownership;

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
fn check_block_warns_when_the_pool_runs_low() {
    let pool = Pool::in_shared_azurite("check", 3);
    let Some(dir) = modern() else { return };
    let check = |min: u32| {
        pool.provider_block()
            + &include_str!("../../examples/pool-check/main.tf")
                .replace("= 50", &format!("= {min}"))
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
