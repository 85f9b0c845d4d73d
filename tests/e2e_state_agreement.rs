//! The state agrees with the table and with itself, end to end (the real
//! terraform, the built provider, Azurite): a refresh right after an apply
//! finds nothing to change, so drift jobs (`plan -refresh-only
//! -detailed-exitcode`) stay quiet; what a plan accepts, the apply accepts.

use testkit::on_both_terraforms;
use testkit::pool::{Pool, OWNER};
use testkit::reliability::linked_alias_tf;
use testkit::terraform::{Cli, TerraformDir, TerraformOutput};

/// `plan -refresh-only -detailed-exitcode`: the drift job's command. Exit 0
/// is "nothing changed", 2 "something changed" (even when it says
/// "No changes"), and the plan never writes to the table.
fn drift_check(pool: &Pool, dir: &TerraformDir) -> TerraformOutput {
    let out = pool.plan(dir, &["-refresh-only", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a refresh-only plan right after an apply reported a change:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        !out.stdout.contains("changed outside of Terraform"),
        "{}",
        out.stdout
    );
    out
}

/// Terraform 1.10 to 1.14 compare the refreshed state with the one read from
/// disk field by field, precision of numbers included: `quarantine_days`
/// (a number) once made every refresh-only plan "applyable" (exit code 2).
#[test]
fn a_refresh_only_plan_after_apply_refresh_only_finds_nothing() {
    let pool = Pool::in_shared_azurite("quiet", 2);
    let Some(dir) = TerraformDir::for_cli(Cli::Modern) else {
        return;
    };
    dir.write(
        "main.tf",
        &(pool.provider_block()
            + &format!("resource \"rootmail_alias\" \"a\" {{\n  owner = \"{OWNER}\"\n}}\n")),
    );
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    dir.run_ok(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    drift_check(&pool, &dir);
    let plan = pool.plan(&dir, &["-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.status.code(), Some(0), "{}", plan.stdout);
}

on_both_terraforms!(linking_an_account_in_the_same_apply_leaves_no_drift);

/// The link is made after the alias is applied (the account's e-mail comes
/// from the alias), so a link value in the alias's state was stale right
/// after the apply and the next refresh reported it as drift. It is read
/// from where it is written instead. (No outputs or data sources here:
/// Terraform 1.0 itself counts those as changes in a refresh-only plan.)
fn linking_an_account_in_the_same_apply_leaves_no_drift(cli: Cli) {
    let pool = Pool::in_shared_azurite("linkdrift", 2);
    let Some(dir) = TerraformDir::for_cli(cli) else {
        return;
    };
    dir.write(
        "main.tf",
        &(pool.provider_block() + &linked_alias_tf("123456789012")),
    );
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let row = pool.claimed().remove(0);
    assert_eq!(row.aws_account_id, "123456789012");
    drift_check(&pool, &dir);
    let state = dir.run_ok(&["show", "-json"]).json();
    let values = |address: &str| -> serde_json::Value {
        state["values"]["root_module"]["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["address"] == address)
            .map(|r| r["values"].clone())
            .unwrap_or_else(|| panic!("{address} not in state: {state}"))
    };
    assert_eq!(
        values("rootmail_alias_account.a")["aws_account_id"],
        "123456789012"
    );
    let alias = values("rootmail_alias.a");
    assert!(alias["aws_account_id"].is_null(), "{alias}");
    assert!(alias["used_by_aws_account_id"].is_null(), "{alias}");
}

/// Mailboxes are e-mail addresses: `Comp001@Company.COM` in the
/// configuration names the rows' `comp001@company.com`. The apply keeps the
/// configuration's spelling (no "inconsistent result"), nothing is planned
/// afterwards, and a change of letter case alone is no new claim.
#[test]
fn a_mailbox_spelled_in_other_letter_case_claims_once_and_keeps_its_alias() {
    let pool = Pool::in_shared_azurite("mailcase", 3);
    let Some(dir) = TerraformDir::for_cli(Cli::Modern) else {
        return;
    };
    let tf = |mailbox: &str| {
        pool.provider_block()
            + &format!(
                "resource \"rootmail_alias\" \"a\" {{\n  owner   = \"{OWNER}\"\n  mailbox = \"{mailbox}\"\n}}\n\
                 output \"email\" {{\n  value = rootmail_alias.a.email\n}}\n"
            )
    };
    let spelled = "Comp001@Company.COM";
    assert_ne!(spelled, testkit::pool::MAILBOX);
    dir.write("main.tf", &tf(spelled));
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    let email = dir.run_ok(&["output", "-raw", "email"]).stdout;
    let claimed = pool.claimed();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].email, email);
    let plan = pool.plan(&dir, &["-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.status.code(), Some(0), "{}", plan.stdout);
    drift_check(&pool, &dir);

    // The same mailbox in the rows' own spelling: an in-place change of the
    // state's spelling, the same alias, no write needed.
    dir.write("main.tf", &tf(testkit::pool::MAILBOX));
    let plan = pool.plan(&dir, &["-no-color"]);
    assert!(
        plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(dir.run_ok(&["output", "-raw", "email"]).stdout, email);
    assert_eq!(pool.claimed().len(), 1, "still one claim");
    let plan = pool.plan(&dir, &["-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.status.code(), Some(0), "{}", plan.stdout);
}

/// `purpose` has one limit, 1,024 characters, at plan time and at apply:
/// 1,024 two-byte characters (2,048 bytes) are accepted by both, and 1,025
/// characters are refused by the plan, naming the attribute.
#[test]
fn purpose_limit_is_the_same_at_plan_and_at_apply() {
    let pool = Pool::in_shared_azurite("purpose", 2);
    let Some(dir) = TerraformDir::for_cli(Cli::Floor) else {
        return;
    };
    let tf = |purpose: &str| {
        pool.provider_block()
            + &format!(
                "resource \"rootmail_alias\" \"a\" {{\n  owner   = \"{OWNER}\"\n  purpose = \"{purpose}\"\n}}\n"
            )
    };
    let longest = "ü".repeat(rootmail::store::MAX_TEXT_CHARS);
    assert_eq!(longest.len(), 2 * rootmail::store::MAX_TEXT_CHARS);
    dir.write("main.tf", &tf(&longest));
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(pool.claimed()[0].purpose, longest);

    dir.write("main.tf", &tf(&format!("{longest}x")));
    let plan = pool.plan(&dir, &["-no-color"]);
    assert!(!plan.success(), "{}", plan.stdout);
    let said = testkit::terraform::flat(&plan.stderr);
    assert!(
        said.contains("`purpose` may be at most 1024 characters; it has 1025"),
        "{said}"
    );
}
