//! `rootmail audit`: compares the pool with the AWS accounts that exist,
//! read from the JSON `aws organizations list-accounts` prints (or the list
//! `data.aws_organizations_organization.accounts` holds, through
//! `jsonencode`). With `--fix` it links and retires, each write conditional
//! on the row as audited, after showing the plan and asking.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use rootmail::store::audit::{parse_accounts, AuditReport, Finding, Severity};
use rootmail::store::{AliasPool, StoreError};
use serde_json::{json, Value};

use crate::output::{self, cell, Table};
use crate::prompt::confirm;
use crate::Outcome;

pub const AUDIT_HELP: &str = "\
AWS never gives a root e-mail address back: closed accounts and accounts that left the
organization keep theirs; only changing an account's primary e-mail frees its address.
AWS compares addresses without regard to letter case. Findings:
  free_address_in_use      critical  a free or quarantined row whose address an account uses
  unlinked_address_in_use  critical  a claimed row not linked to the account using its address
  duplicate_address        critical  another row has the same address in other letter case
  retired_without_account  warning   a retired row that does not record the account using it
  linked_to_other_account  warning   the row names another account than the one using it
  linked_account_missing   warning   the linked account is not in the list (left the organization?)
  linked_account_closed    warning   the linked account is suspended or closed
  free_with_claim_token    warning   a free row still carrying a claim token (nobody holds it)
--fix links the first two (and retires free ones), retires free and quarantined duplicates,
and records the account on retired rows.

The accounts must be the whole organization: a list with `NextToken` set (one page of
several) or without any account is refused.

Exit codes: 0 no findings, 2 critical findings, 4 only warnings (after --fix: what is left),
1 error, 3 a row changed while fixing.

Examples:
  aws organizations list-accounts > accounts.json
  rootmail audit --accounts accounts.json
  aws organizations list-accounts | rootmail audit --accounts - --json
  rootmail audit --accounts accounts.json --fix            # asks first
  terraform output -json accounts | rootmail audit --accounts - --fix --yes";

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The accounts as JSON: the output of `aws organizations list-accounts`,
    /// or `jsonencode(data.aws_organizations_organization.<name>.accounts)`;
    /// `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub accounts: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Link and retire what can be fixed, each write conditional on the row
    /// as audited; shows the plan and asks first.
    #[arg(long)]
    pub fix: bool,
    /// Do not ask before fixing (required when standard input is not a
    /// terminal, e.g. with `--accounts -`).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

pub async fn run(store: &AliasPool, args: &AuditArgs) -> anyhow::Result<Outcome> {
    let text = read_accounts(&args.accounts)?;
    let accounts = parse_accounts(&text)
        .map_err(|e| anyhow::anyhow!("--accounts {}: {e}", args.accounts.display()))?;
    let report = store
        .audit(Some(&accounts), None)
        .await
        .context("cannot read the pool")?;
    if !args.fix {
        print_report(&report, args.json, &[])?;
        return Ok(outcome(&report));
    }
    let fixable: Vec<&Finding> = report.findings.iter().filter(|f| f.fix.is_some()).collect();
    if fixable.is_empty() {
        print_report(&report, args.json, &[])?;
        return Ok(outcome(&report));
    }
    // The plan goes where the user reads it: stderr when stdout is JSON.
    let mut plan = String::from("planned fixes:\n");
    for f in &fixable {
        if let Some(fix) = &f.fix {
            plan.push_str(&format!("  {}: {}\n", cell(&f.email), fix));
        }
    }
    if args.json {
        eprint!("{plan}");
    } else {
        print!("{plan}");
        let _ = std::io::stdout().flush();
    }
    confirm(&format!("make these {} fixes", fixable.len()), args.yes)?;
    let mut applied = Vec::new();
    let mut changed = 0usize;
    for f in fixable {
        match store.apply_fix(f).await {
            Ok(_) => applied.push(json!({
                "email": f.email, "alias_id": alias_id(f), "kind": f.kind.as_str(),
                "fix": f.fix.as_ref().map(ToString::to_string), "outcome": "fixed",
            })),
            Err(e @ StoreError::Changed { .. }) => {
                changed += 1;
                eprintln!("refused: {}: {e}", cell(&f.email));
                applied.push(json!({
                    "email": f.email, "alias_id": alias_id(f), "kind": f.kind.as_str(),
                    "fix": f.fix.as_ref().map(ToString::to_string), "outcome": "changed",
                }));
            }
            Err(e) => return Err(e).context(format!("cannot fix {}", f.email)),
        }
    }
    // What is left is what the exit code reports.
    let after = store
        .audit(Some(&accounts), None)
        .await
        .context("cannot read the pool again")?;
    print_report(&after, args.json, &applied)?;
    if changed > 0 {
        return Err(crate::Refused(format!(
            "{changed} alias(es) changed while fixing; nothing was written to them. Run the audit again"
        ))
        .into());
    }
    Ok(outcome(&after))
}

