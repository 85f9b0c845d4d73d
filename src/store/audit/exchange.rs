//! The pool compared with the mailboxes its aliases are meant to reach, as
//! Exchange Online has them (read through Microsoft Graph, which can only
//! read them: adding an address stays Exchange Online PowerShell's job).
//!
//! - An alias its mailbox does not have bounces AWS's root mail (sign-up,
//!   password reset, security notices). Claimed or used: critical, nothing
//!   the pool can write fixes it. Free or quarantined: `--fix` marks it
//!   unroutable, so that no claim (and no older tool) hands it out; once the
//!   mailbox has the address, the audit offers to put it back.
//! - An address of a pool mailbox that no row has is offered for import (in
//!   the domains the pool's addresses use, never the mailbox's primary
//!   address), as retired when an AWS account already uses it. Only when the
//!   AWS accounts were compared too: AWS never frees an address, and an
//!   import must not put a used one into the pool.
//! - A row that names no mailbox is looked for in every mailbox read: found,
//!   its row should name that mailbox; found nowhere, it is unroutable.
//! - A mailbox Exchange does not know, and one near the number of addresses
//!   an object can hold (from [`NEAR_LIMIT`] on, so a mailbox seeded to the
//!   planned 300 is reported too: it is full, new aliases go elsewhere).
//!
//! Addresses are compared without regard to case; `smtp:` (secondary) and
//! `SMTP:` (primary) prefixes are read as Exchange writes them; a plus
//! address (`local+tag@domain`) reaches the mailbox that has
//! `local@domain`, as Exchange Online's plus addressing delivers it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::{StreamExt, TryStreamExt};

use super::super::address::{check_aws_email, normalize_email, plus_base, same_email};
use super::super::error::StoreError;
use super::super::minting::MintingMailbox;
use super::super::row::{AliasRow, AliasStatus};
use super::{Finding, FindingKind, Fix, OrgAccount};
use crate::graph::{GraphReader, GraphUser};

/// The addresses an object can hold depend on its size: Microsoft names
/// 311–332, a cloud tenant reported 333; the pool's seed plans 300.
pub const PLANNED_LIMIT: usize = 300;
/// From this many addresses on, a mailbox is reported as near its limit.
pub const NEAR_LIMIT: usize = 290;
/// Mailboxes read at the same time.
const PARALLEL_READS: usize = 4;

/// A mailbox's addresses, as Exchange has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxAddresses {
    /// The primary SMTP address (`SMTP:`), the mailbox's own.
    pub primary: Option<String>,
    /// The secondary SMTP addresses (`smtp:`): its aliases.
    pub secondary: Vec<String>,
    /// Every proxy address, of any kind: what counts against the limit.
    pub total: usize,
}

impl MailboxAddresses {
    /// True when mail to `address` reaches this mailbox.
    pub fn has(&self, address: &str) -> bool {
        self.primary
            .iter()
            .chain(&self.secondary)
            .any(|a| a.eq_ignore_ascii_case(address))
    }
}

impl From<&GraphUser> for MailboxAddresses {
    fn from(user: &GraphUser) -> Self {
        let (primary, secondary): (Vec<_>, Vec<_>) =
            user.smtp_addresses().into_iter().partition(|a| a.primary);
        MailboxAddresses {
            primary: primary
                .into_iter()
                .next()
                .map(|a| a.address)
                .or_else(|| user.primary_address()),
            secondary: secondary.into_iter().map(|a| a.address).collect(),
            total: user.proxy_addresses.len(),
        }
    }
}

/// One mailbox the pool uses (or was told to check) and what Exchange said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// As the pool names it (`root_mailbox`), or as given.
    pub name: String,
    /// `None`: Exchange has no such mailbox.
    pub addresses: Option<MailboxAddresses>,
}

/// Which mailboxes to read, and with what: every mailbox the rows name,
/// plus `extra` (mailboxes that have no rows yet, or no aliases at all).
pub struct MailboxLookup<'a> {
    pub graph: &'a GraphReader,
    pub extra: Vec<String>,
}

impl MailboxLookup<'_> {
    /// Reads each mailbox once (names compared without regard to case).
    pub async fn read(&self, rows: &[AliasRow]) -> Result<Vec<Mailbox>, StoreError> {
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for name in rows
            .iter()
            .map(|r| r.root_mailbox.trim())
            .chain(self.extra.iter().map(|m| m.trim()))
        {
            if !name.is_empty() {
                names
                    .entry(normalize_email(name))
                    .or_insert_with(|| name.to_owned());
            }
        }
        futures::stream::iter(names.into_values())
            .map(|name| async move {
                let user = self.graph.mailbox(&name).await?;
                Ok::<_, StoreError>(Mailbox {
                    addresses: user.as_ref().map(MailboxAddresses::from),
                    name,
                })
            })
            .buffered(PARALLEL_READS)
            .try_collect()
            .await
    }
}

