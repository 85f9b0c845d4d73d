//! The pool compared with the two systems it does not own.
//!
//! AWS: AWS keeps an account's root address for good (closed accounts and
//! accounts that left the organization still own theirs), so a pool row that
//! could hand such an address out again is the critical finding: the next
//! CreateAccount with it fails with `EMAIL_ALREADY_EXISTS`. So are two rows of
//! one address (AWS compares addresses without regard to letter case): a free
//! one next to a used one could be handed out. The accounts come from
//! Organizations itself ([`crate::aws`]), or as JSON (see `accounts`).
//!
//! Exchange Online: an alias its mailbox does not have bounces AWS's root
//! mail (see its `exchange` module). [`AliasPool::audit`] reads what it is asked to
//! compare, [`audit_rows`] compares (no I/O), [`AliasPool::apply_fix`]
//! writes one fix, conditional on the row as audited. What a finding is
//! lives in `finding`, the fixes' writes in `fix`.

mod accounts;
mod exchange;
mod finding;
mod fix;
mod minting;

use std::collections::{BTreeMap, HashMap};

use super::address::normalize_email;
use super::error::StoreError;
use super::minting::MintingMailbox;
use super::pool::AliasPool;
use super::row::{AliasRow, AliasStatus};
use super::AliasFilter;

pub use accounts::{parse_accounts, OrgAccount};
pub use exchange::{Mailbox, MailboxAddresses, MailboxLookup, NEAR_LIMIT, PLANNED_LIMIT};
pub use finding::{Finding, FindingKind, Fix, Severity};

/// The findings, worst first, with what was compared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditReport {
    pub findings: Vec<Finding>,
    pub aliases: usize,
    /// AWS accounts compared (none when AWS was not asked).
    pub accounts: usize,
    /// The mailboxes as Exchange had them, when Exchange was asked: an
    /// audit after fixes compares with them again instead of reading anew.
    pub exchange: Option<Vec<Mailbox>>,
}

/// Where the audit gets the mailboxes from.
pub enum ExchangeInput<'a> {
    /// Read them (every mailbox the rows name, and the lookup's extra ones).
    Read(&'a MailboxLookup<'a>),
    /// As read before.
    Known(&'a [Mailbox]),
}

/// What the rows are compared with; each part is optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditInput<'a> {
    pub accounts: Option<&'a [OrgAccount]>,
    pub mailboxes: Option<&'a [Mailbox]>,
    /// The minting mailboxes, checked against `mailboxes`.
    pub minting: &'a [MintingMailbox],
}

impl AuditReport {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity() == severity)
            .count()
    }
}

/// Compares rows with the accounts and mailboxes given (no I/O).
pub fn audit_rows(rows: &[AliasRow], input: &AuditInput) -> AuditReport {
    let groups = by_address(rows);
    let mut findings = row_findings(rows, &groups);
    if let Some(accounts) = input.accounts {
        findings.extend(account_findings(rows, &groups, accounts));
    }
    if let Some(mailboxes) = input.mailboxes {
        findings.extend(exchange::findings(
            rows,
            mailboxes,
            input.accounts,
            input.minting,
        ));
        findings.extend(minting::findings(input.minting, mailboxes));
    }
    findings.sort_by(|a, b| {
        b.severity()
            .cmp(&a.severity())
            .then(a.kind.cmp(&b.kind))
            .then_with(|| a.email.cmp(&b.email))
    });
    AuditReport {
        findings,
        aliases: rows.len(),
        accounts: input.accounts.map_or(0, <[OrgAccount]>::len),
        exchange: input.mailboxes.map(<[Mailbox]>::to_vec),
    }
}

/// The rows of one address (AWS compares addresses without regard to case),
/// the one that stands for the address first: linked to an account, then
/// claimed, retired or unroutable, quarantined, free; then spelled in lower
/// case.
fn by_address(rows: &[AliasRow]) -> HashMap<String, Vec<&AliasRow>> {
    let mut groups: HashMap<String, Vec<&AliasRow>> = HashMap::new();
    for row in rows {
        groups
            .entry(normalize_email(&row.email))
            .or_default()
            .push(row);
    }
    let rank = |r: &AliasRow| {
        let standing = match r.status {
            _ if !r.aws_account_id.is_empty() => 0,
            AliasStatus::Claimed => 1,
            AliasStatus::Retired | AliasStatus::Unroutable => 2,
            AliasStatus::Quarantined => 3,
            AliasStatus::Free => 4,
        };
        (standing, r.email != normalize_email(&r.email), r.id.clone())
    };
    for group in groups.values_mut() {
        group.sort_by_key(|r| rank(r));
    }
    groups
}

