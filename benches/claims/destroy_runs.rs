//! Destroy at scale with the real terraform: coalesced releases (each release
//! writes with the row its refresh saw, in entity-group transactions) against
//! one by one (every batching off: each release reads its row, then writes).
//! Requests per alias include Terraform's refresh.

use std::fmt::Write as _;

use anyhow::{bail, Result};

use crate::azurite_log::LoggedAzurite;
use crate::options::Options;
use crate::terraform;
use crate::terraform_runs::{aliases_tf, runs_table, seed_free, tf_dir, timed, TfRun};

/// The "destroy" section (part of "terraform", or alone with
/// `--sections destroy`): its own Azurite, runs and table.
pub(crate) async fn destroy_section(
    opts: &Options,
    doc: &mut String,
    summary: &mut Vec<String>,
) -> Result<()> {
    let az = LoggedAzurite::start()?;
    let mut runs = Vec::new();
    destroy_runs(&az, opts, &mut runs).await?;
    let many = if opts.quick { 100 } else { 500 };
    if let [coalesced, one_by_one] = &runs[..] {
        summary.push(format!(
            "Destroy {many} aliases (its section): coalesced releases send {:.0}x fewer requests \
than one by one.",
            one_by_one.requests.total as f64 / (coalesced.requests.total as f64).max(1.0)
        ));
    }
    let _ = writeln!(doc, "## Destroy {many} aliases (Azurite on loopback)\n");
    let _ = writeln!(
        doc,
        "Terraform 1.0.3 destroys {many} `rootmail_alias` resources at `-parallelism=10`, each run \
after its own apply; requests include the destroy's refresh. Coalesced: the releases that arrive \
together read their rows with one query per 14 keys and go out as entity-group transactions of \
writes conditional on the ETags read (`ReleaseBatcher`). \
\"one by one\": claim, read and release batching off; each release reads its row, checks the claim \
token and writes conditionally.\n"
    );
    runs_table(doc, &runs);
    Ok(())
}

/// Destroys `many` aliases (500, 100 with `--quick`) at `-parallelism=10`,
/// batched and one by one, each after its own apply.
async fn destroy_runs(az: &LoggedAzurite, opts: &Options, runs: &mut Vec<TfRun>) -> Result<()> {
    let many = if opts.quick { 100 } else { 500 };
    let endpoint = az.endpoint();
    for batching in [true, false] {
        let table = if batching { "destroyb" } else { "destroys" };
        seed_free(&endpoint, table, many + 50).await?;
        let dir = tf_dir(&endpoint, table, batching);
        dir.write("main.tf", &aliases_tf(many, false));
        let apply = dir.run(&["apply", "-auto-approve", "-parallelism=10"]);
        if !apply.success() {
            bail!(
                "apply of {many} aliases failed:\n{}",
                terraform::tail(&apply.stderr, 40)
            );
        }
        let mode = if batching {
            "coalesced releases"
        } else {
            "one by one"
        };
        let run = timed(
            az,
            &dir,
            &["destroy", "-auto-approve", "-parallelism=10"],
            format!("destroy {many} aliases (refresh included), -parallelism=10, {mode}"),
            many,
            false,
        )?;
        runs.push(run);
    }
    Ok(())
}
