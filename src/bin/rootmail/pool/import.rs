//! `rootmail pool import`: reads aliases from a file (see `aliases_file`),
//! skips the ones the table already has, and writes the rest as free rows in
//! the legacy layout, in entity-group batches.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use futures::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use rootmail::azure::AzureError;
use rootmail::store::{AliasFilter, AliasPool, LegacyRow, StoreError};

use super::aliases_file::{decode, parse, Invalid, Parsed};
use crate::address::{check_address, check_domain};
use crate::Outcome;

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

/// How many rows go into one entity-group transaction (the service's limit).
const BATCH: usize = 100;
/// Batches in flight at once.
const PARALLEL_BATCHES: usize = 4;
/// Invalid lines printed in full before the rest are only counted.
const SHOWN_INVALID: usize = 20;

/// What an import did.
#[derive(Debug, Default)]
struct Summary {
    read: usize,
    added: usize,
    in_table: usize,
    repeated: usize,
    invalid: usize,
}

pub async fn run(store: &AliasPool, args: &ImportArgs) -> anyhow::Result<Outcome> {
    if let Some(m) = &args.mailbox {
        check_address(m).map_err(|r| anyhow::anyhow!("--mailbox `{m}`: {r}"))?;
    }
    if let Some(d) = &args.domain {
        check_domain(d).map_err(|r| anyhow::anyhow!("--domain: {r}"))?;
    }
    let text = read_input(&args.file)?;
    let parsed = parse(&text, args.mailbox.as_deref(), args.domain.as_deref());
    report_invalid(&parsed.invalid);

    if args.create_table {
        super::create_table(store).await?;
    }
    let existing = match store.list(&AliasFilter::default()).await {
        Ok(rows) => rows,
        Err(StoreError::Azure(AzureError::TableNotFound { table })) => bail!(
            "table `{table}` does not exist; pass --create-table to create it (or check --table)"
        ),
        Err(e) => return Err(e).context("cannot read the aliases already in the table"),
    };
    let mut known: HashSet<String> = existing.iter().map(|r| r.email.to_lowercase()).collect();
    let table_count = known.len();

    let mut summary = Summary {
        read: parsed.entries.len() + parsed.invalid.len(),
        invalid: parsed.invalid.len(),
        ..Summary::default()
    };
    let mut in_file: HashSet<String> = HashSet::new();
    let mut rows = Vec::new();
    for e in &parsed.entries {
        let key = e.address.to_lowercase();
        if !in_file.insert(key.clone()) {
            summary.repeated += 1;
        } else if known.contains(&key) {
            summary.in_table += 1;
        } else {
            known.insert(key);
            let id = uuid::Uuid::new_v4().to_string();
            rows.push(LegacyRow {
                id,
                aws_mail: e.address.clone(),
                in_use: false,
                user_mail: String::new(),
                root_mailbox: e.mailbox.clone(),
                aws_account_id: String::new(),
            });
        }
    }
    tracing::debug!(
        table_rows = table_count,
        new = rows.len(),
        "import plan ready"
    );

    let result = write_rows(store, &rows).await;
    summary.added = match &result {
        Ok(n) => *n,
        Err((n, _)) => *n,
    };
    print_summary(&args.file, &parsed, &summary);
    match result {
        Err((added, e)) => Err(e).context(format!(
            "the import stopped after adding {added} of {} new aliases; running it again adds \
             the rest (addresses already in the table are skipped)",
            rows.len()
        )),
        // The valid lines are in; a script still learns that the file was
        // not all good.
        Ok(_) if summary.invalid > 0 => bail!(
            "{} of {} lines were invalid (listed above) and were not imported; the valid ones \
             were. Fix or remove those lines and run the import again (addresses already in the \
             table are skipped)",
            summary.invalid,
            summary.read
        ),
        Ok(_) => Ok(Outcome::Success),
    }
}

fn read_input(path: &Path) -> anyhow::Result<String> {
    let bytes = if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        buf
    } else {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    decode(&bytes).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes the rows in batches of 100, a few batches at a time, with a
/// progress bar (hidden when stderr is not a terminal). On failure, returns
/// how many rows did get written.
async fn write_rows(store: &AliasPool, rows: &[LegacyRow]) -> Result<usize, (usize, StoreError)> {
    if rows.is_empty() {
        return Ok(0);
    }
    let bar = ProgressBar::with_draw_target(Some(rows.len() as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} importing [{bar:40}] {pos}/{len} aliases ({rate}, {eta} left)",
    ) {
        let rate = |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&rate_text(state.per_sec()));
        };
        bar.set_style(style.with_key("rate", rate).progress_chars("=> "));
    }
    let mut results = stream::iter(rows.chunks(BATCH))
        .map(|chunk| async move { (chunk.len(), store.insert_legacy_rows(chunk).await) })
        .buffer_unordered(PARALLEL_BATCHES);
    let mut added = 0;
    let mut failure = None;
    while let Some((len, result)) = results.next().await {
        match result {
            Ok(_) => {
                added += len;
                bar.inc(len as u64);
            }
            Err(e) => {
                // Let the batches already in flight finish, so the count is right.
                failure.get_or_insert(e);
            }
        }
    }
    bar.finish_and_clear();
    match failure {
        None => Ok(added),
        Some(e) => Err((added, e)),
    }
}

/// Aliases per second as a person reads it: whole numbers, a decimal only
/// below 10 (indicatif's own `{per_sec}` prints four).
fn rate_text(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        "-/s".to_owned()
    } else if per_sec < 10.0 {
        format!("{per_sec:.1}/s")
    } else {
        format!("{per_sec:.0}/s")
    }
}

fn report_invalid(invalid: &[Invalid]) {
    for i in invalid.iter().take(SHOWN_INVALID) {
        eprintln!("invalid: line {}: `{}`: {}", i.line, i.text, i.reason);
    }
    if invalid.len() > SHOWN_INVALID {
        eprintln!(
            "invalid: ... and {} more lines",
            invalid.len() - SHOWN_INVALID
        );
    }
}

fn print_summary(file: &Path, parsed: &Parsed, s: &Summary) {
    println!(
        "read:            {} addresses from {}",
        s.read,
        file.display()
    );
    println!("added:           {}", s.added);
    println!(
        "already present: {} ({} in the table, {} repeated in the file)",
        s.in_table + s.repeated,
        s.in_table,
        s.repeated
    );
    println!("invalid:         {}", s.invalid);
    let skipped = parsed.skipped.describe();
    if !skipped.is_empty() {
        println!("skipped:         {}", skipped.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::rate_text;

    #[test]
    fn rates_are_whole_numbers_a_person_reads() {
        assert_eq!(rate_text(6902.8594), "6903/s");
        assert_eq!(rate_text(3.24), "3.2/s");
        assert_eq!(rate_text(0.0), "-/s");
        assert_eq!(rate_text(f64::INFINITY), "-/s");
    }
}
