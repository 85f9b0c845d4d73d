//! The pool compared with the two systems it does not own.
//!
//! AWS: AWS keeps an account's root address for good (closed accounts and
//! accounts that left the organization still own theirs), so a pool row that
//! could hand such an address out again is the critical finding: the next
//! CreateAccount with it fails with `EMAIL_ALREADY_EXISTS`. The accounts come
//! from Organizations itself ([`crate::aws`]), or as JSON, in the shape `aws
//! organizations list-accounts` prints or the list
//! `data.aws_organizations_organization.accounts` holds (through `jsonencode`).
//!
//! Exchange Online: an alias its mailbox does not have bounces AWS's root
//! mail; see [`exchange`]. [`AliasPool::audit`] reads what it is asked to
//! compare, [`audit_rows`] compares (no I/O), [`AliasPool::apply_fix`]
//! writes one fix, conditional on the row as audited.

mod exchange;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde_json::{Map, Value};

use super::address::normalize_email;
use super::change::RowChange;
use super::conditional::Merged;
use super::error::StoreError;
use super::pool::{AliasPool, LegacyRow};
use super::row::{AliasRow, AliasStatus};
use super::AliasFilter;

pub use exchange::{Mailbox, MailboxAddresses, MailboxLookup, NEAR_LIMIT, PLANNED_LIMIT};

/// One AWS account as listed by Organizations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: String,
    pub email: String,
    pub name: String,
    /// `State` when given (the newer field), else `Status`, upper case.
    pub state: String,
}

impl From<&crate::aws::OrganizationAccount> for OrgAccount {
    fn from(a: &crate::aws::OrganizationAccount) -> Self {
        OrgAccount {
            id: a.id.clone(),
            email: a.email.clone(),
            name: a.name.clone(),
            state: a.state.to_ascii_uppercase(),
        }
    }
}

impl OrgAccount {
    /// Closed, closing or suspended: the account cannot be used, but it
    /// still owns its root address.
    pub fn is_closed(&self) -> bool {
        matches!(
            self.state.as_str(),
            "SUSPENDED" | "PENDING_CLOSURE" | "CLOSED"
        )
    }
}

/// Reads the accounts from the JSON of `aws organizations list-accounts`
/// (`{"Accounts": [...]}`), from a bare list of accounts (what `jsonencode`
/// makes of `data.aws_organizations_organization.accounts`), or from a whole
/// organization object with an `accounts` list. Field names are matched
/// without regard to case.
pub fn parse_accounts(json: &str) -> Result<Vec<OrgAccount>, String> {
    let doc: Value =
        serde_json::from_str(json).map_err(|e| format!("the accounts are not JSON: {e}"))?;
    let list = match &doc {
        Value::Array(items) => items,
        Value::Object(map) => match field(map, "accounts") {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(
                    "expected the output of `aws organizations list-accounts` (an object with \
                     `Accounts`) or a list of accounts"
                        .to_owned(),
                )
            }
        },
        _ => return Err("expected a JSON object or list of accounts".to_owned()),
    };
    let mut accounts = Vec::with_capacity(list.len());
    for (index, item) in list.iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(format!("account #{} is not a JSON object", index + 1));
        };
        let text = |name: &str| {
            field(map, name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        let id = text("id");
        if !(id.len() == 12 && id.chars().all(|c| c.is_ascii_digit())) {
            return Err(format!(
                "account #{} has no 12-digit `Id` (found {id:?})",
                index + 1
            ));
        }
        let email = text("email");
        if email.is_empty() {
            return Err(format!("account {id} has no `Email`"));
        }
        let state = Some(text("state"))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| text("status"))
            .to_ascii_uppercase();
        accounts.push(OrgAccount {
            id,
            email,
            name: text("name"),
            state,
        });
    }
    Ok(accounts)
}

fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth a look; nothing will fail because of it.
    Warning,
    /// The pool may hand out an address AWS refuses.
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// A free or quarantined row whose address an account uses.
    FreeAddressInUse,
    /// A claimed row, linked to no account, whose address an account uses.
    UnlinkedAddressInUse,
    /// A retired row whose address an account uses, without that account recorded.
    RetiredWithoutAccount,
    /// The row is linked to another account than the one using its address.
    LinkedToOtherAccount,
    /// The linked account is not in the list (left the organization, or a wrong id).
    LinkedAccountMissing,
    /// The linked account is suspended or closed.
    LinkedAccountClosed,
    /// A claimed or linked alias its mailbox does not have: root mail for
    /// that account bounces today.
    UnroutableInUse,
    /// A free or quarantined alias its mailbox does not have.
    UnroutableFree,
    /// A mailbox the pool uses that Exchange does not know.
    MissingMailbox,
    /// A mailbox with about as many addresses as Exchange allows.
    MailboxNearLimit,
    /// An address of a pool mailbox that no row has.
    UnpooledAddress,
    /// The alias reaches another mailbox of the pool than its row names.
    MailboxMismatch,
    /// A row marked unroutable whose mailbox now has the address.
    RoutableAgain,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::FreeAddressInUse => "free_address_in_use",
            FindingKind::UnlinkedAddressInUse => "unlinked_address_in_use",
            FindingKind::RetiredWithoutAccount => "retired_without_account",
            FindingKind::LinkedToOtherAccount => "linked_to_other_account",
            FindingKind::LinkedAccountMissing => "linked_account_missing",
            FindingKind::LinkedAccountClosed => "linked_account_closed",
            FindingKind::UnroutableInUse => "unroutable_in_use",
            FindingKind::UnroutableFree => "unroutable_free",
            FindingKind::MissingMailbox => "missing_mailbox",
            FindingKind::MailboxNearLimit => "mailbox_near_limit",
            FindingKind::UnpooledAddress => "unpooled_address",
            FindingKind::MailboxMismatch => "mailbox_mismatch",
            FindingKind::RoutableAgain => "routable_again",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            FindingKind::FreeAddressInUse
            | FindingKind::UnlinkedAddressInUse
            | FindingKind::UnroutableInUse
            | FindingKind::MissingMailbox => Severity::Critical,
            _ => Severity::Warning,
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The write `--fix` makes for a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// Link to the account and retire (for rows that could be handed out).
    LinkAndRetire { account: String },
    /// Link to the account, keeping the row's status and claim.
    Link { account: String },
    /// Mark the row unroutable, so that no claim hands it out.
    MarkUnroutable { reason: String },
    /// Put a row marked unroutable back into the pool (free).
    ReturnToPool,
    /// Add the address as a free row of the mailbox.
    Import { mailbox: String },
    /// Add the address as a retired row used by the account.
    ImportRetired { mailbox: String, account: String },
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fix::LinkAndRetire { account } => write!(f, "link to {account} and retire"),
            Fix::Link { account } => write!(f, "link to {account}"),
            Fix::MarkUnroutable { .. } => f.write_str("mark unroutable"),
            Fix::ReturnToPool => f.write_str("return to the pool"),
            Fix::Import { mailbox } => write!(f, "import as free alias of {mailbox}"),
            Fix::ImportRetired { account, .. } => {
                write!(f, "import as retired, used by {account}")
            }
        }
    }
}

/// One finding about one row, one address the table lacks, or one mailbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: FindingKind,
    /// The address concerned (the mailbox's, for mailbox findings).
    pub email: String,
    /// The row as read (its ETag guards the fix); none for an address the
    /// table lacks and for a mailbox.
    pub row: Option<AliasRow>,
    /// The account concerned: the one using the address, or the linked one.
    pub account_id: String,
    /// The mailbox concerned, for the Exchange findings.
    pub mailbox: String,
    pub message: String,
    pub fix: Option<Fix>,
}

