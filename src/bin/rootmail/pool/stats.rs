//! `rootmail pool stats`: counts per status, overall and per shared
//! mailbox, with an exit code for monitoring (`--min-free`).

use std::io::Write;

use anyhow::Context;
use clap::Args;
use rootmail::store::{AliasPool, StatusCounts};
use serde_json::{json, Value};

use crate::output::{self, Table};
use crate::Outcome;

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Only this shared mailbox.
    #[arg(long, value_name = "MAILBOX")]
    pub mailbox: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Exit with code 2 when fewer than N aliases can be claimed now (the
    /// CLAIMABLE column: free ones plus reusable ones).
    #[arg(long, value_name = "N")]
    pub min_free: Option<u64>,
}

pub async fn run(store: &AliasPool, args: &StatsArgs) -> anyhow::Result<Outcome> {
    let stats = store
        .stats(args.mailbox.as_deref())
        .await
        .context("cannot read the pool statistics")?;
    if stats.all.total == 0 {
        super::require_rows(store).await?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let mailboxes: serde_json::Map<String, Value> = stats
            .by_mailbox
            .iter()
            .map(|(m, c)| (m.clone(), counts_json(c)))
            .collect();
        let reasons: serde_json::Map<String, Value> = stats
            .all
            .unusable_reasons
            .named()
            .iter()
            .map(|(why, n)| (why.to_string(), json!(n)))
            .collect();
        let minting: Vec<Value> = stats
            .minting_mailboxes
            .iter()
            .map(|m| {
                json!({
                    "mailbox": m.mailbox,
                    "mints": format!("{}+<id>@{}", m.prefix, m.domain),
                    "registered_by": m.registered_by,
                    "registered_at": output::format_time(m.registered_at),
                    "plus_addressing_checked_at": output::format_time(m.plus_addressing_checked_at),
                    "plus_addressing_check": m.plus_addressing_check,
                })
            })
            .collect();
        let doc = json!({
            "table": store.table_name(),
            "partition_key": store.partition_key(),
            "total": counts_json(&stats.all),
            "unusable_reasons": reasons,
            "minted": counts_json(&stats.minted),
            "mailboxes": mailboxes,
            "minting_mailboxes": minting,
        });
        writeln!(out, "{}", output::json_text(&doc))?;
    } else {
        writeln!(
            out,
            "table {} (partition {})",
            store.table_name(),
            store.partition_key()
        )?;
        let names = StatusCounts::default()
            .named()
            .map(|(n, _)| n.to_ascii_uppercase());
        let headers: Vec<&str> = std::iter::once("MAILBOX")
            .chain(names.iter().map(String::as_str))
            .collect();
        let mut table = Table::new(&headers).numbers_from(1, 7);
        let named = stats.by_mailbox.iter().map(|(m, c)| {
            let name = if m.is_empty() {
                "(none)".to_owned()
            } else {
                output::cell(m)
            };
            (name, c)
        });
        let totals = [
            ("TOTAL".to_owned(), &stats.all),
            ("of which minted".to_owned(), &stats.minted),
        ];
        for (mailbox, c) in named.chain(totals) {
            table.row(
                std::iter::once(mailbox)
                    .chain(c.named().iter().map(|(_, n)| n.to_string()))
                    .collect(),
            );
        }
        table.write(&mut out)?;
        let reasons: Vec<String> = stats
            .all
            .unusable_reasons
            .named()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(why, n)| format!("{n} {why}"))
            .collect();
        if !reasons.is_empty() {
            writeln!(
                out,
                "unusable: {} (`pool list --status unusable` shows each with its reason)",
                reasons.join(", ")
            )?;
        }
        for m in &stats.minting_mailboxes {
            writeln!(
                out,
                "minting mailbox {}: mints {}+<id>@{} (plus addressing checked {}{})",
                output::cell(&m.mailbox),
                output::cell(&m.prefix),
                output::cell(&m.domain),
                output::format_time(m.plus_addressing_checked_at),
                if m.registered_by.is_empty() {
                    String::new()
                } else {
                    format!(" by {}", output::cell(&m.registered_by))
                }
            )?;
        }
    }
    out.flush()?;
    if let Some(min) = args.min_free {
        let available = stats.all.claimable();
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
    Value::Object(
        c.named()
            .iter()
            .map(|(n, v)| (n.to_string(), json!(v)))
            .collect(),
    )
}