/// What the rows alone show: one address in several rows, and free rows
/// that still carry a claim token.
fn row_findings(rows: &[AliasRow], groups: &HashMap<String, Vec<&AliasRow>>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for group in groups.values() {
        let [first, others @ ..] = group.as_slice() else {
            continue;
        };
        for row in others {
            let (fix, message) = match row.status {
                AliasStatus::Free | AliasStatus::Quarantined => (
                    Some(Fix::RetireDuplicate {
                        of: first.email.clone(),
                    }),
                    format!(
                        "{} is {} but is the same address as {} ({}) for AWS, which ignores \
                         letter case: a claim could hand out an address that is already in use; \
                         retire it",
                        row.email, row.status, first.email, first.status
                    ),
                ),
                AliasStatus::Claimed => (
                    None,
                    format!(
                        "{} and {} are one address for AWS, which ignores letter case, and both \
                         are claimed: at most one AWS account can use it; find out which claim is \
                         real and retire the other by hand",
                        row.email, first.email
                    ),
                ),
                AliasStatus::Retired | AliasStatus::Unroutable => continue,
            };
            findings.push(Finding {
                account_id: first.aws_account_id.clone(),
                ..Finding::about(row, FindingKind::DuplicateAddress, message, fix)
            });
        }
    }
    for row in rows.iter().filter(|r| r.has_stale_claim_token()) {
        let message = format!(
            "{} is free but still carries a claim token: an older tool released it keeping this \
             provider's columns, or a release was cut short. No one holds it; a Terraform state \
             with that token finds it gone on its next refresh",
            row.email
        );
        findings.push(Finding::about(
            row,
            FindingKind::FreeWithClaimToken,
            message,
            None,
        ));
    }
    findings
}

/// The rows against the accounts that exist; each address is represented
/// by the row that stands for it (see [`by_address`]).
fn account_findings(
    rows: &[AliasRow],
    groups: &HashMap<String, Vec<&AliasRow>>,
    accounts: &[OrgAccount],
) -> Vec<Finding> {
    let by_id: BTreeMap<&str, &OrgAccount> = accounts.iter().map(|a| (a.id.as_str(), a)).collect();
    let mut findings = Vec::new();
    for account in accounts {
        let Some(group) = groups.get(&normalize_email(&account.email)) else {
            continue; // not an address of this pool
        };
        let id = account.id.as_str();
        if group.iter().any(|r| r.aws_account_id == id) {
            continue;
        }
        let row = group[0];
        let linked = row.aws_account_id.as_str();
        let (kind, fix, message) = if !linked.is_empty() {
            (
                FindingKind::LinkedToOtherAccount,
                None,
                format!(
                    "AWS account {id} uses {}, but the row is linked to account {linked}; check \
                     which is right and fix the row by hand",
                    row.email
                ),
            )
        } else {
            match row.status {
                AliasStatus::Free | AliasStatus::Quarantined | AliasStatus::Unroutable => (
                    FindingKind::FreeAddressInUse,
                    Some(Fix::LinkAndRetire {
                        account: id.to_owned(),
                    }),
                    format!(
                        "{} is {} but AWS account {id} uses it: a claim could hand it out and \
                         the new account would fail with EMAIL_ALREADY_EXISTS",
                        row.email, row.status
                    ),
                ),
                AliasStatus::Claimed => (
                    FindingKind::UnlinkedAddressInUse,
                    Some(Fix::Link {
                        account: id.to_owned(),
                    }),
                    format!(
                        "{} is claimed but not linked to AWS account {id}, which uses it: \
                         without the link it could go back to the pool",
                        row.email
                    ),
                ),
                AliasStatus::Retired if row.used_by == id => continue,
                AliasStatus::Retired => (
                    FindingKind::RetiredWithoutAccount,
                    Some(Fix::Link {
                        account: id.to_owned(),
                    }),
                    format!(
                        "{} is retired but the row does not record AWS account {id}, which uses it",
                        row.email
                    ),
                ),
            }
        };
        findings.push(Finding {
            account_id: id.to_owned(),
            ..Finding::about(row, kind, message, fix)
        });
    }
    for row in rows.iter().filter(|r| !r.aws_account_id.is_empty()) {
        let id = row.aws_account_id.as_str();
        let (kind, message) = match by_id.get(id) {
            None => (
                FindingKind::LinkedAccountMissing,
                format!(
                    "{} is linked to AWS account {id}, which is not in the accounts list (it left \
                     the organization and still owns the address, or the id is wrong)",
                    row.email
                ),
            ),
            Some(a) if a.is_closed() => (
                FindingKind::LinkedAccountClosed,
                format!(
                    "{} is linked to AWS account {id}, which is {}; AWS keeps its address, so the \
                     alias must never return to the pool",
                    row.email, a.state
                ),
            ),
            Some(_) => continue,
        };
        findings.push(Finding {
            account_id: id.to_owned(),
            ..Finding::about(row, kind, message, None)
        });
    }
    findings
}

