//! AWS's root e-mail rules in the alias lifecycle, end to end: the real
//! terraform runs the built provider against Azurite. A used alias is retired
//! on destroy (even though Terraform destroys the link first), a never-used
//! one is released, a claim never hands out a used alias or an address AWS
//! refuses, an explicit `release` of a used alias warns at plan time, state
//! written by the previous schema keeps working, and e-mail lookups ignore case.

use rootmail::store::{AliasStatus, LegacyRow};
use serde_json::Value as Json;
use testkit::cli::rootmail_on;
use testkit::pool::{Pool, MAILBOX, OWNER};
use testkit::table_tool;
use testkit::terraform::TerraformDir;

const ACCOUNT: &str = "123456789012";

/// Two aliases; `used` is linked to an account, `spare` is not.
fn two_aliases_tf(pool: &Pool, on_destroy: Option<&str>, linked: bool) -> String {
    let policy = on_destroy
        .map(|p| format!("  on_destroy = \"{p}\"\n"))
        .unwrap_or_default();
    let link = if linked {
        format!(
            r#"
resource "rootmail_alias_account" "used" {{
  email          = rootmail_alias.used.email
  aws_account_id = "{ACCOUNT}"
}}
"#
        )
    } else {
        String::new()
    };
    pool.provider_block()
        + &format!(
            r#"
resource "rootmail_alias" "used" {{
  owner   = "{OWNER}"
  purpose = "used"
{policy}}}

resource "rootmail_alias" "spare" {{
  owner   = "{OWNER}"
  purpose = "spare"
}}
{link}
output "used" {{
  value = rootmail_alias.used.email
}}
output "spare" {{
  value = rootmail_alias.spare.email
}}
"#
        )
}

fn output(dir: &TerraformDir, name: &str) -> String {
    let out = dir.run_ok(&["output", "-json", name]);
    serde_json::from_str::<String>(out.stdout.trim()).expect("string output")
}

fn row_by_email(pool: &Pool, email: &str) -> rootmail::store::AliasRow {
    pool.rows(None)
        .into_iter()
        .find(|r| r.email == email)
        .unwrap_or_else(|| panic!("no row {email}"))
}