fn outcome(report: &AuditReport) -> Outcome {
    if report.count(Severity::Critical) > 0 {
        Outcome::Alert
    } else if !report.findings.is_empty() {
        Outcome::Warnings
    } else {
        Outcome::Success
    }
}

fn read_accounts(path: &PathBuf) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the accounts from standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --accounts {}", path.display()))
    }
}

fn finding_json(f: &Finding) -> Value {
    json!({
        "kind": f.kind.as_str(),
        "severity": f.severity().as_str(),
        "email": f.email,
        "alias_id": alias_id(f),
        "alias_status": f.row.as_ref().map(|r| r.status.as_str()).unwrap_or_default(),
        "linked_account": f.row.as_ref().map(|r| r.aws_account_id.as_str()).unwrap_or_default(),
        "aws_account_id": f.account_id,
        "message": f.message,
        "fix": f.fix.as_ref().map(ToString::to_string),
    })
}

fn print_report(report: &AuditReport, json: bool, applied: &[Value]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let critical = report.count(Severity::Critical);
    let warnings = report.count(Severity::Warning);
    if json {
        let mut doc = json!({
            "aliases": report.aliases,
            "accounts": report.accounts,
            "critical": critical,
            "warnings": warnings,
            "findings": report.findings.iter().map(finding_json).collect::<Vec<_>>(),
        });
        if !applied.is_empty() {
            doc["fixes"] = Value::Array(applied.to_vec());
        }
        writeln!(out, "{}", output::json_text(&doc))?;
        return Ok(());
    }
    for a in applied {
        writeln!(
            out,
            "{}: {} ({})",
            a["outcome"].as_str().unwrap_or_default(),
            cell(a["email"].as_str().unwrap_or_default()),
            a["fix"].as_str().unwrap_or_default()
        )?;
    }
    writeln!(
        out,
        "compared {} pool rows with {} AWS accounts: {critical} critical, {warnings} warnings",
        report.aliases, report.accounts
    )?;
    if report.findings.is_empty() {
        return Ok(());
    }
    let mut table = Table::new(&["SEVERITY", "FINDING", "EMAIL", "STATUS", "ACCOUNT", "FIX"]);
    for f in &report.findings {
        table.row(vec![
            f.severity().as_str().to_owned(),
            f.kind.as_str().to_owned(),
            cell(&f.email),
            f.row
                .as_ref()
                .map(|r| r.status.to_string())
                .unwrap_or_default(),
            f.account_id.clone(),
            f.fix.as_ref().map(ToString::to_string).unwrap_or_default(),
        ]);
    }
    table.write(&mut out)?;
    for f in &report.findings {
        writeln!(out, "- {}", cell(&f.message))?;
    }
    Ok(())
}

fn alias_id(f: &Finding) -> &str {
    f.row.as_ref().map(|r| r.id.as_str()).unwrap_or_default()
}
