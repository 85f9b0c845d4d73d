//! `rootmail pool …`: statistics and listings of the whole pool (as tables
//! for people, JSON or CSV for scripts), and the dispatch of `import` and
//! `generate`, which live in their own modules.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use rootmail::safe_text;
use rootmail::store::{AliasFilter, AliasPool, AliasRow, AliasStatus, StatusCounts};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::duration::parse_duration;
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// Counts per status, overall and per shared mailbox.
    #[command(
        after_help = "Examples:\n  rootmail pool stats\n  rootmail pool stats \
        --mailbox comp003@company.com --json\n  rootmail pool stats --min-free 50 || alert \
        \"alias pool running low\""
    )]
    Stats(StatsArgs),
    /// Lists aliases, optionally filtered.
    #[command(
        after_help = "Examples:\n  rootmail pool list --status claimed --owner \
        alice@company.com\n  rootmail pool list --unlinked-for 7d --csv > orphans.csv"
    )]
    List(ListArgs),
    /// Adds aliases from a CSV file or an Exchange `EmailAddresses` export.
    #[command(after_help = crate::import::IMPORT_HELP)]
    Import(ImportArgs),
    /// Invents new aliases: writes the Exchange Online script that creates
    /// them and the CSV to import afterwards. Writes no table rows.
    #[command(
        after_help = "Example:\n  rootmail pool generate --mailbox comp003@company.com \
        --domain company.com --count 300 --out new\n  # then run new/add-aliases.ps1 after \
        Connect-ExchangeOnline, and: rootmail pool import new/aliases.csv"
    )]
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Only this shared mailbox.
    #[arg(long, value_name = "MAILBOX")]
    pub mailbox: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Exit with code 2 when fewer than N aliases can be claimed now
    /// (free ones plus quarantined ones whose waiting time is over).
    #[arg(long, value_name = "N")]
    pub min_free: Option<u64>,
}

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

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to read (`-` for standard input).
    pub file: PathBuf,
    /// Create the table first if it does not exist.
    #[arg(long)]
    pub create_table: bool,
    /// Mailbox for lines that name none.
    #[arg(long, value_name = "MAILBOX")]
    pub mailbox: Option<String>,
    /// Only import addresses in this domain (others are counted as skipped),
    /// e.g. to leave out the tenant's onmicrosoft.com addresses of an export.
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The shared mailbox that receives the aliases' mail.
    #[arg(long, value_name = "MAILBOX")]
    pub mailbox: String,
    /// Domain of the new aliases (an accepted domain of the tenant).
    #[arg(long, value_name = "DOMAIN")]
    pub domain: String,
    /// How many aliases to invent.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub count: u32,
    /// Folder for add-aliases.ps1 and aliases.csv (created if missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Overwrite existing add-aliases.ps1 / aliases.csv in the folder.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(store: &AliasPool, command: PoolCommand) -> anyhow::Result<Outcome> {
    match command {
        PoolCommand::Stats(args) => stats(store, &args).await,
        PoolCommand::List(args) => {
            list(store, &args).await?;
            Ok(Outcome::Success)
        }
        PoolCommand::Import(args) => {
            crate::import::run(store, &args).await?;
            Ok(Outcome::Success)
        }
        PoolCommand::Generate(args) => {
            crate::generate::run(&args)?;
            Ok(Outcome::Success)
        }
    }
}

/// Aliases a claim can take right now.
fn claimable(c: &StatusCounts) -> u64 {
    c.free.saturating_sub(c.unusable) + c.quarantine_over
}

