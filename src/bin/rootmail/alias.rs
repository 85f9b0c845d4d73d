//! `rootmail alias …`: one alias at a time. `show` prints a row; `release`,
//! `retire` and `link` are manual fixes that read the row, show it, ask for
//! confirmation, and then write only if the row is still what was shown:
//! the claim token read at show time (or given with `--token`) must still
//! hold the alias, so a concurrent claim is never released or changed.
//!
//! Rows claimed by older tools carry no claim token. For those the row's
//! ETag is checked again just before writing; a release or retire then
//! adopts the alias (the store gives it a fresh token, ETag-conditionally)
//! and releases it with that token, and if the adopted row no longer matches
//! what was shown, nothing more is written and the difference is reported.
//! A link of such a row goes by address and leaves it tokenless.
//!
//! AWS never frees a root address: not when the account is closed, not when
//! it leaves the organization; only changing that account's primary e-mail
//! does. So `release` (free, or quarantined) of an alias with a recorded AWS
//! use is refused unless `--account-email-changed` states that the e-mail
//! was changed; the use stays recorded either way.
//!
//! How a row is shown and a change reported: `show`.

mod show;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use rootmail::store::{
    AdoptRequest, AliasPool, AliasRow, AliasStatus, Claim, ClaimToken, LinkTarget, ReleaseOutcome,
    ReleasePolicy, StoreError,
};

use crate::output::format_time;
use crate::prompt::confirm;
use crate::{Outcome, Refused};
use show::{display, report, show};

#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Prints one alias (with `--json`, including its claim token).
    #[command(after_help = "Example:\n  rootmail alias show aws_1234@company.com --json")]
    Show(ShowArgs),
    /// Gives a claimed alias back to the pool (free at once, or quarantined).
    /// An alias an AWS account used is refused unless that account's e-mail
    /// was changed first (--account-email-changed): AWS never frees a root
    /// address, not after the account is closed, not after it leaves the
    /// organization.
    #[command(
        after_help = "Examples:\n  rootmail alias release aws_1234@company.com\n  \
        rootmail alias release aws_1234@company.com --quarantine-days 30\n  \
        rootmail alias release aws_1234@company.com --account-email-changed   # after \
        changing that account's primary e-mail\n  \
        rootmail alias release aws_1234@company.com --token \"$TOKEN\" --yes   # scripts"
    )]
    Release(ReleaseArgs),
    /// Takes an alias out of circulation for good (e.g. its AWS account is closed).
    #[command(after_help = "Example:\n  rootmail alias retire aws_1234@company.com")]
    Retire(ChangeArgs),
    /// Records the AWS account that uses a claimed alias.
    #[command(
        after_help = "Example:\n  rootmail alias link aws_1234@company.com --account \
        123456789012"
    )]
    Link(LinkArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The alias address.
    pub email: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ChangeArgs {
    /// The alias address.
    pub email: String,
    /// Only act if the alias carries exactly this claim token (for scripts;
    /// without it, the token read when the alias is shown is used).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print the result as JSON (the row is then shown on stderr).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
    /// Quarantine the alias for this many days instead of freeing it at
    /// once: a rest before reuse (e.g. when an account creation with it may
    /// still have been running). It is no AWS waiting time: AWS never frees
    /// an address an account used, however long one waits.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub quarantine_days: Option<u32>,
    /// State that the primary e-mail of the AWS account that used this alias
    /// was changed to another address (the only thing that frees a root
    /// address in AWS). Without it, an alias with a recorded AWS use is not
    /// released; the use stays recorded either way.
    #[arg(long)]
    pub account_email_changed: bool,
}

#[derive(Debug, Args)]
pub struct LinkArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
    /// The 12-digit AWS account id.
    #[arg(long, value_name = "ACCOUNT_ID")]
    pub account: String,
}

pub async fn run(store: &AliasPool, command: AliasCommand) -> anyhow::Result<Outcome> {
    match command {
        AliasCommand::Show(args) => show(store, &args).await,
        AliasCommand::Release(args) => {
            let policy = match args.quarantine_days {
                Some(days) => ReleasePolicy::Quarantine { days },
                None => ReleasePolicy::Release,
            };
            give_back(store, &args.change, policy, args.account_email_changed).await
        }
        AliasCommand::Retire(args) => give_back(store, &args, ReleasePolicy::Retire, false).await,
        AliasCommand::Link(args) => link(store, &args).await,
    }
    .map(|()| Outcome::Success)
}

