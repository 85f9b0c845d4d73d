//! `rootmail pool list`: aliases, optionally filtered, as a table, JSON or
//! CSV; `--unlinked-for` finds the claims crashed pipelines left behind.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use rootmail::store::{AliasFilter, AliasPool, AliasRow, AliasStatus};
use serde_json::Value;
use time::OffsetDateTime;

use crate::duration::parse_duration;
use crate::output::{self, Table};
use crate::Outcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Free,
    Claimed,
    Quarantined,
    Retired,
}

impl From<StatusArg> for AliasStatus {
    fn from(s: StatusArg) -> AliasStatus {
        match s {
            StatusArg::Free => AliasStatus::Free,
            StatusArg::Claimed => AliasStatus::Claimed,
            StatusArg::Quarantined => AliasStatus::Quarantined,
            StatusArg::Retired => AliasStatus::Retired,
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only aliases in this status.
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// Only aliases claimed by this owner (`user_mail`).
    #[arg(long, value_name = "OWNER")]
    pub owner: Option<String>,
    /// Only this shared mailbox.
    #[arg(long, value_name = "MAILBOX")]
    pub mailbox: Option<String>,
    /// Claimed aliases with no AWS account linked, claimed longer ago than
    /// this (e.g. 30m, 12h, 7d): the likely leftovers of crashed pipelines.
    /// Rows claimed by older tools carry no claim time and are not listed.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub unlinked_for: Option<Duration>,
    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV.
    #[arg(long)]
    pub csv: bool,
}

pub async fn run(store: &AliasPool, args: &ListArgs) -> anyhow::Result<Outcome> {
    let mut status = args.status.map(AliasStatus::from);
    if args.unlinked_for.is_some() {
        match status {
            None | Some(AliasStatus::Claimed) => status = Some(AliasStatus::Claimed),
            Some(other) => bail!(
                "--unlinked-for lists claimed aliases; it cannot be combined with --status {other}"
            ),
        }
    }
    let filter = AliasFilter {
        owner: args.owner.clone(),
        mailbox: args.mailbox.clone(),
        status,
    };
    let mut rows = store
        .list(&filter)
        .await
        .context("cannot list the aliases")?;
    if let Some(age) = args.unlinked_for {
        let cutoff = OffsetDateTime::now_utc() - age;
        rows.retain(|r| r.aws_account_id.is_empty() && r.claimed_at.is_some_and(|t| t <= cutoff));
    }
    rows.sort_by(|a, b| {
        (&a.root_mailbox, a.claimed_at, &a.email).cmp(&(&b.root_mailbox, b.claimed_at, &b.email))
    });
    let mut out = std::io::stdout().lock();
    if args.json {
        let doc: Vec<Value> = rows.iter().map(|r| output::row_json(r, false)).collect();
        writeln!(out, "{}", output::json_text(&Value::Array(doc)))?;
    } else if args.csv {
        let fields: Vec<Vec<String>> = rows.iter().map(fields).collect();
        output::write_csv(&mut out, &COLUMNS, &fields)?;
    } else {
        // The first six columns; the table would be too wide with all.
        let mut table = Table::new(&[
            "EMAIL",
            "STATUS",
            "MAILBOX",
            "OWNER",
            "ACCOUNT",
            "CLAIMED AT",
        ]);
        for r in &rows {
            table.row(fields(r).iter().take(6).map(|f| output::cell(f)).collect());
        }
        table.write(&mut out)?;
        writeln!(out, "{} aliases", rows.len())?;
    }
    out.flush()?;
    Ok(Outcome::Success)
}

const COLUMNS: [&str; 8] = [
    "email",
    "status",
    "root_mailbox",
    "owner",
    "aws_account_id",
    "claimed_at",
    "reusable_after",
    "id",
];

/// A row's values in the order of [`COLUMNS`].
fn fields(r: &AliasRow) -> Vec<String> {
    vec![
        r.email.clone(),
        r.status.to_string(),
        r.root_mailbox.clone(),
        r.owner.clone(),
        r.aws_account_id.clone(),
        output::format_time(r.claimed_at),
        output::format_time(r.reusable_after),
        r.id.clone(),
    ]
}
