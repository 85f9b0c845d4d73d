//! A plan over a large organization: 2,000 aliases in state, refreshed by
//! the real terraform at the default `-parallelism=10`, with the coalesced
//! reads the provider uses and with one point read per alias (what every
//! plan cost before), requests counted from Azurite's log.

use std::fmt::Write as _;

use anyhow::Result;

use crate::azurite_log::LoggedAzurite;
use crate::options::Options;
use crate::terraform_runs::{aliases_tf, runs_table, seed_free, tf_dir, timed, TfRun};

pub(crate) async fn plan_refresh_section(
    opts: &Options,
    doc: &mut String,
    summary: &mut Vec<String>,
) -> Result<()> {
    let az = LoggedAzurite::start()?;
    let endpoint = az.endpoint();
    let many = if opts.quick { 200 } else { 2_000 };
    // Free rows besides the claimed ones, as in a real pool.
    seed_free(&endpoint, "plan", many + 500).await?;
    let mut batched = tf_dir(&endpoint, "plan", true);
    batched.write("main.tf", &aliases_tf(many, false));
    let setup = timed(
        &az,
        &batched,
        &["apply", "-auto-approve", "-parallelism=10"],
        format!("apply {many} aliases (setup), batched"),
        many,
        false,
    )?;
    let mut runs: Vec<TfRun> = Vec::new();
    for round in 1..=2 {
        runs.push(timed(
            &az,
            &batched,
            &["plan", "-detailed-exitcode"],
            format!("plan with {many} aliases in state, coalesced reads, run {round}"),
            many,
            false,
        )?);
    }
    // The same state and binary, every refresh a point read of its own.
    batched.env("ROOTMAIL_READ_BATCHING", "off");
    let one_by_one = batched;
    for round in 1..=2 {
        runs.push(timed(
            &az,
            &one_by_one,
            &["plan", "-detailed-exitcode"],
            format!("plan with {many} aliases in state, one point read each, run {round}"),
            many,
            false,
        )?);
    }
    // Derived: coalesced against one point read each, runs 1 and 2 pooled.
    let (coalesced, point_reads) = runs.split_at(2);
    let wall = |rs: &[TfRun]| rs.iter().map(|r| r.wall.as_secs_f64()).sum::<f64>();
    let requests = |rs: &[TfRun]| rs.iter().map(|r| r.requests.total).sum::<u64>() as f64;
    summary.push(format!(
        "Plan with {many} aliases in state (its section): coalesced reads send {:.0}x fewer \
requests than one point read per alias, and the plan takes {:.2}x the time.",
        requests(point_reads) / requests(coalesced).max(1.0),
        wall(coalesced) / wall(point_reads).max(1e-9)
    ));
    let _ = writeln!(
        doc,
        "## Plan with {many} aliases in state (Azurite on loopback)\n"
    );
    let _ = writeln!(
        doc,
        "Terraform 1.0.3 refreshes {many} `rootmail_alias` resources at the default \
`-parallelism=10` (setup: {}). The provider's reads are coalesced (`ReadCoalescer`): a handful of \
pending reads are point reads, more share one `RowKey eq … or …` query (14 keys at most), and once \
a burst of reads is long (40 reads without a 1 s pause) one snapshot of the partition's claimed rows \
(`in_use eq true`, pages of 1,000) answers the reads of the next 5 s; a row the snapshot does not \
hold is read by key. \"one point read each\" is the same binary with `ROOTMAIL_READ_BATCHING=off`. \
Each run starts a new provider process, so its first reads never come from an older snapshot.\n",
        setup.describe_short()
    );
    runs_table(doc, &runs);
    Ok(())
}