async fn stats(store: &AliasPool, args: &StatsArgs) -> anyhow::Result<Outcome> {
    let stats = store
        .stats(args.mailbox.as_deref())
        .await
        .context("cannot read the pool statistics")?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let mailboxes: serde_json::Map<String, Value> = stats
            .by_mailbox
            .iter()
            .map(|(m, c)| (m.clone(), counts_json(c)))
            .collect();
        let doc = json!({
            "table": store.table_name(),
            "partition_key": store.partition_key(),
            "total": counts_json(&stats.all),
            "mailboxes": mailboxes,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        writeln!(
            out,
            "table {} (partition {})",
            store.table_name(),
            store.partition_key()
        )?;
        let mut rows: Vec<(String, &StatusCounts)> = stats
            .by_mailbox
            .iter()
            .map(|(m, c)| {
                (
                    if m.is_empty() {
                        "(none)".to_owned()
                    } else {
                        safe_text::for_terminal(m).into_owned()
                    },
                    c,
                )
            })
            .collect();
        rows.push(("TOTAL".to_owned(), &stats.all));
        let width = rows.iter().map(|(m, _)| m.len()).max().unwrap_or(0).max(7);
        writeln!(
            out,
            "{:<width$}  {:>7}  {:>7}  {:>7}  {:>11}  {:>8}  {:>7}",
            "MAILBOX", "TOTAL", "FREE", "CLAIMED", "QUARANTINED", "REUSABLE", "RETIRED"
        )?;
        for (mailbox, c) in rows {
            writeln!(
                out,
                "{:<width$}  {:>7}  {:>7}  {:>7}  {:>11}  {:>8}  {:>7}",
                mailbox, c.total, c.free, c.claimed, c.quarantined, c.quarantine_over, c.retired
            )?;
        }
    }
    out.flush()?;
    if let Some(min) = args.min_free {
        let available = claimable(&stats.all);
        if available < min {
            eprintln!(
                "alert: only {available} claimable aliases{} (minimum {min})",
                args.mailbox
                    .as_deref()
                    .map(|m| format!(" in mailbox {m}"))
                    .unwrap_or_default()
            );
            return Ok(Outcome::Alert);
        }
    }
    Ok(Outcome::Success)
}

fn counts_json(c: &StatusCounts) -> Value {
    json!({
        "total": c.total,
        "free": c.free,
        "claimed": c.claimed,
        "quarantined": c.quarantined,
        "quarantine_over": c.quarantine_over,
        "retired": c.retired,
        "unusable": c.unusable,
        "claimable": claimable(c),
    })
}

async fn list(store: &AliasPool, args: &ListArgs) -> anyhow::Result<()> {
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
        let doc: Vec<Value> = rows.iter().map(|r| row_json(r, false)).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else if args.csv {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(LIST_COLUMNS)?;
        for r in &rows {
            w.write_record(list_fields(r).map(|f| safe_text::csv_cell(&f).into_owned()))?;
        }
        w.flush()?;
    } else {
        print_table(&mut out, &rows)?;
        writeln!(out, "{} aliases", rows.len())?;
    }
    out.flush()?;
    Ok(())
}

const LIST_COLUMNS: [&str; 8] = [
    "email",
    "status",
    "root_mailbox",
    "owner",
    "aws_account_id",
    "claimed_at",
    "reusable_after",
    "id",
];

fn list_fields(r: &AliasRow) -> [String; 8] {
    [
        r.email.clone(),
        r.status.to_string(),
        r.root_mailbox.clone(),
        r.owner.clone(),
        r.aws_account_id.clone(),
        format_time(r.claimed_at),
        format_time(r.reusable_after),
        r.id.clone(),
    ]
}

fn print_table(out: &mut impl Write, rows: &[AliasRow]) -> std::io::Result<()> {
    let headers = [
        "EMAIL",
        "STATUS",
        "MAILBOX",
        "OWNER",
        "ACCOUNT",
        "CLAIMED AT",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let f = list_fields(r).map(|v| safe_text::for_terminal(&v).into_owned());
            [
                f[0].clone(),
                f[1].clone(),
                f[2].clone(),
                f[3].clone(),
                f[4].clone(),
                f[5].clone(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, fields: &[&str]| -> std::io::Result<()> {
        let mut text = String::new();
        for (i, (f, w)) in fields.iter().zip(widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(&format!("{f:<w$}"));
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, &headers)?;
    for row in &cells {
        let fields: Vec<&str> = row.iter().map(String::as_str).collect();
        line(out, &fields)?;
    }
    Ok(())
}

/// An RFC 3339 time, or empty.
pub fn format_time(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}

/// A row as JSON; the claim token only when asked (it is enough to release
/// the alias, so listings leave it out).
pub fn row_json(r: &AliasRow, with_token: bool) -> Value {
    let mut v = json!({
        "id": r.id,
        "email": r.email,
        "status": r.status.as_str(),
        "in_use": r.in_use,
        "owner": r.owner,
        "root_mailbox": r.root_mailbox,
        "aws_account_id": r.aws_account_id,
        "purpose": r.purpose,
        "claimed_at": r.claimed_at.map(|t| format_time(Some(t))),
        "reusable_after": r.reusable_after.map(|t| format_time(Some(t))),
        "has_claim_token": r.claim_token.is_some(),
        "used_by_account": r.used_by_account(),
        "retired_reason": r.retired_reason,
    });
    if with_token {
        v["claim_token"] = json!(r.claim_token.as_ref().map(|t| t.as_str()));
    }
    v
}