#[test]
fn used_alias_is_retired_and_unused_one_released_on_destroy() {
    let pool = Pool::in_shared_azurite("awsdestroy", 3);
    let before = pool.snapshot();
    let dir = TerraformDir::new();
    dir.write("main.tf", &two_aliases_tf(&pool, None, true));
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let used = output(&dir, "used");
    let spare = output(&dir, "spare");
    let row = row_by_email(&pool, &used);
    assert_eq!(row.aws_account_id, ACCOUNT);
    assert_eq!(row.used_by, ACCOUNT, "linking records the use");

    // Terraform destroys the link first (it depends on the alias): the
    // recorded use survives the unlink and decides the alias's fate.
    let out = dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
    let order: Vec<usize> = [
        "rootmail_alias_account.used: Destruction complete",
        "rootmail_alias.used: Destruction complete",
    ]
    .iter()
    .map(|m| {
        out.stdout
            .find(m)
            .unwrap_or_else(|| panic!("{m} in\n{}", out.stdout))
    })
    .collect();
    assert!(order[0] < order[1], "the link goes first:\n{}", out.stdout);

    let retired = row_by_email(&pool, &used);
    assert_eq!(retired.status, AliasStatus::Retired);
    assert!(retired.in_use, "older tools must never hand it out");
    assert_eq!(retired.aws_account_id, "", "the link itself is gone");
    assert_eq!(retired.used_by, ACCOUNT);
    assert!(
        retired.retired_reason.contains(ACCOUNT),
        "the row says why: {:?}",
        retired.retired_reason
    );
    assert!(retired.claim_token.is_none());
    // `rootmail alias show` tells who used it and why it is retired.
    let shown = rootmail_on(&pool.endpoint, &pool.table)
        .args(["alias", "show", &used])
        .output()
        .expect("run rootmail");
    let text = String::from_utf8_lossy(&shown.stdout);
    let line = |label: &str| text.lines().find(|l| l.starts_with(label)).unwrap_or("");
    assert!(line("used by:").contains(ACCOUNT), "{text}");
    assert!(line("retired:").contains("AWS never frees"), "{text}");

    // The never-used alias is exactly the legacy row it was.
    let spare_row = row_by_email(&pool, &spare);
    assert_eq!(spare_row.status, AliasStatus::Free);
    let after = pool.snapshot();
    assert_eq!(
        after.get(&spare_row.id).map(strip_timestamp),
        before.get(&spare_row.id).map(strip_timestamp),
        "a never-used alias goes back unchanged"
    );

    // A new claim never gets the retired alias.
    let dir2 = TerraformDir::new();
    dir2.write("main.tf", &two_aliases_tf(&pool, None, false));
    dir2.run_ok(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(output(&dir2, "used"), used);
    assert_ne!(output(&dir2, "spare"), used);
    dir2.run_ok(&["destroy", "-auto-approve", "-no-color"]);
}

fn strip_timestamp(row: &table_tool::Row) -> table_tool::Row {
    let mut r = row.clone();
    r.retain(|k, _| !k.starts_with("Timestamp") && !k.starts_with("odata."));
    r
}

#[test]
fn explicit_release_of_a_used_alias_warns_at_plan_time_and_does_it() {
    let pool = Pool::in_shared_azurite("awswarn", 2);
    let dir = TerraformDir::new();
    dir.write("main.tf", &two_aliases_tf(&pool, None, true));
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let used = output(&dir, "used");

    dir.write("main.tf", &two_aliases_tf(&pool, Some("release"), true));
    let plan = dir.run_ok(&["plan", "-no-color"]);
    // Terraform wraps diagnostics in a box: read them as one line of words.
    let text = format!("{}{}", plan.stdout, plan.stderr)
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("on_destroy = \"release\" on an alias AWS account 123456789012 used"),
        "{text}"
    );
    assert!(
        text.contains("AWS never frees a root e-mail address"),
        "{text}"
    );
    assert!(text.contains(&used), "the warning names the alias:\n{text}");
    // The spare alias was never used: no warning about it.
    assert_eq!(
        text.matches("on_destroy = \"release\" on an alias").count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("on_destroy") && text.contains("update in-place"),
        "{text}"
    );

    // Told to release: the alias goes back to the pool, as configured.
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    // A modern Terraform plans destroys through the provider too: the
    // destroy plan warns as well.
    if let Some(modern) = TerraformDir::modern() {
        modern.write("main.tf", &two_aliases_tf(&pool, Some("release"), true));
        std::fs::copy(
            dir.path().join("terraform.tfstate"),
            modern.path().join("terraform.tfstate"),
        )
        .expect("copy state");
        let plan = modern.run_ok(&["plan", "-destroy", "-no-color"]);
        let text = format!("{}{}", plan.stdout, plan.stderr)
            .replace('│', " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            text.contains("on_destroy = \"release\" on an alias AWS account 123456789012 used"),
            "{text}"
        );
    }
    dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
    let row = row_by_email(&pool, &used);
    assert_eq!(row.status, AliasStatus::Free);
    assert_eq!(row.used_by, "123456789012", "the use stays on record");
    assert_eq!(
        row.used_by_account(),
        None,
        "released as told: that account's e-mail was changed, the address is free again"
    );
}

