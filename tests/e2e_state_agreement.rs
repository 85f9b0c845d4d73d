//! The state agrees with the table and with itself, end to end (the real
//! terraform, the built provider, Azurite): a refresh right after an apply
//! finds nothing to change, so drift jobs (`plan -refresh-only
//! -detailed-exitcode`) stay quiet; what a plan accepts, the apply accepts.

use testkit::pool::{Pool, OWNER};
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