async fn find(store: &AliasPool, email: &str) -> anyhow::Result<AliasRow> {
    match store.find_by_email(email).await {
        Ok(Some(row)) => Ok(row),
        Ok(None) => bail!(
            "no alias with address `{email}` in table `{}`",
            store.table_name()
        ),
        Err(e) => Err(e).with_context(|| format!("cannot read alias `{email}`")),
    }
}

/// How a change will be made.
enum Plan {
    /// Nothing to do; the message says why.
    Nothing(String),
    /// The row holds this token; write with it.
    WithToken(ClaimToken),
    /// The row has no token (an older tool's claim, or a free row): adopt it
    /// first, then write with the new token.
    AdoptFirst,
}

fn verb(policy: ReleasePolicy) -> &'static str {
    match policy {
        ReleasePolicy::Release => "release",
        ReleasePolicy::Quarantine { .. } => "quarantine",
        ReleasePolicy::Retire => "retire",
        ReleasePolicy::RetireIfUsed => "release or retire",
    }
}

fn plan_give_back(row: &AliasRow, policy: ReleasePolicy) -> anyhow::Result<Plan> {
    let retire = policy == ReleasePolicy::Retire;
    Ok(match row.status {
        AliasStatus::Free if retire => Plan::AdoptFirst,
        AliasStatus::Free => Plan::Nothing(format!("{} is already free", row.email)),
        AliasStatus::Claimed => match &row.claim_token {
            Some(t) => Plan::WithToken(t.clone()),
            None => Plan::AdoptFirst,
        },
        AliasStatus::Quarantined => bail!(
            "{} is quarantined until {}; it becomes claimable again then. Quarantined aliases \
             carry no claim, so they cannot be {}d here",
            row.email,
            format_time(row.reusable_after),
            verb(policy)
        ),
        AliasStatus::Retired if retire => {
            Plan::Nothing(format!("{} is already retired", row.email))
        }
        AliasStatus::Retired => bail!(
            "{} is retired: retired aliases are never handed out again",
            row.email
        ),
        AliasStatus::Unroutable => bail!(
            "{} is unroutable: its mailbox does not have the address, so it carries no claim. \
             Add the address in Exchange Online and run `rootmail audit --exchange --fix`",
            row.email
        ),
    })
}

/// Checks `--token` against the plan.
fn check_token(row: &AliasRow, plan: &Plan, expected: Option<&str>) -> anyhow::Result<()> {
    let Some(expected) = expected else {
        return Ok(());
    };
    match plan {
        Plan::WithToken(t) if t.as_str() == expected => Ok(()),
        Plan::WithToken(_) => Err(Refused(format!(
            "{} is held by a different claim than --token names; nothing was changed",
            row.email
        ))
        .into()),
        _ => Err(Refused(format!(
            "{} carries no claim token (status {}), so it is not held by --token; nothing was \
             changed",
            row.email, row.status
        ))
        .into()),
    }
}

/// Test hook, for the race between showing a row and writing it: when
/// ROOTMAIL_TEST_HOLD_BEFORE_WRITE names a file, create `<file>.ready` and
/// wait (up to 60 s) until `<file>` exists before writing. Compiled into
/// debug builds only (what `cargo test` runs); a release build has no hook.
#[cfg(not(debug_assertions))]
async fn test_hold() -> anyhow::Result<()> {
    Ok(())
}

