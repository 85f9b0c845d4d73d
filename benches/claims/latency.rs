//! The table 30 ms away: Azurite on loopback behind testkit's fault proxy
//! with a round-trip latency, and the modern terraform applying, planning
//! and destroying 200 `rootmail_alias` resources (coalesced and one by one)
//! next to 200 `terraform_data` resources, which talk to nothing: what a
//! pipeline waits for because of the pool, compared with Terraform's own
//! cost for the same number of resources.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Result};
use testkit::fault_proxy::FaultProxy;

use crate::azurite_log::LoggedAzurite;
use crate::charts;
use crate::options::Options;
use crate::report::secs;
use crate::terraform;
use crate::terraform_runs::{aliases_tf, seed_free, tf_dir, timed, TfRun};

/// The round trip between terraform's machine and the table.
const ROUND_TRIP: Duration = Duration::from_millis(30);

/// The modern terraform (`terraform_data` came with 1.4), or why there is none.
pub(crate) fn modern_terraform() -> Result<(PathBuf, String)> {
    terraform::modern_terraform().map_err(|why| {
        anyhow!(
            "the latency section compares with `terraform_data`, which needs Terraform >= 1.4, \
and runs the modern terraform (>= 1.5: ROOTMAIL_TERRAFORM_MODERN or `terraform` on PATH): {why}"
        )
    })
}

/// Apply, plan and destroy of one kind of resources.
struct Row {
    what: String,
    /// Where the table is, as the report says it.
    table: String,
    runs: Vec<TfRun>,
}

impl Row {
    fn wall(&self, i: usize) -> f64 {
        self.runs[i].wall.as_secs_f64()
    }
}

fn data_tf(count: usize) -> String {
    format!(
        "resource \"terraform_data\" \"d\" {{\n  count = {count}\n  input = \"account-${{count.index}}\"\n}}\n"
    )
}

/// Apply, plan and destroy in `dir`, timed (requests counted in `az`'s log).
fn three_runs(
    az: &LoggedAzurite,
    dir: &terraform::TerraformDir,
    what: &str,
    count: usize,
) -> Result<Vec<TfRun>> {
    [
        vec!["apply", "-auto-approve", "-parallelism=10"],
        vec!["plan", "-parallelism=10", "-detailed-exitcode"],
        vec!["destroy", "-auto-approve", "-parallelism=10"],
    ]
    .iter()
    .map(|args| timed(az, dir, args, format!("{} {what}", args[0]), count, false))
    .collect()
}