/// The Exchange findings for `rows` (no I/O). `accounts`, when the AWS
/// accounts were compared too, decides how an unpooled address is imported;
/// the addresses `minting` mailboxes extend are no aliases to import.
pub(super) fn findings(
    rows: &[AliasRow],
    mailboxes: &[Mailbox],
    accounts: Option<&[OrgAccount]>,
    minting: &[MintingMailbox],
) -> Vec<Finding> {
    let by_name: HashMap<String, &Mailbox> = mailboxes
        .iter()
        .map(|m| (normalize_email(&m.name), m))
        .collect();
    // Which mailbox each address reaches.
    let mut reaches: HashMap<String, &Mailbox> = HashMap::new();
    for m in mailboxes {
        if let Some(a) = &m.addresses {
            for address in a.primary.iter().chain(&a.secondary) {
                reaches.entry(normalize_email(address)).or_insert(m);
            }
        }
    }
    let mut out = Vec::new();
    for m in mailboxes {
        out.extend(mailbox_findings(m, rows, accounts, minting));
    }
    for row in rows {
        // The address itself, or for `local+tag@domain` the `local@domain`
        // it is delivered to.
        let delivered: Vec<String> = std::iter::once(row.email.clone())
            .chain(plus_base(&row.email))
            .collect();
        let elsewhere = delivered
            .iter()
            .find_map(|d| reaches.get(&normalize_email(d)).copied());
        if row.root_mailbox.trim().is_empty() {
            out.extend(without_mailbox(row, elsewhere, mailboxes.len()));
            continue;
        }
        let Some(mailbox) = by_name.get(&normalize_email(&row.root_mailbox)) else {
            continue; // a mailbox not read
        };
        let here = mailbox
            .addresses
            .as_ref()
            .is_some_and(|a| delivered.iter().any(|d| a.has(d)));
        if row.status == AliasStatus::Unroutable {
            if let Some(reached) = elsewhere {
                out.push(routable_again(row, reached));
            }
            continue;
        }
        if here {
            continue;
        }
        if let Some(other) = elsewhere {
            out.push(Finding {
                mailbox: other.name.clone(),
                ..Finding::about(
                    row,
                    FindingKind::MailboxMismatch,
                    format!(
                        "{} reaches mailbox {}, not {} as its row says; mail arrives, but the \
                         pool's counts per mailbox are off",
                        row.email, other.name, row.root_mailbox
                    ),
                    None,
                )
            });
            continue;
        }
        let why = match mailbox.addresses {
            Some(_) => format!("mailbox {} does not have the address", mailbox.name),
            None => format!("mailbox {} does not exist in Exchange", mailbox.name),
        };
        out.extend(unroutable(row, &mailbox.name, why, true));
    }
    out
}

/// A row that names no mailbox: judged by the mailboxes read (`read` of
/// them), since nothing says where its mail should go.
fn without_mailbox(row: &AliasRow, reached: Option<&Mailbox>, read: usize) -> Option<Finding> {
    match reached {
        Some(m) if row.status == AliasStatus::Unroutable => Some(routable_again(row, m)),
        None if row.status == AliasStatus::Unroutable => None,
        Some(m) => Some(Finding {
            mailbox: m.name.clone(),
            ..Finding::about(
                row,
                FindingKind::MailboxMismatch,
                format!(
                    "{} reaches mailbox {}, but its row names no mailbox (root_mailbox is \
                     empty); mail arrives, but the pool's counts per mailbox are off",
                    row.email, m.name
                ),
                None,
            )
        }),
        // Without a mailbox to compare with, the audit cannot tell: it says
        // so rather than mark the row.
        None if read == 0 => unroutable(
            row,
            "",
            "its row names no mailbox (root_mailbox is empty) and the audit read none to \
             look for it in: pass its mailbox with --mailbox"
                .to_owned(),
            false,
        ),
        None => unroutable(
            row,
            "",
            format!(
                "its row names no mailbox (root_mailbox is empty) and none of the {read} \
                 mailboxes read has the address (if another mailbox has it, pass that one with \
                 --mailbox)"
            ),
            true,
        ),
    }
}

/// A row whose address reaches no mailbox, for the reason `why`; `fixable`:
/// a free one may be marked unroutable.
fn unroutable(row: &AliasRow, mailbox: &str, why: String, fixable: bool) -> Option<Finding> {
    let in_use = row.status == AliasStatus::Claimed || row.used_by_account().is_some();
    let finding = if in_use {
        let whose = match row.used_by_account() {
            Some(account) => format!("AWS account {account}'s root mail"),
            None => "root mail for the account that gets it".to_owned(),
        };
        Finding::about(
            row,
            FindingKind::UnroutableInUse,
            format!(
                "{} is {} but {why}: {whose} (sign-up, password reset, security notices) \
                 bounces. Add the address to the mailbox in Exchange Online \
                 (Set-Mailbox -EmailAddresses @{{add='smtp:{}'}})",
                row.email, row.status, row.email
            ),
            None,
        )
    } else if matches!(row.status, AliasStatus::Free | AliasStatus::Quarantined) {
        let today = time::OffsetDateTime::now_utc().date();
        Finding::about(
            row,
            FindingKind::UnroutableFree,
            format!(
                "{} is {} but {why}: a claim could hand it out and the new account's root \
                 mail would bounce",
                row.email, row.status
            ),
            fixable.then(|| Fix::MarkUnroutable {
                reason: format!("{why} (rootmail audit --exchange, {today})"),
            }),
        )
    } else {
        return None; // retired, and no account recorded: it never goes out again
    };
    Some(Finding {
        account_id: row.used_by_account().unwrap_or_default().to_owned(),
        mailbox: mailbox.to_owned(),
        ..finding
    })
}