#[test]
fn a_pool_whose_only_free_aliases_are_used_or_invalid_is_exhausted() {
    let pool = Pool::in_shared_azurite("awsexhaust", 0);
    // An old-style row freed by an older tool without clearing the account,
    // and a free row whose address AWS refuses.
    let mut used = LegacyRow::free(MAILBOX, "company.com");
    used.aws_account_id = ACCOUNT.into();
    let mut bad = LegacyRow::free(MAILBOX, "company.com");
    bad.aws_mail = "root(old)@company.com".into();
    pool.rt.block_on(async {
        pool.pool.insert_legacy_row(&used).await.expect("insert");
        pool.pool.insert_legacy_row(&bad).await.expect("insert");
    });
    let before = pool.snapshot();
    let dir = TerraformDir::new();
    dir.write(
        "main.tf",
        &(pool.provider_block()
            + &format!(
                "resource \"rootmail_alias\" \"a\" {{\n  owner = \"{OWNER}\"\n}}\n\
                 data \"rootmail_pool\" \"p\" {{}}\n\
                 output \"free\" {{\n  value = data.rootmail_pool.p.free\n}}\n\
                 output \"unusable\" {{\n  value = data.rootmail_pool.p.unusable\n}}\n"
            )),
    );
    let out = dir.run_err(&["apply", "-auto-approve", "-no-color"]);
    assert!(
        out.stderr.contains("Alias pool exhausted"),
        "{}",
        out.stderr
    );
    assert_eq!(pool.snapshot(), before, "nothing was handed out");
    let log = dir.log();
    assert!(
        log.contains("claim skipped an alias") && log.contains("AWS never frees"),
        "the skip is logged"
    );
    // The pool data source does not count them as free.
    dir.write(
        "main.tf",
        &(pool.provider_block()
            + "data \"rootmail_pool\" \"p\" {}\n\
               output \"free\" {\n  value = data.rootmail_pool.p.free\n}\n\
               output \"unusable\" {\n  value = data.rootmail_pool.p.unusable\n}\n"),
    );
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let num = |name: &str| -> Json {
        serde_json::from_str(dir.run_ok(&["output", "-json", name]).stdout.trim()).expect("json")
    };
    assert_eq!(num("free"), Json::from(0));
    assert_eq!(num("unusable"), Json::from(2));

    // The CLI counts the same rows the same way: its table, its JSON, its
    // `--min-free` check and its listing.
    let cli = |args: &[&str]| {
        let out = rootmail_on(&pool.endpoint, &pool.table)
            .args(args)
            .output()
            .expect("run rootmail");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, stats, _) = cli(&["pool", "stats", "--json"]);
    assert_eq!(code, Some(0));
    let stats: Json = serde_json::from_str(&stats).expect("json");
    for name in ["free", "unusable"] {
        assert_eq!(stats["total"][name], num(name), "{name}: {stats}");
    }
    assert_eq!(stats["total"]["claimable"], Json::from(0), "{stats}");
    let (_, table, _) = cli(&["pool", "stats"]);
    let total: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("TOTAL"))
        .expect("TOTAL line")
        .split_whitespace()
        .collect();
    // TOTAL CLAIMABLE FREE UNUSABLE ...
    assert_eq!(total[1..5], ["2", "0", "0", "2"], "{table}");
    let (code, _, alert) = cli(&["pool", "stats", "--min-free", "1"]);
    assert_eq!(code, Some(2), "{alert}");
    assert!(alert.contains("only 0 claimable"), "{alert}");
    let (_, free, _) = cli(&["pool", "list", "--status", "free", "--json"]);
    assert_eq!(free.trim(), "[]", "unusable rows are not listed as free");
    let (_, unusable, _) = cli(&["pool", "list", "--status", "unusable", "--json"]);
    let unusable: Json = serde_json::from_str(&unusable).expect("json");
    let reasons: Vec<&str> = unusable
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["unusable_reason"].as_str().expect("a reason"))
        .collect();
    assert_eq!(reasons.len(), 2, "{unusable}");
    assert!(
        reasons.iter().any(|r| r.contains(ACCOUNT)) && reasons.iter().any(|r| r.contains("`(`")),
        "{reasons:?}"
    );
    let (_, listing, _) = cli(&["pool", "list"]);
    assert_eq!(
        listing.lines().filter(|l| l.contains(" unusable ")).count(),
        2,
        "{listing}"
    );
}