pub(crate) async fn latency_section(
    opts: &Options,
    doc: &mut String,
    summary: &mut Vec<String>,
) -> Result<()> {
    let (modern, version) = modern_terraform()?;
    let count = if opts.quick { 20 } else { 200 };
    let az = LoggedAzurite::start()?;
    let direct = az.endpoint();
    // The proxy runs its own runtime: start it off this one.
    let proxy = std::thread::spawn(move || FaultProxy::start(&direct))
        .join()
        .map_err(|_| anyhow!("the delay proxy did not start"))?;
    proxy.set_latency(ROUND_TRIP);
    let far = proxy.endpoint();
    let rtt_ms = ROUND_TRIP.as_millis();

    let mut rows: Vec<Row> = Vec::new();
    let mut data = terraform::TerraformDir::using(modern.clone());
    data.env("TF_LOG", "");
    data.write("main.tf", &data_tf(count));
    rows.push(Row {
        what: format!("{count} `terraform_data`"),
        table: "none".to_owned(),
        runs: three_runs(&az, &data, &format!("{count} terraform_data"), count)?,
    });
    for (batching, endpoint, table) in [
        (true, &far, "far"),
        (false, &far, "farsingle"),
        (true, &az.endpoint(), "near"),
    ] {
        seed_free(&az.endpoint(), table, count + 50).await?;
        let mut dir = tf_dir(endpoint, table, batching);
        dir.with_binary(modern.clone());
        dir.write("main.tf", &aliases_tf(count, false));
        let mode = if batching { "coalesced" } else { "one by one" };
        let place = if *endpoint == far {
            format!("{rtt_ms} ms away")
        } else {
            "loopback, no delay".to_owned()
        };
        println!("== latency: {count} rootmail_alias, {mode}, table {place}");
        rows.push(Row {
            what: format!("{count} `rootmail_alias`, {mode}"),
            table: place.clone(),
            runs: three_runs(
                &az,
                &dir,
                &format!("{count} rootmail_alias, {mode}, table {place}"),
                count,
            )?,
        });
    }

    if let [data, coalesced, one_by_one, ..] = &rows[..] {
        summary.push(format!(
            "The table {rtt_ms} ms away (its section): {count} aliases cost {} s more than \
{count} `terraform_data` to apply, {} s more to plan and {} s more to destroy; one by one takes \
{:.2}x the time of coalesced for the apply, {:.2}x for the plan and {:.2}x for the destroy.",
            secs(Duration::from_secs_f64(
                (coalesced.wall(0) - data.wall(0)).max(0.0)
            )),
            secs(Duration::from_secs_f64(
                (coalesced.wall(1) - data.wall(1)).max(0.0)
            )),
            secs(Duration::from_secs_f64(
                (coalesced.wall(2) - data.wall(2)).max(0.0)
            )),
            one_by_one.wall(0) / coalesced.wall(0).max(1e-9),
            one_by_one.wall(1) / coalesced.wall(1).max(1e-9),
            one_by_one.wall(2) / coalesced.wall(2).max(1e-9),
        ));
    }

    let _ = writeln!(
        doc,
        "## The table {rtt_ms} ms away: {count} aliases against {count} `terraform_data`\n"
    );
    let _ = writeln!(
        doc,
        "What a pipeline waits for when the table is as far away as a storage account in another \
region. Terraform {version} (`terraform_data` needs 1.4 or newer) applies, plans and destroys \
{count} resources at `-parallelism=10`, each run a new terraform process (so every \
`rootmail_alias` run includes the provider's start and the one query with which it checks the \
pool when Terraform configures it). `terraform_data` talks to nothing: its row is Terraform's own \
cost for {count} resources. The `rootmail_alias` rows \
reach Azurite on loopback through testkit's fault proxy set to a {rtt_ms} ms round trip: every \
request reaches Azurite {} ms after it was sent and its answer comes back {} ms after Azurite \
gave it, and a new connection waits one round trip before its first request (TCP's handshake; \
plain HTTP, so the one or two round trips of a TLS handshake to the real service are not in \
these numbers, and the provider keeps its connections open). \"one by one\" turns off claim, read \
and release batching (`ROOTMAIL_*_BATCHING=off`); the last row is the same coalesced run with no \
delay, for reference. Requests are counted from Azurite's log (apply / plan / destroy).\n",
        rtt_ms / 2,
        rtt_ms / 2
    );
    let _ = writeln!(
        doc,
        "| resources | table | apply s | plan s | destroy s | requests |\n|---|---|---:|---:|---:|---|"
    );
    for row in &rows {
        let requests: Vec<String> = row
            .runs
            .iter()
            .map(|r| r.requests.total.to_string())
            .collect();
        let _ = writeln!(
            doc,
            "| {} | {} | {} | {} | {} | {} |",
            row.what,
            row.table,
            secs(row.runs[0].wall),
            secs(row.runs[1].wall),
            secs(row.runs[2].wall),
            requests.join(" / ")
        );
    }
    let _ = writeln!(doc);
    if let Some(dir) = opts.charts_dir() {
        let file = "perf-latency.svg";
        let series: Vec<(&str, Vec<f64>)> = rows
            .iter()
            .take(3)
            .map(|row| {
                let name = match row.table.as_str() {
                    "none" => "terraform_data",
                    _ if row.what.contains("one by one") => "rootmail_alias, one by one",
                    _ => "rootmail_alias, coalesced",
                };
                (name, (0..3).map(|i| row.wall(i)).collect())
            })
            .collect();
        charts::grouped_bars(
            &dir.join(file),
            &format!(
                "Wall time, {count} resources (Azurite on loopback behind a {rtt_ms} ms delay proxy)"
            ),
            "seconds",
            &["apply", "plan", "destroy"],
            &series,
        )?;
        let _ = writeln!(
            doc,
            "![Wall time of apply, plan and destroy, the table {rtt_ms} ms away]({file})\n"
        );
    }
    Ok(())
}