#[cfg(debug_assertions)]
async fn test_hold() -> anyhow::Result<()> {
    use std::path::PathBuf;
    use std::time::{Duration, Instant};
    let Some(path) = std::env::var_os("ROOTMAIL_TEST_HOLD_BEFORE_WRITE") else {
        return Ok(());
    };
    let path = PathBuf::from(path);
    let mut ready = path.clone().into_os_string();
    ready.push(".ready");
    std::fs::write(&ready, b"").context("test hook: cannot write the ready file")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        if Instant::now() > deadline {
            bail!("test hook: {} did not appear within 60 s", path.display());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// The claim `row` showed with `token`: a write goes ahead only while the
/// row is still held by it (the same token, owner and claim time).
fn shown_claim(row: &AliasRow, token: ClaimToken) -> Claim {
    Claim {
        token,
        owner: row.owner.clone(),
        claimed_at: row.claimed_at,
    }
}

/// For a row without a token: checks it is unchanged since it was shown,
/// adopts it, and checks the adopted row is still the one shown.
async fn adopt_shown(store: &AliasPool, shown: &AliasRow) -> anyhow::Result<Claim> {
    let current = store
        .get(&shown.id)
        .await
        .context("cannot re-read the alias")?;
    let Some(current) = current else {
        return Err(Refused(format!("{} was deleted meanwhile", shown.email)).into());
    };
    if current.etag() != shown.etag() {
        return Err(Refused(format!(
            "{} changed since it was shown (now {}, owner `{}`); nothing was changed, run the \
             command again to see its current state",
            shown.email, current.status, current.owner
        ))
        .into());
    }
    let adopted = match store
        .adopt(&AdoptRequest {
            email: shown.email.clone(),
            owner: None,
            purpose: None,
        })
        .await
    {
        Ok(a) => a,
        Err(e @ StoreError::WrongStatus { .. }) => {
            return Err(Refused(format!("{e}; nothing was changed")).into())
        }
        Err(e) => return Err(e).context("cannot take over the alias"),
    };
    if adopted.existing {
        return Err(Refused(format!(
            "{} was claimed through rootmail meanwhile (it now carries a claim token); nothing \
             was changed",
            shown.email
        ))
        .into());
    }
    let a = &adopted.alias;
    if a.id != shown.id || a.owner != shown.owner || a.aws_account_id != shown.aws_account_id {
        return Err(Refused(format!(
            "{} changed just before it was written (owner `{}`, account `{}`); it was given a \
             claim token but nothing else was changed; check it with `rootmail alias show`",
            shown.email, a.owner, a.aws_account_id
        ))
        .into());
    }
    Ok(adopted.claim())
}

async fn give_back(
    store: &AliasPool,
    args: &ChangeArgs,
    policy: ReleasePolicy,
    email_changed: bool,
) -> anyhow::Result<()> {
    let row = find(store, &args.email).await?;
    display(&row, args.json);
    let plan = plan_give_back(&row, policy)?;
    check_token(&row, &plan, args.token.as_deref())?;
    if let Plan::Nothing(why) = &plan {
        report(args.json, &row, "unchanged", why);
        return Ok(());
    }
    let gives_back = matches!(
        policy,
        ReleasePolicy::Release | ReleasePolicy::Quarantine { .. }
    );
    if let (Some(account), true) = (row.used_by_account(), gives_back) {
        if !email_changed {
            bail!(
                "AWS account {account} used {email}, so it is not {verb}d. AWS never frees a \
                 root e-mail address: not after the account is closed, not after it leaves the \
                 organization; only changing that account's primary e-mail does, and until then \
                 a new account created with it fails with EMAIL_ALREADY_EXISTS. Nothing was \
                 changed. Use `rootmail alias retire {email}`, or, once the e-mail of account \
                 {account} was changed to another address, run this again with \
                 --account-email-changed",
                email = row.email,
                verb = verb(policy),
            );
        }
        eprintln!(
            "note: AWS account {account} used {}; as stated with --account-email-changed, its \
             e-mail was changed, so AWS no longer binds the address to it. The use stays \
             recorded in the row.",
            row.email
        );
    }
    if let (Some(_), AliasStatus::Claimed) = (&row.claim_token, row.status) {
        eprintln!(
            "warning: {} carries a claim token: a Terraform state (or a rootmail script) holds \
             this claim. Its next refresh will find the alias gone and its next apply claims a \
             new one; to give the alias up for good, change that configuration instead.",
            row.email
        );
    }
    let question = match policy {
        ReleasePolicy::Release => format!("release {} (free for anyone at once)", row.email),
        ReleasePolicy::Quarantine { days } => {
            format!("release {} into quarantine for {days} days", row.email)
        }
        ReleasePolicy::Retire | ReleasePolicy::RetireIfUsed => {
            format!("retire {} for good", row.email)
        }
    };
    confirm(&question, args.yes)?;
    test_hold().await?;
    let claim = match plan {
        Plan::WithToken(t) => shown_claim(&row, t),
        Plan::AdoptFirst => adopt_shown(store, &row).await?,
        Plan::Nothing(_) => unreachable!("handled above"),
    };
    let outcome = store
        .release(&row.id, &claim, policy)
        .await
        .context("cannot release the alias")?;
    let (name, message) = match outcome {
        ReleaseOutcome::Released => ("released", format!("released {}: free again", row.email)),
        ReleaseOutcome::Quarantined { reusable_after } => (
            "quarantined",
            format!(
                "released {} into quarantine until {}",
                row.email,
                format_time(Some(reusable_after))
            ),
        ),
        ReleaseOutcome::Retired => (
            "retired",
            format!("retired {}: it is never handed out again", row.email),
        ),
        ReleaseOutcome::NotHeld { status } => {
            return Err(Refused(format!(
                "{} changed since it was shown: it is now {status} and no longer held by the \
                 claim that was shown; nothing was changed",
                row.email
            ))
            .into())
        }
        ReleaseOutcome::Missing => {
            return Err(Refused(format!("{} was deleted meanwhile", row.email)).into())
        }
    };
    let after = store.get(&row.id).await.ok().flatten().unwrap_or(row);
    report(args.json, &after, name, &message);
    Ok(())
}

async fn link(store: &AliasPool, args: &LinkArgs) -> anyhow::Result<()> {
    let account = args.account.trim();
    if !(account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())) {
        bail!("--account `{account}` is not a 12-digit AWS account id");
    }
    let change = &args.change;
    let row = find(store, &change.email).await?;
    display(&row, change.json);
    if row.status != AliasStatus::Claimed {
        bail!(
            "{} is {}: only claimed aliases can be linked to an AWS account",
            row.email,
            row.status
        );
    }
    let plan = if row.aws_account_id == account {
        Plan::Nothing(format!("{} is already linked to {account}", row.email))
    } else if !row.aws_account_id.is_empty() {
        bail!(
            "{} is already linked to AWS account {}; it is not changed to {account}",
            row.email,
            row.aws_account_id
        );
    } else {
        match &row.claim_token {
            Some(t) => Plan::WithToken(t.clone()),
            None => Plan::AdoptFirst,
        }
    };
    check_token(&row, &plan, change.token.as_deref())?;
    if let Plan::Nothing(why) = &plan {
        report(change.json, &row, "unchanged", why);
        return Ok(());
    }
    confirm(
        &format!("link {} to AWS account {account}", row.email),
        change.yes,
    )?;
    test_hold().await?;
    let target = match plan {
        Plan::WithToken(token) => LinkTarget::Claim {
            alias_id: row.id.clone(),
            claim: shown_claim(&row, token),
        },
        // An older tool's claim: keep it tokenless (older tools keep
        // working with it) and link by address, after checking the row is
        // still the one shown.
        Plan::AdoptFirst => {
            let current = store
                .get(&row.id)
                .await
                .context("cannot re-read the alias")?;
            match current {
                // The write itself is conditional on the row as shown, so a
                // change after this check is refused too.
                Some(c) if c.etag() == row.etag() => LinkTarget::Shown {
                    alias_id: row.id.clone(),
                    etag: row.etag().to_owned(),
                },
                _ => {
                    return Err(Refused(format!(
                        "{} changed since it was shown; nothing was changed",
                        row.email
                    ))
                    .into())
                }
            }
        }
        Plan::Nothing(_) => unreachable!("handled above"),
    };
    let linked = match store.link_account(&target, account).await {
        Ok(r) => r,
        Err(
            e @ (StoreError::NotHeld { .. }
            | StoreError::WrongStatus { .. }
            | StoreError::Changed { .. }
            | StoreError::AlreadyLinked { .. }),
        ) => {
            return Err(Refused(format!(
                "{} changed since it was shown ({e}); nothing was changed",
                row.email
            ))
            .into())
        }
        Err(e) => return Err(e).context("cannot link the alias"),
    };
    report(
        change.json,
        &linked,
        "linked",
        &format!("linked {} to AWS account {account}", linked.email),
    );
    Ok(())
}
