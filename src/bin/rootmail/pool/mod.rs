//! `rootmail pool …`: the pool as a whole. Each subcommand lives in its own
//! module with its arguments and its `run`.

mod aliases_file;
mod generate;
mod import;
mod list;
mod minting;
mod stats;

use anyhow::Context;
use clap::Subcommand;
use rootmail::store::{AliasPool, PartitionState};

use crate::connection::ConnectionArgs;
use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// Counts per status, overall and per shared mailbox.
    #[command(
        after_help = "Examples:\n  rootmail pool stats\n  rootmail pool stats \
        --mailbox comp003@company.com --json\n  rootmail pool stats --min-free 50 || alert \
        \"alias pool running low\""
    )]
    Stats(stats::StatsArgs),
    /// Lists aliases, optionally filtered.
    #[command(
        after_help = "Examples:\n  rootmail pool list --status claimed --owner \
        alice@company.com\n  rootmail pool list --unlinked-for 7d --csv > orphans.csv"
    )]
    List(list::ListArgs),
    /// Adds aliases from a CSV file or an Exchange `EmailAddresses` export.
    #[command(after_help = aliases_file::FORMATS_HELP)]
    Import(import::ImportArgs),
    /// Invents new aliases: writes the Exchange Online script that creates
    /// them and the CSV to import afterwards. Writes no table rows.
    #[command(
        after_help = "Example:\n  rootmail pool generate --mailbox comp003@company.com \
        --domain company.com --count 300 --out new\n  # then run new/add-aliases.ps1 after \
        Connect-ExchangeOnline, and: rootmail pool import new/aliases.csv"
    )]
    Generate(generate::GenerateArgs),
    /// Registers a mailbox claims may mint plus addresses for
    /// (`prefix+id@domain`) when no alias is free or when told to.
    #[command(after_help = minting::CHECK_HELP)]
    AddMintingMailbox(minting::AddArgs),
    /// Stops minting for a mailbox (rows minted for it stay).
    RemoveMintingMailbox(minting::RemoveArgs),
}

impl PoolCommand {
    pub async fn run(self, connection: &ConnectionArgs) -> anyhow::Result<Outcome> {
        match self {
            PoolCommand::Stats(args) => stats::run(&connection.connect()?, &args).await,
            PoolCommand::List(args) => list::run(&connection.connect()?, &args).await,
            PoolCommand::Import(args) => import::run(&connection.connect()?, &args).await,
            // Writes files only: no connection needed.
            PoolCommand::Generate(args) => generate::run(&args),
            PoolCommand::AddMintingMailbox(args) => {
                minting::add(&connection.connect()?, &args).await
            }
            PoolCommand::RemoveMintingMailbox(args) => {
                minting::remove(&connection.connect()?, &args).await
            }
        }
    }
}

/// Fails when the pool's partition has no rows at all, naming the
/// partitions the table does have: a count of 0 from a mistyped partition
/// key would send the user to add aliases to the wrong partition.
async fn require_rows(store: &AliasPool) -> anyhow::Result<()> {
    match store
        .probe()
        .await
        .context("cannot read the pool's partition")?
    {
        PartitionState::HasRows => Ok(()),
        PartitionState::Empty { others, more } => Err(store.partition_empty(others, more).into()),
    }
}

/// Creates the table (`--create-table`), saying so when it did not exist.
async fn create_table(store: &AliasPool) -> anyhow::Result<()> {
    if store
        .ensure_table()
        .await
        .context("cannot create the table")?
    {
        eprintln!("created table {}", store.table_name());
    }
    Ok(())
}
