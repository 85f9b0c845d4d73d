//! `rootmail`: the admin command line for the alias pool. It fills the pool
//! (generate the Exchange script, import aliases), shows how it stands
//! (stats, list, orphaned claims) and makes careful manual fixes to single
//! aliases (release, retire, link), all through `rootmail::store`.

mod address;
mod alias;
mod audit;
mod connection;
mod duration;
mod output;
mod pool;
mod prompt;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use connection::ConnectionArgs;

const EXAMPLES: &str = "\
Examples:
  # Local pool in Azurite
  export ROOTMAIL_TABLE_ENDPOINT=http://127.0.0.1:10002/devstoreaccount1 ROOTMAIL_USE_EMULATOR=true
  rootmail pool generate --mailbox comp003@company.com --domain company.com --count 300 --out new
  #   ... run new/add-aliases.ps1 in Exchange Online PowerShell, then:
  rootmail pool import --create-table new/aliases.csv
  rootmail pool stats --min-free 50          # exit code 2 when fewer than 50 are free
  rootmail pool list --unlinked-for 7d       # claims never linked to an AWS account
  rootmail alias show aws_1234@company.com
  rootmail audit --aws --exchange            # the pool against AWS and Exchange Online

  # A real storage account with Azure AD (az login)
  rootmail --storage-account mystorage --use-cli pool stats --json";

const EXIT_CODES: &str = "\
Exit codes: 0 success, 1 error (also usage errors, and `pool import` of a file with
invalid lines, after importing the valid ones), 2 `pool stats --min-free` alert or
critical `audit` findings, 3 refused because the alias changed or is held by another
claim, 4 `audit` found only warnings.";

/// Admin tool for the pool of AWS root-user e-mail aliases kept in an Azure Table.
#[derive(Debug, Parser)]
#[command(
    name = "rootmail",
    version,
    about,
    after_help = format!("{EXAMPLES}\n\n{}\n\n{EXIT_CODES}", connection::environment_help())
)]
struct Cli {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The pool as a whole: statistics, listing, filling it.
    #[command(subcommand)]
    Pool(pool::PoolCommand),
    /// One alias: show it, or fix it by hand.
    #[command(subcommand)]
    Alias(alias::AliasCommand),
    /// Compares the pool with the AWS accounts that exist and with the
    /// mailboxes in Exchange Online: addresses in use that the pool could
    /// hand out, aliases whose mail bounces, addresses the pool lacks.
    #[command(after_help = audit::help())]
    Audit(audit::AuditArgs),
}

/// How a command ended when it did not simply succeed or fail.
#[derive(Debug)]
pub enum Outcome {
    Success,
    /// `pool stats --min-free` found too few free aliases, or `audit` found
    /// critical problems.
    Alert,
    /// `audit` found only warnings.
    Warnings,
}

/// A deliberate refusal because the alias is not in the state that was shown
/// or asserted; exits with code 3 so scripts can tell it from other errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn main() -> ExitCode {
    // Usage errors exit 1 (not clap's 2, which means "pool running low" here).
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(cli.command.run(&cli.connection));
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Alert) => ExitCode::from(2),
        Ok(Outcome::Warnings) => ExitCode::from(4),
        Err(e) => {
            // Belt and braces: whatever an error chain carries, secrets from
            // the environment are blanked before anything is printed.
            let text = connection::scrub_secrets(&chain_text(&e));
            // Errors quote table values; none may drive the terminal.
            eprintln!("error: {}", rootmail::safe_text::for_message(&text));
            if e.downcast_ref::<Refused>().is_some() {
                ExitCode::from(3)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// An error with its causes on one line, each cause left out when an
/// outer message already quotes it (errors that embed their source would
/// otherwise print its text twice).
fn chain_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

impl Command {
    async fn run(self, connection: &ConnectionArgs) -> anyhow::Result<Outcome> {
        match self {
            Command::Pool(cmd) => cmd.run(connection).await,
            Command::Alias(cmd) => alias::run(&connection.connect()?, cmd).await,
            Command::Audit(args) => audit::run(connection, &args).await,
        }
    }
}

/// Logs go to stderr, quiet unless ROOTMAIL_LOG asks (e.g. `ROOTMAIL_LOG=debug`).
/// Whatever it asks, the crates that log credentials stay capped at warn and
/// every line is redacted (see `rootmail::redact`).
fn init_logging() {
    use tracing_subscriber::filter::FilterExt;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter = tracing_subscriber::EnvFilter::try_from_env("ROOTMAIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // No colours: escape codes between a field's name and its value would
    // hide the pair from redaction.
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(rootmail::redact::Redacting(std::io::stderr))
        .with_filter(filter.and(rootmail::redact::log_caps()));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}
