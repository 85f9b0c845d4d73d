//! Real terraform against a logged Azurite: coalescing, refresh and memory.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use rootmail::store::{AliasPool, ClaimBatcher, StoreConfig};

use crate::azurite_log::{LoggedAzurite, RequestCounts, RssProbe};
use crate::charts;
use crate::matrix::request;
use crate::options::Options;
use crate::report::secs;
use crate::terraform;
use crate::{DOMAIN, MAILBOX};

pub(crate) fn provider_binary() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-rootmail"));
    p.canonicalize().unwrap_or(p)
}

pub(crate) fn tf_dir(endpoint: &str, table: &str, batching: bool) -> terraform::TerraformDir {
    let mut dir = terraform::TerraformDir::new();
    // No debug logging: it would dominate the timings.
    dir.env("TF_LOG", "");
    // "one by one" turns off every coalescing: claims, reads and releases.
    for knob in [
        "ROOTMAIL_CLAIM_BATCHING",
        "ROOTMAIL_READ_BATCHING",
        "ROOTMAIL_RELEASE_BATCHING",
    ] {
        dir.env(knob, if batching { "on" } else { "off" });
    }
    dir.write(
        "provider.tf",
        &format!(
            "{}\nprovider \"rootmail\" {{\n  endpoint     = \"{endpoint}\"\n  use_emulator = true\n  table        = \"{table}\"\n}}\n",
            terraform::required_providers_block()
        ),
    );
    dir
}

pub(crate) fn aliases_tf(count: usize, with_keys: bool) -> String {
    let key = if with_keys {
        "  claim_key = \"account-${count.index}\"\n"
    } else {
        ""
    };
    format!(
        "resource \"rootmail_alias\" \"a\" {{\n  count   = {count}\n  owner   = \"platform@company.com\"\n  purpose = \"account-${{count.index}}\"\n{key}}}\n"
    )
}

/// Writes `runs` as a table of wall time, requests, requests per alias and
/// their breakdown (the plan and destroy sections).
pub(crate) fn runs_table(doc: &mut String, runs: &[TfRun]) {
    let _ = writeln!(
        doc,
        "| run | wall s | requests | per alias | breakdown |\n|---|---:|---:|---:|---|"
    );
    for r in runs {
        let _ = writeln!(
            doc,
            "| {} | {} | {} | {:.3} | {} |",
            r.label,
            secs(r.wall),
            r.requests.total,
            r.per_alias(),
            r.requests.describe()
        );
    }
    let _ = writeln!(doc);
}

pub(crate) struct TfRun {
    pub(crate) label: String,
    pub(crate) wall: Duration,
    pub(crate) requests: RequestCounts,
    per: usize,
    peak_rss_kb: Option<u64>,
}

impl TfRun {
    pub(crate) fn per_alias(&self) -> f64 {
        self.requests.total as f64 / self.per as f64
    }

    /// "N s, M requests (breakdown)".
    pub(crate) fn describe_short(&self) -> String {
        format!(
            "{} s, {} requests ({})",
            secs(self.wall),
            self.requests.total,
            self.requests.describe()
        )
    }
}

pub(crate) fn timed(
    az: &LoggedAzurite,
    dir: &terraform::TerraformDir,
    args: &[&str],
    label: String,
    per: usize,
    probe_rss: bool,
) -> Result<TfRun> {
    let before = az.requests();
    let probe = probe_rss.then(|| RssProbe::start(provider_binary()));
    let out = dir.run(args);
    let rss = probe.map(RssProbe::finish);
    if !out.success() {
        bail!(
            "terraform {args:?} failed:\n{}\n{}",
            out.stdout,
            terraform::tail(&out.stderr, 40)
        );
    }
    let requests = az.requests().since(&before);
    println!(
        "{label}: {} s, {} requests ({}), {:.2} per alias{}",
        secs(out.elapsed),
        requests.total,
        requests.describe(),
        requests.total as f64 / per as f64,
        rss.map(|(kb, n)| format!(", provider peak RSS {} MiB ({n} process)", kb / 1024))
            .unwrap_or_default()
    );
    Ok(TfRun {
        label,
        wall: out.elapsed,
        requests,
        per,
        peak_rss_kb: rss.map(|(kb, _)| kb),
    })
}