/// A row marked unroutable whose address now reaches a mailbox.
fn routable_again(row: &AliasRow, reached: &Mailbox) -> Finding {
    // An address an account used stays out of the pool whatever its routing.
    let fix = row.used_by_account().is_none().then_some(Fix::ReturnToPool);
    Finding {
        mailbox: reached.name.clone(),
        ..Finding::about(
            row,
            FindingKind::RoutableAgain,
            format!(
                "{} is marked unroutable, but mailbox {} now has the address{}",
                row.email,
                reached.name,
                if fix.is_some() {
                    ": it can go back into the pool"
                } else {
                    ""
                }
            ),
            fix,
        )
    }
}

/// A mailbox Exchange does not know, one near its limit, and its
/// addresses no row has.
fn mailbox_findings(
    mailbox: &Mailbox,
    rows: &[AliasRow],
    accounts: Option<&[OrgAccount]>,
    minting: &[MintingMailbox],
) -> Vec<Finding> {
    let finding = |kind, email: &str, message: String, fix| Finding {
        kind,
        email: email.to_owned(),
        row: None,
        account_id: String::new(),
        mailbox: mailbox.name.clone(),
        message,
        fix,
    };
    let Some(addresses) = &mailbox.addresses else {
        let aliases = rows
            .iter()
            .filter(|r| r.root_mailbox.eq_ignore_ascii_case(&mailbox.name))
            .count();
        if aliases == 0
            && minting
                .iter()
                .any(|m| same_email(&m.mailbox, &mailbox.name))
        {
            return Vec::new(); // a minting mailbox: reported as one (`audit/minting.rs`)
        }
        return vec![finding(
            FindingKind::MissingMailbox,
            &mailbox.name,
            format!(
                "mailbox {} does not exist in Exchange (no user object has the name or \
                 address); the {aliases} aliases the pool keeps for it reach nobody",
                mailbox.name
            ),
            None,
        )];
    };
    let mut out = Vec::new();
    if addresses.total >= NEAR_LIMIT {
        out.push(finding(
            FindingKind::MailboxNearLimit,
            &mailbox.name,
            format!(
                "mailbox {} holds {} addresses; Exchange allows roughly 300-333 per object \
                 (the pool plans {PLANNED_LIMIT}): add new aliases to another mailbox",
                mailbox.name, addresses.total
            ),
            None,
        ));
    }
    // Only the domains the pool's aliases use: every mailbox also has
    // addresses that are not aliases (its tenant's onmicrosoft.com one).
    let domains: BTreeSet<String> = rows.iter().filter_map(|r| domain(&r.email)).collect();
    let pooled: BTreeSet<String> = rows.iter().map(|r| normalize_email(&r.email)).collect();
    let primary = addresses.primary.as_deref().map(normalize_email);
    for address in &addresses.secondary {
        let key = normalize_email(address);
        let in_pool_domain = domain(address)
            .is_some_and(|d| domains.contains(&d) && !d.ends_with(".onmicrosoft.com"));
        if pooled.contains(&key)
            || minting.iter().any(|m| m.base_address() == key)
            || !in_pool_domain
            || Some(&key) == primary.as_ref()
            || key == normalize_email(&mailbox.name)
        {
            continue;
        }
        let user = accounts.and_then(|all| all.iter().find(|a| normalize_email(&a.email) == key));
        let (fix, what) = match (check_aws_email(address), accounts, user) {
            (Err(problem), ..) => (None, format!("it cannot be imported: {problem}")),
            (Ok(()), None, _) => (
                None,
                "run the audit with --aws (or --accounts) to import it: an address an AWS \
                 account used must go in as retired"
                    .to_owned(),
            ),
            (Ok(()), Some(_), Some(account)) => (
                Some(Fix::ImportRetired {
                    mailbox: mailbox.name.clone(),
                    account: account.id.clone(),
                }),
                format!(
                    "AWS account {} uses it, so it can only go in as retired",
                    account.id
                ),
            ),
            (Ok(()), Some(_), None) => (
                Some(Fix::Import {
                    mailbox: mailbox.name.clone(),
                }),
                "no AWS account uses it".to_owned(),
            ),
        };
        out.push(Finding {
            account_id: user.map(|a| a.id.clone()).unwrap_or_default(),
            ..finding(
                FindingKind::UnpooledAddress,
                address,
                format!(
                    "mailbox {} has {address}, which no row of the pool has; {what}",
                    mailbox.name
                ),
                fix,
            )
        });
    }
    out
}

fn domain(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests;
