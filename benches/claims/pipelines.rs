//! Many pipelines at once: 8 terraform processes, each with its own state
//! and 25 aliases (with `claim_key`, as recommended for pipelines), apply,
//! plan and destroy at `-parallelism=10` at the same time on one pool.
//! Requests per alias and failed writes (HTTP 412, single and inside
//! transactions) come from Azurite's log.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::azurite_log::{LoggedAzurite, RequestCounts};
use crate::options::Options;
use crate::report::{median, secs};
use crate::terraform;
use crate::terraform_runs::{seed_free, tf_dir};

/// Terraform processes at once, and aliases in each (3 x 10 with `--quick`).
const PROCESSES: usize = 8;
const ALIASES: usize = 25;

/// One phase (apply, plan or destroy) run by every pipeline at once.
struct Phase {
    label: &'static str,
    wall: Duration,
    each: Vec<Duration>,
    requests: RequestCounts,
    single_412: u64,
    failed_transactions: u64,
    failed_runs: usize,
    /// Over all processes.
    aliases: usize,
}

fn pipeline_tf(index: usize, aliases: usize) -> String {
    format!(
        "resource \"rootmail_alias\" \"a\" {{\n  count     = {aliases}\n  owner     = \"pipeline{index}@company.com\"\n  purpose   = \"pipeline{index}-account-${{count.index}}\"\n  claim_key = \"pipeline{index}-account-${{count.index}}\"\n}}\n"
    )
}

fn run_all(
    az: &LoggedAzurite,
    dirs: &[terraform::TerraformDir],
    aliases: usize,
    label: &'static str,
    args: &[&str],
) -> Result<Phase> {
    let before = az.requests();
    let (single_before, tx_before) = az.precondition_failures();
    let started = Instant::now();
    let outputs: Vec<terraform::TerraformOutput> = std::thread::scope(|s| {
        let handles: Vec<_> = dirs.iter().map(|d| s.spawn(move || d.run(args))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("terraform thread"))
            .collect()
    });
    let wall = started.elapsed();
    let requests = az.requests().since(&before);
    let (single, tx) = az.precondition_failures();
    let mut failed_runs = 0;
    for (i, out) in outputs.iter().enumerate() {
        // A plan right after the apply must find nothing to change (exit 0).
        if !out.success() {
            failed_runs += 1;
            eprintln!(
                "pipeline {i}: terraform {args:?} failed:\n{}",
                terraform::tail(&out.stderr, 30)
            );
        }
    }
    let phase = Phase {
        label,
        wall,
        each: outputs.iter().map(|o| o.elapsed).collect(),
        requests,
        single_412: single - single_before,
        failed_transactions: tx - tx_before,
        failed_runs,
        aliases: dirs.len() * aliases,
    };
    println!(
        "{} pipelines, {label}: {} s, {} requests ({}), {:.2} per alias, \
{} failed transactions, {} single 412s, {} failed runs",
        dirs.len(),
        secs(phase.wall),
        phase.requests.total,
        phase.requests.describe(),
        phase.per_alias(),
        phase.failed_transactions,
        phase.single_412,
        phase.failed_runs
    );
    Ok(phase)
}

impl Phase {
    fn per_alias(&self) -> f64 {
        self.requests.total as f64 / self.aliases as f64
    }
}

pub(crate) async fn pipelines_section(
    opts: &Options,
    doc: &mut String,
    summary: &mut Vec<String>,
) -> Result<()> {
    let az = LoggedAzurite::start()?;
    let endpoint = az.endpoint();
    // A pool a few times the size of what the pipelines claim.
    let (processes, aliases) = if opts.quick {
        (3, 10)
    } else {
        (PROCESSES, ALIASES)
    };
    let pool_size = processes * aliases * 4;
    seed_free(&endpoint, "pipelines", pool_size).await?;
    let dirs: Vec<terraform::TerraformDir> = (0..processes)
        .map(|i| {
            let dir = tf_dir(&endpoint, "pipelines", true);
            dir.write("main.tf", &pipeline_tf(i, aliases));
            dir
        })
        .collect();
    let phases = vec![
        run_all(
            &az,
            &dirs,
            aliases,
            "apply",
            &["apply", "-auto-approve", "-parallelism=10"],
        )?,
        run_all(
            &az,
            &dirs,
            aliases,
            "plan",
            &["plan", "-parallelism=10", "-detailed-exitcode"],
        )?,
        run_all(
            &az,
            &dirs,
            aliases,
            "destroy",
            &["destroy", "-auto-approve", "-parallelism=10"],
        )?,
    ];
    let failed_runs: usize = phases.iter().map(|p| p.failed_runs).sum();
    summary.push(format!(
        "{processes} terraform processes x {aliases} aliases at once (Many pipelines): \
{failed_runs} failed runs over apply, plan and destroy."
    ));
    let _ = writeln!(doc, "## Many pipelines at once (Azurite on loopback)\n");
    let _ = writeln!(
        doc,
        "{processes} terraform 1.0.3 processes, each with its own state and {aliases} \
`rootmail_alias` resources (with `claim_key`), run `apply`, then `plan`, then `destroy` at \
`-parallelism=10`, all {processes} at the same time, against one pool of {pool_size} free aliases. \
Requests per alias are over all {} aliases; a failed transaction is an entity-group transaction \
refused because one of its rows had changed (HTTP 412 inside the batch; its claims are then \
retried on their own), a single 412 is one conditional write that lost a race. Wall time is until \
the last process finished.\n",
        processes * aliases
    );
    let _ = writeln!(
        doc,
        "| phase | wall s | median process s | requests | per alias | failed transactions | single 412s | failed runs | breakdown |\n|---|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for p in &phases {
        let _ = writeln!(
            doc,
            "| {} | {} | {} | {} | {:.2} | {} | {} | {} | {} |",
            p.label,
            secs(p.wall),
            secs(median(p.each.clone())),
            p.requests.total,
            p.per_alias(),
            p.failed_transactions,
            p.single_412,
            p.failed_runs,
            p.requests.describe()
        );
    }
    let _ = writeln!(doc);
    let failed: usize = phases.iter().map(|p| p.failed_runs).sum();
    if failed > 0 {
        // Reported in the tables rather than aborting the whole benchmark.
        eprintln!("WARNING: {failed} terraform runs of the pipelines failed");
    }
    Ok(())
}
