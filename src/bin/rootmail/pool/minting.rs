//! `rootmail pool add-minting-mailbox` and `remove-minting-mailbox`: the
//! mailboxes claims may mint plus addresses for (`prefix+id@domain`, which
//! Exchange Online delivers to the mailbox while plus addressing is on).

use std::io::IsTerminal;

use anyhow::{bail, Context};
use clap::Args;
use rootmail::store::minting::PLUS_ADDRESSING_CHECK;
use rootmail::store::{AliasPool, MintingMailbox};

use crate::output;
use crate::prompt::confirm;
use crate::Outcome;

/// What the admin checks in the tenant before registering a mailbox.
pub const CHECK_HELP: &str = "\
Before registering, check in Exchange Online PowerShell that plus addressing is on:
  Connect-ExchangeOnline
  Get-OrganizationConfig | fl DisablePlusAddressInRecipients   # must show False
and that the mailbox has the address the prefix names:
  Get-Mailbox aws@company.com | select -ExpandProperty EmailAddresses
Claims mint only when address_source is prefer_aliases or minted_only.

Example:
  rootmail pool add-minting-mailbox aws@company.com --prefix aws --plus-addressing-on";

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The mailbox (an Exchange Online mailbox or shared mailbox).
    pub mailbox: String,
    /// The local part minted addresses extend (`PREFIX+id@domain`): an
    /// address of the mailbox in its domain. Defaults to the mailbox's own
    /// local part.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Who registers it (recorded as `user_mail`).
    #[arg(long, value_name = "EMAIL", default_value = "")]
    pub by: String,
    /// States that you checked that plus addressing is on in the tenant
    /// (Get-OrganizationConfig shows DisablePlusAddressInRecipients False);
    /// without it the command asks.
    #[arg(long)]
    pub plus_addressing_on: bool,
    /// Create the table first if it does not exist.
    #[arg(long)]
    pub create_table: bool,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The mailbox to stop minting for; rows minted for it stay as they are.
    pub mailbox: String,
    /// Do not ask.
    #[arg(long)]
    pub yes: bool,
}

pub async fn add(store: &AliasPool, args: &AddArgs) -> anyhow::Result<Outcome> {
    let registration = MintingMailbox::new(&args.mailbox, args.prefix.as_deref(), &args.by)
        .context("cannot register the minting mailbox")?;
    println!(
        "minting mailbox {}: claims would mint {}+<id>@{} (lower case, {} characters at most)",
        output::cell(&registration.mailbox),
        output::cell(&registration.prefix),
        output::cell(&registration.domain),
        registration.base_address().len() + 1 + rootmail::store::minting::MINTED_ID_LEN,
    );
    if !args.plus_addressing_on {
        if !std::io::stdin().is_terminal() {
            bail!(
                "the registration records that plus addressing is on in the tenant: check it \
                 (Get-OrganizationConfig | fl DisablePlusAddressInRecipients shows False) and \
                 pass --plus-addressing-on (nothing was changed)"
            );
        }
        confirm(
            &format!(
                "is plus addressing on in the tenant (Get-OrganizationConfig | fl \
                 DisablePlusAddressInRecipients shows False), and does the mailbox have {}",
                registration.base_address()
            ),
            false,
        )?;
    }
    if args.create_table {
        super::create_table(store).await?;
    }
    let written = store
        .register_minting_mailbox(&registration)
        .await
        .context("cannot register the minting mailbox")?;
    println!(
        "registered {} in table {} (partition {}), plus addressing checked {}: {PLUS_ADDRESSING_CHECK}",
        output::cell(&written.mailbox),
        store.table_name(),
        store.minting_partition(),
        output::format_time(written.plus_addressing_checked_at),
    );
    println!("`rootmail audit --exchange` checks that the mailbox exists and has the address.");
    Ok(Outcome::Success)
}

pub async fn remove(store: &AliasPool, args: &RemoveArgs) -> anyhow::Result<Outcome> {
    let Some(registration) = store
        .minting_mailbox(&args.mailbox)
        .await
        .context("cannot read the minting mailboxes")?
    else {
        bail!("{} is not a minting mailbox of this pool", args.mailbox);
    };
    confirm(
        &format!(
            "stop minting {}+<id>@{} for {} (addresses minted already stay in the pool)",
            registration.prefix, registration.domain, registration.mailbox
        ),
        args.yes,
    )?;
    if store.remove_minting_mailbox(&registration).await? {
        println!(
            "removed minting mailbox {}",
            output::cell(&registration.mailbox)
        );
    } else {
        println!(
            "{} was removed meanwhile",
            output::cell(&registration.mailbox)
        );
    }
    Ok(Outcome::Success)
}