#[test]
fn state_of_the_previous_schema_keeps_working() {
    let pool = Pool::in_shared_azurite("awsupgrade", 2);
    let dir = TerraformDir::new();
    let config = |on_destroy: &str| {
        pool.provider_block()
            + &format!(
                "resource \"rootmail_alias\" \"a\" {{\n  owner = \"{OWNER}\"\n{on_destroy}}}\n"
            )
    };
    dir.write("main.tf", &config(""));
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    // Rewrite the state as the previous release wrote it: schema version 0,
    // `on_destroy = "release"` (its default), no `used_by_aws_account_id`.
    let state_path = dir.path().join("terraform.tfstate");
    let mut state: Json =
        serde_json::from_str(&std::fs::read_to_string(&state_path).expect("state")).expect("json");
    let instance = &mut state["resources"][0]["instances"][0];
    instance["schema_version"] = Json::from(0);
    let attrs = instance["attributes"].as_object_mut().expect("attributes");
    attrs.insert("on_destroy".into(), Json::from("release"));
    attrs.remove("used_by_aws_account_id");
    state["serial"] = Json::from(state["serial"].as_i64().unwrap_or(1) + 1);
    std::fs::write(
        &state_path,
        serde_json::to_string_pretty(&state).expect("json"),
    )
    .expect("write state");

    // Default configuration: nothing to do (the state takes the new default).
    let plan = dir.run(&["plan", "-detailed-exitcode", "-no-color"]);
    plan.assert_code(0);
    // A configuration that says "release": only an in-place change of it.
    dir.write("main.tf", &config("  on_destroy = \"release\"\n"));
    let plan = dir.run(&["plan", "-detailed-exitcode", "-no-color"]);
    plan.assert_code(2);
    assert!(plan.stdout.contains("update in-place"), "{}", plan.stdout);
    assert!(plan.stdout.contains("on_destroy"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(pool.rows(Some(AliasStatus::Free)).len(), 2);
}

#[test]
fn e_mail_lookups_ignore_case() {
    let pool = Pool::in_shared_azurite("awscase", 0);
    // An old row written in mixed case, as an older import kept it.
    let mut old = LegacyRow::free(MAILBOX, "company.com");
    old.aws_mail = format!("Aws_{}@Company.COM", old.id);
    old.in_use = true;
    old.user_mail = "old-pipeline@company.com".into();
    old.aws_account_id = ACCOUNT.into();
    pool.rt
        .block_on(pool.pool.insert_legacy_row(&old))
        .expect("insert");
    let lower = old.aws_mail.to_ascii_lowercase();
    let upper = old.aws_mail.to_ascii_uppercase();

    let dir = TerraformDir::new();
    dir.write(
        "main.tf",
        &(pool.provider_block()
            + &format!(
                "data \"rootmail_alias\" \"x\" {{\n  email = \"{lower}\"\n}}\n\
                 output \"found\" {{\n  value = data.rootmail_alias.x.aws_account_id\n}}\n\
                 resource \"rootmail_alias_account\" \"x\" {{\n  email = \"{upper}\"\n  aws_account_id = \"{ACCOUNT}\"\n}}\n"
            )),
    );
    dir.run_ok(&["import", "-no-color", "rootmail_alias_account.x", &upper]);
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(output(&dir, "found"), ACCOUNT);
}

/// The accounts list as `jsonencode(data.aws_organizations_organization.x.accounts)` has it.
fn accounts_hcl(accounts: &[(&str, &str, &str)]) -> String {
    let items: Vec<String> = accounts
        .iter()
        .map(|(id, email, status)| {
            format!(
                "{{ arn = \"arn:aws:organizations::111111111111:account/o-x/{id}\", email = \"{email}\", id = \"{id}\", name = \"n{id}\", status = \"{status}\" }}"
            )
        })
        .collect();
    format!("[{}]", items.join(", "))
}

#[test]
fn audit_data_source_reports_used_addresses_and_drives_a_check_block() {
    let pool = Pool::in_shared_azurite("awsauditds", 2);
    let dir = TerraformDir::new();
    dir.write("main.tf", &two_aliases_tf(&pool, None, true));
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let used = output(&dir, "used");
    let spare_free = pool
        .rows(Some(AliasStatus::Free))
        .into_iter()
        .next()
        .map(|r| r.email);
    // The pool has 2 rows, both claimed; add a free row an account uses.
    let free = LegacyRow::free(MAILBOX, "company.com");
    pool.rt
        .block_on(pool.pool.insert_legacy_row(&free))
        .expect("insert");
    assert!(spare_free.is_none());
    let accounts = accounts_hcl(&[
        (ACCOUNT, &used.to_ascii_uppercase(), "ACTIVE"),
        ("222222222222", &free.aws_mail, "ACTIVE"),
    ]);
    let audit = format!(
        r#"
data "rootmail_audit" "pool" {{
  accounts_json = jsonencode({accounts})
  depends_on    = [rootmail_alias_account.used]
}}
output "critical" {{
  value = data.rootmail_audit.pool.critical
}}
output "kinds" {{
  value = [for f in data.rootmail_audit.pool.findings : "${{f.kind}}:${{f.email}}"]
}}
"#
    );
    dir.write("main.tf", &(two_aliases_tf(&pool, None, true) + &audit));
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let critical: Json =
        serde_json::from_str(dir.run_ok(&["output", "-json", "critical"]).stdout.trim())
            .expect("json");
    assert_eq!(critical, Json::from(1));
    let kinds: Vec<String> =
        serde_json::from_str(dir.run_ok(&["output", "-json", "kinds"]).stdout.trim())
            .expect("json");
    assert_eq!(
        kinds,
        vec![format!("free_address_in_use:{}", free.aws_mail)]
    );

    // Bad JSON is a diagnostic on the attribute.
    dir.write(
        "main.tf",
        &(pool.provider_block()
            + "data \"rootmail_audit\" \"bad\" {\n  accounts_json = \"{}\"\n}\n"),
    );
    let bad = dir.run_err(&["plan", "-no-color"]);
    assert!(
        bad.stderr.contains("Invalid accounts_json"),
        "{}",
        bad.stderr
    );
    assert!(bad.stderr.contains("accounts_json"), "{}", bad.stderr);
    // So is a list that is not the whole organization: none, or one page.
    for (accounts, why) in [
        ("[]".to_owned(), "the accounts list is empty"),
        (
            format!("{{ Accounts = {accounts}, NextToken = \"AAE=\" }}"),
            "`NextToken` is set",
        ),
    ] {
        dir.write(
            "main.tf",
            &(pool.provider_block()
                + &format!(
                    "data \"rootmail_audit\" \"partial\" {{\n  accounts_json = jsonencode({accounts})\n}}\n"
                )),
        );
        let bad = dir.run_err(&["plan", "-no-color"]);
        let said = testkit::terraform::flat(&bad.stderr);
        assert!(
            said.contains("Invalid accounts_json") && said.contains(why),
            "{said}"
        );
    }

    // The same inside a check block, with a Terraform that has them (1.5+).
    let Some(modern) = TerraformDir::modern() else {
        return;
    };
    modern.write(
        "main.tf",
        &(pool.provider_block()
            + &format!(
                r#"
check "root_mail_pool" {{
  data "rootmail_audit" "this" {{
    accounts_json = jsonencode({accounts})
  }}
  assert {{
    condition     = data.rootmail_audit.this.critical == 0
    error_message = join(" / ", [for f in data.rootmail_audit.this.findings : f.kind if f.severity == "critical"])
  }}
}}
"#
            )),
    );
    let out = modern.run_ok(&["plan", "-no-color"]);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(text.contains("Check block assertion failed"), "{text}");
    assert!(text.contains("free_address_in_use"), "{text}");
}
