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

/// The statuses `pool list` shows: the row's own, except that a row a
/// claim never hands out is `unusable` (as `pool stats` counts it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Free,
    Unusable,
    Claimed,
    Quarantined,
    Retired,
}

impl StatusArg {
    /// The stored status to ask the table for (`None`: any).
    fn stored(self) -> Option<AliasStatus> {
        match self {
            StatusArg::Free => Some(AliasStatus::Free),
            // Free rows, or quarantined ones whose waiting time is over.
            StatusArg::Unusable => None,
            StatusArg::Claimed => Some(AliasStatus::Claimed),
            StatusArg::Quarantined => Some(AliasStatus::Quarantined),
            StatusArg::Retired => Some(AliasStatus::Retired),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            StatusArg::Free => "free",
            StatusArg::Unusable => "unusable",
            StatusArg::Claimed => "claimed",
            StatusArg::Quarantined => "quarantined",
            StatusArg::Retired => "retired",
        }
    }
}

/// Exchange aliases, or plus addresses minted on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    Alias,
    Minted,
}

/// Rows the table shows when `--limit` is not given (JSON and CSV show all).
const TABLE_LIMIT: usize = 200;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only aliases in this status (`unusable`: marked free, or quarantined
    /// with the waiting time over, but never handed out; see the REASON column).
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// Only aliases claimed by this owner (`user_mail`).
    #[arg(long, value_name = "OWNER")]
    pub owner: Option<String>,
    /// Only this shared mailbox.
    #[arg(long, value_name = "MAILBOX")]
    pub mailbox: Option<String>,
    /// Only Exchange aliases (`alias`) or only plus addresses minted on
    /// demand for a minting mailbox (`minted`).
    #[arg(long, value_enum)]
    pub source: Option<SourceArg>,
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
    /// Show at most N aliases (0: all). The table shows 200 unless told;
    /// JSON and CSV show all unless told.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

pub async fn run(store: &AliasPool, args: &ListArgs) -> anyhow::Result<Outcome> {
    let mut status = args.status;
    if args.unlinked_for.is_some() {
        match status {
            None | Some(StatusArg::Claimed) => status = Some(StatusArg::Claimed),
            Some(other) => bail!(
                "--unlinked-for lists claimed aliases; it cannot be combined with --status {}",
                other.as_str()
            ),
        }
    }
    let filter = AliasFilter {
        owner: args.owner.clone(),
        mailbox: args.mailbox.clone(),
        status: status.and_then(StatusArg::stored),
        minted: args.source.map(|s| s == SourceArg::Minted),
    };
    let mut rows = store
        .list(&filter)
        .await
        .context("cannot list the aliases")?;
    if rows.is_empty() {
        super::require_rows(store).await?;
    }
    let now = OffsetDateTime::now_utc();
    if let Some(wanted) = status {
        rows.retain(|r| output::status_text(r, now) == wanted.as_str());
    }
    if let Some(age) = args.unlinked_for {
        let cutoff = now - age;
        rows.retain(|r| r.aws_account_id.is_empty() && r.claimed_at.is_some_and(|t| t <= cutoff));
    }
    rows.sort_by(|a, b| {
        (&a.root_mailbox, a.claimed_at, &a.email).cmp(&(&b.root_mailbox, b.claimed_at, &b.email))
    });
    let found = rows.len();
    let default_limit = if args.json || args.csv {
        0
    } else {
        TABLE_LIMIT
    };
    let limit = args.limit.unwrap_or(default_limit);
    if limit > 0 {
        rows.truncate(limit);
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let doc: Vec<Value> = rows.iter().map(|r| output::row_json(r, false)).collect();
        writeln!(out, "{}", output::json_text(&Value::Array(doc)))?;
    } else if args.csv {
        let fields: Vec<Vec<String>> = rows.iter().map(|r| fields(r, now)).collect();
        output::write_csv(&mut out, &COLUMNS, &fields)?;
    } else {
        // Fewer columns than the CSV: the table would be too wide with all.
        let mut table = Table::new(&[
            "EMAIL",
            "STATUS",
            "SOURCE",
            "MAILBOX",
            "OWNER",
            "ACCOUNT",
            "CLAIMED AT",
            "REASON",
        ]);
        for r in &rows {
            let f = fields(r, now);
            let shown = f[..2].iter().chain([&f[9]]).chain(&f[2..6]).chain([&f[8]]);
            table.row(shown.map(|f| output::cell(f)).collect());
        }
        table.write(&mut out)?;
        if rows.len() < found {
            writeln!(
                out,
                "{} of {found} aliases shown (--limit {limit}; --limit 0 shows all)",
                rows.len()
            )?;
        } else {
            match rows.iter().filter(|r| r.minted).count() {
                0 => writeln!(out, "{found} aliases")?,
                minted => writeln!(out, "{found} addresses, {minted} of them minted")?,
            }
        }
    }
    out.flush()?;
    if rows.len() < found && (args.json || args.csv) {
        eprintln!(
            "{} of {found} aliases written (--limit {limit})",
            rows.len()
        );
    }
    Ok(Outcome::Success)
}

/// The reason shown for a free row that still carries a claim token.
const STALE_TOKEN: &str = "free but still carries a claim token (an older tool released it, or a \
release was cut short): nobody holds it";

const COLUMNS: [&str; 10] = [
    "email",
    "status",
    "root_mailbox",
    "owner",
    "aws_account_id",
    "claimed_at",
    "reusable_after",
    "id",
    "reason",
    "source",
];

/// A row's values in the order of [`COLUMNS`]. The reason says why an
/// `unusable` row is never handed out, why a retired one was retired, or
/// that a free one still carries a claim token.
fn fields(r: &AliasRow, now: OffsetDateTime) -> Vec<String> {
    let reason = match r.unusable_reason(now) {
        Some(why) => why,
        None if r.has_stale_claim_token() => STALE_TOKEN.to_owned(),
        None => r.retired_reason.clone(),
    };
    vec![
        r.email.clone(),
        output::status_text(r, now).to_owned(),
        r.root_mailbox.clone(),
        r.owner.clone(),
        r.aws_account_id.clone(),
        output::format_time(r.claimed_at),
        output::format_time(r.reusable_after),
        r.id.clone(),
        reason,
        output::source_text(r).to_owned(),
    ]
}