impl AliasPool {
    /// Reads every row of the partition and compares them with `accounts`
    /// and with Exchange's mailboxes, each when given.
    pub async fn audit(
        &self,
        accounts: Option<&[OrgAccount]>,
        exchange: Option<ExchangeInput<'_>>,
    ) -> Result<AuditReport, StoreError> {
        let rows = self.list(&AliasFilter::default()).await?;
        let minting = match exchange {
            Some(_) => self.minting_mailboxes().await?,
            None => Vec::new(),
        };
        let read = match exchange {
            Some(ExchangeInput::Read(lookup)) => {
                // The minting mailboxes too, with or without rows.
                let lookup = MailboxLookup {
                    graph: lookup.graph,
                    extra: (lookup.extra.iter().cloned())
                        .chain(minting.iter().map(|m| m.mailbox.clone()))
                        .collect(),
                };
                Some(lookup.read(&rows).await?)
            }
            _ => None,
        };
        let mailboxes = match exchange {
            Some(ExchangeInput::Known(known)) => Some(known),
            _ => read.as_deref(),
        };
        Ok(audit_rows(
            &rows,
            &AuditInput {
                accounts,
                mailboxes,
                minting: &minting,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn row(email: &str, status: &str, linked: &str) -> AliasRow {
        let Value::Object(entity) = json!({
            "PartitionKey": "root", "RowKey": email, "aws_mail": email,
            "in_use": status != "free", "status": status, "aws_account_id": linked,
            "odata.etag": "e",
        }) else {
            unreachable!()
        };
        AliasRow::from_entity(&entity, None).expect("row")
    }

    #[test]
    fn every_kind_is_listed_once_for_the_help_and_the_docs() {
        // A new kind fails to compile here until it gets a place in ALL.
        let place = |k: FindingKind| match k {
            FindingKind::FreeAddressInUse => 0,
            FindingKind::UnlinkedAddressInUse => 1,
            FindingKind::DuplicateAddress => 2,
            FindingKind::UnroutableInUse => 3,
            FindingKind::MissingMailbox => 4,
            FindingKind::MintingMailboxMissing => 5,
            FindingKind::RetiredWithoutAccount => 6,
            FindingKind::LinkedToOtherAccount => 7,
            FindingKind::LinkedAccountMissing => 8,
            FindingKind::LinkedAccountClosed => 9,
            FindingKind::FreeWithClaimToken => 10,
            FindingKind::UnroutableFree => 11,
            FindingKind::UnpooledAddress => 12,
            FindingKind::MailboxNearLimit => 13,
            FindingKind::MailboxMismatch => 14,
            FindingKind::RoutableAgain => 15,
        };
        for (i, kind) in FindingKind::ALL.into_iter().enumerate() {
            assert_eq!(place(kind), i, "{kind}");
        }
        // Critical ones first, as the help shows them.
        let first_warning = FindingKind::ALL
            .iter()
            .position(|k| k.severity() == Severity::Warning)
            .unwrap_or(0);
        assert!(FindingKind::ALL[first_warning..]
            .iter()
            .all(|k| k.severity() == Severity::Warning));
    }

    #[test]
    fn case_duplicates_are_critical_and_the_free_ones_are_retired() {
        let rows = [
            row("AWS_Dup@Company.com", "free", ""),
            row("aws_dup@company.com", "claimed", "111111111111"),
            row("Aws_Dup@company.com", "quarantined", ""),
            row("aws_DUP@company.com", "retired", ""),
            row("Other@Company.com", "free", ""),
            row("other@company.com", "free", ""),
        ];
        let accounts = [OrgAccount {
            id: "111111111111".into(),
            email: "AWS_DUP@company.com".into(),
            name: String::new(),
            state: "ACTIVE".into(),
        }];
        let input = AuditInput {
            accounts: Some(&accounts),
            mailboxes: None,
            minting: &[],
        };
        let report = audit_rows(&rows, &input);
        let got: Vec<(&str, &str, Option<String>)> = report
            .findings
            .iter()
            .map(|f| {
                let fix = f.fix.as_ref().map(ToString::to_string);
                (f.kind.as_str(), f.email.as_str(), fix)
            })
            .collect();
        let retire = |of: &str| Some(format!("retire (duplicate of {of})"));
        assert_eq!(
            got,
            [
                (
                    "duplicate_address",
                    "AWS_Dup@Company.com",
                    retire("aws_dup@company.com")
                ),
                (
                    "duplicate_address",
                    "Aws_Dup@company.com",
                    retire("aws_dup@company.com")
                ),
                (
                    "duplicate_address",
                    "Other@Company.com",
                    retire("other@company.com")
                ),
            ]
        );
        assert_eq!(report.count(Severity::Critical), 3);
        assert_eq!((report.aliases, report.accounts), (6, 1));
    }
}
