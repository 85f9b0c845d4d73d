//! `rootmail audit`: compares the pool with the AWS accounts that exist
//! (read from AWS Organizations with `--aws`, or from the JSON `aws
//! organizations list-accounts` prints with `--accounts`) and with the
//! mailboxes in Exchange Online (`--exchange`, through Microsoft Graph).
//! With `--fix` it links, retires, marks unroutable and imports, each write
//! conditional on the row as audited, after showing the plan and asking.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{ArgGroup, Args};
use rootmail::store::audit::{
    parse_accounts, AuditReport, ExchangeInput, Finding, FindingKind, MailboxLookup, OrgAccount,
    Severity,
};
use rootmail::store::StoreError;
use serde_json::{json, Value};

use crate::connection::ConnectionArgs;
use crate::output::{self, cell, Table};
use crate::prompt::confirm;
use crate::Outcome;

/// The part of `audit --help` after the options.
pub fn help() -> String {
    let mut text = String::from(
        "AWS never gives a root e-mail address back: closed accounts and accounts that left the\n\
         organization keep theirs; only changing an account's primary e-mail frees its address.\n\
         AWS compares addresses without regard to letter case. An alias its mailbox does not\n\
         have bounces the account's root mail. Findings:\n",
    );
    for kind in FindingKind::ALL {
        text.push_str(&format!(
            "  {:<24} {:<8}  {}\n",
            kind.as_str(),
            kind.severity().as_str(),
            kind.summary()
        ));
    }
    text.push_str(
        "\nThe accounts must be the whole organization: a list with `NextToken` set (one page of\n\
         several) or without any account is refused.\n\n\
         Exit codes: 0 no findings, 2 critical findings, 4 only warnings (after --fix: what is\n\
         left), 1 error, 3 a row changed while fixing.\n\n\
         --aws reads the organization's accounts with the standard AWS credential chain\n\
         (AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE, instance\n\
         and container roles; AWS_ENDPOINT_URL is respected); the identity needs\n\
         organizations:ListAccounts. --exchange signs in to Microsoft Graph with the Azure AD\n\
         credential of the connection settings (a storage key cannot), which needs the\n\
         application permission User.Read.All.\n\n\
         Examples:\n  \
         rootmail audit --aws --exchange                  # nightly: exit code 2 on critical findings\n  \
         rootmail audit --aws --exchange --fix            # asks first\n  \
         rootmail audit --exchange --mailbox comp009@company.com\n  \
         aws organizations list-accounts > accounts.json && rootmail audit --accounts accounts.json\n  \
         terraform output -json accounts | rootmail audit --accounts - --fix --yes",
    );
    text
}

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("compare_with")
        .args(["accounts", "aws", "exchange"])
        .required(true)
        .multiple(true)
))]
pub struct AuditArgs {
    /// The accounts as JSON: the output of `aws organizations list-accounts`,
    /// or `jsonencode(data.aws_organizations_organization.<name>.accounts)`;
    /// `-` reads standard input.
    #[arg(long, value_name = "FILE", conflicts_with = "aws")]
    pub accounts: Option<PathBuf>,
    /// Read every account of the organization from AWS Organizations (all
    /// pages), with the standard AWS credential chain.
    #[arg(long)]
    pub aws: bool,
    /// Read the addresses of every mailbox the pool uses from Exchange Online
    /// (Microsoft Graph), with the connection's Azure AD credential.
    #[arg(long)]
    pub exchange: bool,
    /// With --exchange, check this mailbox too (repeatable): one that has no
    /// aliases in the pool yet.
    #[arg(long = "mailbox", value_name = "MAILBOX", requires = "exchange")]
    pub mailboxes: Vec<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Make the fixes, each write conditional on the row as audited; shows
    /// the plan and asks first.
    #[arg(long)]
    pub fix: bool,
    /// Do not ask before fixing (required when standard input is not a
    /// terminal, e.g. with `--accounts -`).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

pub async fn run(connection: &ConnectionArgs, args: &AuditArgs) -> anyhow::Result<Outcome> {
    let store = connection.connect()?;
    let accounts = read_accounts(connection, args).await?;
    let graph = match args.exchange {
        true => Some(connection.graph()?),
        false => None,
    };
    let lookup = graph.as_ref().map(|graph| MailboxLookup {
        graph,
        extra: args.mailboxes.clone(),
    });
    let report = store
        .audit(
            accounts.as_deref(),
            lookup.as_ref().map(ExchangeInput::Read),
        )
        .await
        .context("cannot audit the pool")?;
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
        let entry = |outcome: &str| {
            json!({
                "email": f.email, "alias_id": alias_id(f), "kind": f.kind.as_str(),
                "fix": f.fix.as_ref().map(ToString::to_string), "outcome": outcome,
            })
        };
        match store.apply_fix(f).await {
            Ok(_) => applied.push(entry("fixed")),
            Err(e @ StoreError::Changed { .. }) => {
                changed += 1;
                eprintln!("refused: {}: {e}", cell(&f.email));
                applied.push(entry("changed"));
            }
            Err(e) => return Err(e).context(format!("cannot fix {}", f.email)),
        }
    }
    // What is left is what the exit code reports, against what was read.
    let after = store
        .audit(
            accounts.as_deref(),
            report.exchange.as_deref().map(ExchangeInput::Known),
        )
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

/// The AWS accounts: from Organizations, from a file, or none.
async fn read_accounts(
    connection: &ConnectionArgs,
    args: &AuditArgs,
) -> anyhow::Result<Option<Vec<OrgAccount>>> {
    if args.aws {
        let reader = connection.organizations().await?;
        let accounts = reader
            .list_accounts()
            .await
            .context("--aws: cannot read the organization's accounts")?;
        return Ok(Some(accounts.iter().map(OrgAccount::from).collect()));
    }
    let Some(path) = &args.accounts else {
        return Ok(None);
    };
    let text = read_file(path)?;
    let accounts =
        parse_accounts(&text).map_err(|e| anyhow::anyhow!("--accounts {}: {e}", path.display()))?;
    Ok(Some(accounts))
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

fn read_file(path: &PathBuf) -> anyhow::Result<String> {
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
        "mailbox": f.mailbox,
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
            "mailboxes": report.exchange.as_ref().map(Vec::len),
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
        "{}: {critical} critical, {warnings} warnings",
        compared(report)
    )?;
    if report.findings.is_empty() {
        return Ok(());
    }
    let mut table = Table::new(&[
        "SEVERITY", "FINDING", "EMAIL", "STATUS", "ACCOUNT", "MAILBOX", "FIX",
    ]);
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
            cell(&f.mailbox),
            f.fix.as_ref().map(ToString::to_string).unwrap_or_default(),
        ]);
    }
    table.write(&mut out)?;
    for f in &report.findings {
        writeln!(out, "- {}", cell(&f.message))?;
    }
    Ok(())
}

/// "compared 12 pool rows with 30 AWS accounts and 2 mailboxes".
fn compared(report: &AuditReport) -> String {
    let mut with = Vec::new();
    if report.accounts > 0 || report.exchange.is_none() {
        with.push(format!("{} AWS accounts", report.accounts));
    }
    if let Some(mailboxes) = &report.exchange {
        with.push(format!("{} mailboxes", mailboxes.len()));
    }
    format!(
        "compared {} pool rows with {}",
        report.aliases,
        with.join(" and ")
    )
}

fn alias_id(f: &Finding) -> &str {
    f.row.as_ref().map(|r| r.id.as_str()).unwrap_or_default()
}