impl Finding {
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }

    /// A finding about `row`.
    fn about(row: &AliasRow, kind: FindingKind, message: String, fix: Option<Fix>) -> Finding {
        Finding {
            kind,
            email: row.email.clone(),
            row: Some(row.clone()),
            account_id: String::new(),
            mailbox: String::new(),
            message,
            fix,
        }
    }
}

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
    let mut findings = input
        .accounts
        .map(|accounts| account_findings(rows, accounts))
        .unwrap_or_default();
    if let Some(mailboxes) = input.mailboxes {
        findings.extend(exchange::findings(rows, mailboxes, input.accounts));
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

/// The rows against the accounts that exist.
fn account_findings(rows: &[AliasRow], accounts: &[OrgAccount]) -> Vec<Finding> {
    let by_email: HashMap<String, &AliasRow> = rows
        .iter()
        .map(|r| (normalize_email(&r.email), r))
        .collect();
    let by_id: BTreeMap<&str, &OrgAccount> = accounts.iter().map(|a| (a.id.as_str(), a)).collect();
    let mut findings = Vec::new();
    for account in accounts {
        let Some(row) = by_email.get(&normalize_email(&account.email)) else {
            continue; // not an address of this pool
        };
        let id = account.id.as_str();
        let linked = row.aws_account_id.as_str();
        let (kind, fix, message) = if linked == id {
            continue;
        } else if !linked.is_empty() {
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
        let read = match exchange {
            Some(ExchangeInput::Read(lookup)) => Some(lookup.read(&rows).await?),
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
            },
        ))
    }

    /// Makes the finding's fix, conditional on the row's ETag as audited: a
    /// row changed since is refused with [`StoreError::Changed`]. An import
    /// adds a new row (an insert, which never overwrites one).
    pub async fn apply_fix(&self, finding: &Finding) -> Result<Option<AliasRow>, StoreError> {
        let Some(fix) = &finding.fix else {
            return Ok(finding.row.clone());
        };
        let change = match fix {
            Fix::Import { mailbox } => {
                let id = uuid::Uuid::new_v4().to_string();
                let row = LegacyRow::existing(&normalize_email(&finding.email), mailbox, &id);
                self.insert_legacy_row(&row).await?;
                return Ok(None);
            }
            Fix::ImportRetired { mailbox, account } => {
                let id = uuid::Uuid::new_v4().to_string();
                let row = LegacyRow {
                    in_use: true,
                    aws_account_id: account.clone(),
                    ..LegacyRow::existing(&normalize_email(&finding.email), mailbox, &id)
                };
                self.insert_legacy_row_with(&row, &retired_by(account))
                    .await?;
                return Ok(None);
            }
            Fix::LinkAndRetire { account } => RowChange {
                aws_account_id: Some(account.clone()),
                ..retired_by(account)
            },
            Fix::Link { account } => RowChange {
                aws_account_id: Some(account.clone()),
                used_by: Some(account.clone()),
                ..RowChange::default()
            },
            Fix::MarkUnroutable { reason } => RowChange {
                in_use: Some(true),
                status: Some(AliasStatus::Unroutable),
                unroutable_reason: Some(reason.clone()),
                ..RowChange::default()
            },
            Fix::ReturnToPool => RowChange {
                in_use: Some(false),
                status: Some(AliasStatus::Free),
                unroutable_reason: Some(String::new()),
                ..RowChange::default()
            },
        };
        let Some(row) = &finding.row else {
            return Ok(None);
        };
        match self.merge_change(row, &change, "fix alias").await? {
            Merged::Row(now) => Ok(Some(*now)),
            Merged::Changed | Merged::Missing => Err(StoreError::Changed {
                alias_id: row.id.clone(),
            }),
        }
    }
}

/// Retired, recording the account that used the address.
fn retired_by(account: &str) -> RowChange {
    RowChange {
        in_use: Some(true),
        status: Some(AliasStatus::Retired),
        used_by: Some(account.to_owned()),
        retired_reason: Some(format!(
            "used by AWS account {account} (found by rootmail audit); AWS never frees a root \
             address"
        )),
        ..RowChange::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_shapes() {
        let cli = r#"{"Accounts":[{"Id":"111111111111","Arn":"x","Email":"A@x.com","Name":"a",
            "Status":"ACTIVE","State":"CLOSED","JoinedMethod":"CREATED"}]}"#;
        let a = parse_accounts(cli).expect("cli shape");
        assert_eq!(a[0].id, "111111111111");
        assert_eq!(a[0].state, "CLOSED", "State wins over Status");
        assert!(a[0].is_closed());
        let tf = r#"[{"arn":"x","email":"b@x.com","id":"222222222222","name":"b","status":"SUSPENDED"}]"#;
        let b = parse_accounts(tf).expect("terraform shape");
        assert_eq!(b[0].email, "b@x.com");
        assert!(b[0].is_closed());
        let org = r#"{"id":"o-1","accounts":[{"id":"333333333333","email":"c@x.com","status":"ACTIVE"}]}"#;
        assert!(!parse_accounts(org).expect("org")[0].is_closed());
    }

    #[test]
    fn refuses_junk_with_a_reason() {
        for (text, why) in [
            ("nope", "not JSON"),
            ("{}", "list-accounts"),
            ("[1]", "not a JSON object"),
            (r#"[{"id":"12","email":"a@b.co"}]"#, "12-digit"),
            (r#"[{"id":"123456789012"}]"#, "no `Email`"),
        ] {
            let err = parse_accounts(text).expect_err(text);
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