pub(crate) async fn seed_free(endpoint: &str, table: &str, count: usize) -> Result<()> {
    let pool = AliasPool::connect(&StoreConfig::emulator(endpoint.to_owned(), table))?;
    pool.ensure_table().await?;
    pool.seed(MAILBOX, DOMAIN, count).await?;
    Ok(())
}

pub(crate) async fn terraform_section(
    opts: &Options,
    doc: &mut String,
    summary: &mut Vec<String>,
) -> Result<()> {
    let az = LoggedAzurite::start()?;
    let endpoint = az.endpoint();
    let mut runs: Vec<TfRun> = Vec::new();
    // Requests per alias of apply, plan and destroy, per claim mode, for the chart.
    let mut bars: Vec<(&str, Vec<f64>)> = Vec::new();
    let creates = if opts.quick { 20 } else { 50 };

    // Calibration: the log counts exactly what the store's own counter counts.
    seed_free(&endpoint, "calibrate", 20).await?;
    let before = az.requests();
    let pool = AliasPool::connect(&StoreConfig::emulator(endpoint.clone(), "calibrate"))?;
    let batcher = ClaimBatcher::new(pool.clone());
    let calibration_request = request("c@company.com");
    let claims: Vec<_> = (0..8)
        .map(|_| batcher.claim(&calibration_request))
        .collect();
    for c in futures::future::join_all(claims).await {
        c?;
    }
    pool.claim(&request("c@company.com")).await?;
    let logged = az.requests().since(&before).total;
    let counted = pool.request_count();
    println!("calibration: Azurite logged {logged} requests, the store counted {counted}");
    if logged != counted {
        bail!("Azurite's log ({logged}) and the store's counter ({counted}) disagree");
    }

    // Coalescing: N creates at -parallelism=10, batched and one by one.
    for (with_keys, table) in [(false, "coalesce"), (true, "coalescekeys")] {
        for batching in [true, false] {
            let t = format!("{table}{}", if batching { "b" } else { "s" });
            seed_free(&endpoint, &t, creates * 2).await?;
            let dir = tf_dir(&endpoint, &t, batching);
            dir.write("main.tf", &aliases_tf(creates, with_keys));
            let mode = if batching { "batched" } else { "one by one" };
            let keys = if with_keys { ", with claim_key" } else { "" };
            runs.push(timed(
                &az,
                &dir,
                &["apply", "-auto-approve", "-parallelism=10"],
                format!("apply {creates} aliases, -parallelism=10, {mode}{keys}"),
                creates,
                false,
            )?);
            runs.push(timed(
                &az,
                &dir,
                &["plan", "-parallelism=10"],
                format!("plan with {creates} aliases in state, -parallelism=10, {mode}{keys}"),
                creates,
                false,
            )?);
            runs.push(timed(
                &az,
                &dir,
                &["destroy", "-auto-approve", "-parallelism=10"],
                format!("destroy {creates} aliases, -parallelism=10, {mode}{keys}"),
                creates,
                false,
            )?);
            if !with_keys {
                // apply, plan, destroy just above: the chart's bars for this mode.
                let last = &runs[runs.len() - 3..];
                let per_alias = last.iter().map(TfRun::per_alias).collect();
                bars.push((mode, per_alias));
            }
        }
    }

    // Refresh: a plan over many aliases in state (point reads, in parallel).
    let many = if opts.quick { 100 } else { 500 };
    seed_free(&endpoint, "refresh", many + 100).await?;
    let dir = tf_dir(&endpoint, "refresh", true);
    dir.write("main.tf", &aliases_tf(many, false));
    runs.push(timed(
        &az,
        &dir,
        &["apply", "-auto-approve"],
        format!("apply {many} aliases (default -parallelism=10), batched"),
        many,
        true,
    )?);
    for round in 1..=2 {
        runs.push(timed(
            &az,
            &dir,
            &["plan", "-detailed-exitcode"],
            format!("plan with {many} aliases in state (refresh), run {round}"),
            many,
            true,
        )?);
    }
    runs.push(timed(
        &az,
        &dir,
        &["plan", "-parallelism=50"],
        format!("plan with {many} aliases in state, -parallelism=50"),
        many,
        true,
    )?);
    // (Destroying them is measured in its own section, batched and one by one.)

    // Derived comparisons only: the measurements are in the table.
    if let [batched, one_by_one] = &bars[..] {
        let ratio = |i: usize| one_by_one.1[i] / batched.1[i].max(1e-9);
        summary.push(format!(
            "Terraform, {creates} aliases at -parallelism=10 (section 2–3): coalescing sends \
{:.1}x fewer table requests per alias on apply, {:.1}x fewer on plan and {:.1}x fewer on destroy \
than one by one.",
            ratio(0),
            ratio(1),
            ratio(2)
        ));
    }
    let _ = writeln!(
        doc,
        "## 2–3. Terraform: coalesced creates, refresh, memory (Azurite on loopback)\n"
    );
    let _ = writeln!(
        doc,
        "The real terraform 1.0.3 runs the release provider binary against an Azurite started \
with `--debug`; requests are counted from Azurite's log (one `RequestMethod=` line per HTTP \
request; checked against the store's own counter before the runs: {logged} = {counted}). \
Terraform's own logging is off. \"one by one\" is the same binary with \
`ROOTMAIL_CLAIM_BATCHING=off`, `ROOTMAIL_READ_BATCHING=off` and `ROOTMAIL_RELEASE_BATCHING=off`. How to read it: at `-parallelism=10` Terraform sends its \
creates in waves, which the batcher serves with one transaction each (candidates from one query \
last several waves); in a long apply the waves break up as slots free at different times, and a \
create arriving alone costs one Merge on a cached candidate, so the amortized cost moves towards \
1 request per alias but stays below the 2 of one-by-one claims. With `claim_key` each batch also \
looks its keys up before and after claiming (one query per 14 keys each) and hands the claims over \
in one more transaction (a claim alone: one more Merge). A destroy one by one costs 3 requests per alias: \
Terraform's refresh (a point read), then the release's own read and conditional write. With \
coalesced releases the destroys that arrive together (about 10 at `-parallelism=10`) read their \
rows with one query (up to 14 keys) and go out as one entity-group transaction of writes \
conditional on the ETags just read; a row that changed in between fails its transaction (412), \
the batch's rows are read again and the unchanged ones sent again, the changed one released the \
careful way. (The refresh keeps nothing in Terraform's private state: Terraform counts a changed \
private state as a change, and drift jobs would alarm.) A plan's \
refreshes are coalesced (row-key queries, and a snapshot of the partition for long bursts; see \
the plan section below); one by one, a plan reads each alias once with a point read.\n"
    );
    let _ = writeln!(
        doc,
        "| run | wall s | requests | per alias | breakdown | provider peak RSS |\n|---|---:|---:|---:|---|---:|"
    );
    for r in &runs {
        let _ = writeln!(
            doc,
            "| {} | {} | {} | {:.2} | {} | {} |",
            r.label,
            secs(r.wall),
            r.requests.total,
            r.requests.total as f64 / r.per as f64,
            r.requests.describe(),
            r.peak_rss_kb
                .map(|kb| format!("{:.1} MiB", kb as f64 / 1024.0))
                .unwrap_or_else(|| "–".into())
        );
    }
    let _ = writeln!(doc);
    if let Some(dir) = opts.charts_dir() {
        let file = "perf-requests-per-alias.svg";
        charts::grouped_bars(
            &dir.join(file),
            &format!(
                "Table requests per alias, {creates} aliases, -parallelism=10 (Azurite on loopback)"
            ),
            "requests per alias",
            &["apply", "plan", "destroy"],
            &bars,
        )?;
        let _ = writeln!(
            doc,
            "![Requests per alias for apply, plan and destroy]({file})\n"
        );
    }
    Ok(())
}
