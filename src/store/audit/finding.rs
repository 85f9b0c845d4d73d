//! What an audit finds: how bad, what is wrong, and the fix `--fix` makes.

use std::fmt;

use super::super::row::AliasRow;

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
    /// A free or quarantined alias its mailbox does not have (or, naming
    /// no mailbox, that no mailbox read has).
    UnroutableFree,
    /// A mailbox the pool uses that Exchange does not know.
    MissingMailbox,
    /// A mailbox with about as many addresses as Exchange allows.
    MailboxNearLimit,
    /// An address of a pool mailbox that no row has.
    UnpooledAddress,
    /// The alias reaches another mailbox of the pool than its row names,
    /// or one while its row names none.
    MailboxMismatch,
    /// A row marked unroutable whose mailbox now has the address.
    RoutableAgain,
    /// Another row holds the same address in other letter case (AWS sees one
    /// address): a free or quarantined one could be handed out again.
    DuplicateAddress,
    /// A free row that still carries a claim token: an older tool released
    /// it keeping this provider's columns, or a release was cut short.
    FreeWithClaimToken,
    /// A minting mailbox Exchange does not have, or one without the address
    /// its minted addresses extend: every address minted for it bounces.
    MintingMailboxMissing,
}

impl FindingKind {
    /// Every kind, in the order the help and the docs list them.
    pub const ALL: [FindingKind; 16] = [
        FindingKind::FreeAddressInUse,
        FindingKind::UnlinkedAddressInUse,
        FindingKind::DuplicateAddress,
        FindingKind::UnroutableInUse,
        FindingKind::MissingMailbox,
        FindingKind::MintingMailboxMissing,
        FindingKind::RetiredWithoutAccount,
        FindingKind::LinkedToOtherAccount,
        FindingKind::LinkedAccountMissing,
        FindingKind::LinkedAccountClosed,
        FindingKind::FreeWithClaimToken,
        FindingKind::UnroutableFree,
        FindingKind::UnpooledAddress,
        FindingKind::MailboxNearLimit,
        FindingKind::MailboxMismatch,
        FindingKind::RoutableAgain,
    ];

    /// What it means and what `--fix` does about it, in a line.
    pub fn summary(self) -> &'static str {
        match self {
            FindingKind::FreeAddressInUse => {
                "a free or quarantined row whose address an AWS account uses (fix: link, retire)"
            }
            FindingKind::UnlinkedAddressInUse => {
                "a claimed row not linked to the AWS account using its address (fix: link)"
            }
            FindingKind::RetiredWithoutAccount => {
                "a retired row that does not record the AWS account using it (fix: record it)"
            }
            FindingKind::LinkedToOtherAccount => {
                "the row names another AWS account than the one using its address"
            }
            FindingKind::LinkedAccountMissing => {
                "the linked AWS account is not in the organization (left it?)"
            }
            FindingKind::LinkedAccountClosed => "the linked AWS account is suspended or closed",
            FindingKind::DuplicateAddress => {
                "another row has the same address in other letter case, which AWS does not tell \
                 apart (fix: retire the free and quarantined duplicates)"
            }
            FindingKind::FreeWithClaimToken => {
                "a free row still carrying a claim token (nobody holds it)"
            }
            FindingKind::UnroutableInUse => {
                "a claimed or used alias its mailbox does not have: that account's root mail \
                 bounces (add the address in Exchange)"
            }
            FindingKind::UnroutableFree => {
                "a free or quarantined alias its mailbox does not have, or that names no mailbox \
                 and no mailbox read has (fix: mark it unroutable, so no claim hands it out)"
            }
            FindingKind::MissingMailbox => "a mailbox of the pool that Exchange does not have",
            FindingKind::MintingMailboxMissing => {
                "a minting mailbox Exchange does not have, or one without the address its \
                 minted addresses extend: every address minted for it bounces"
            }
            FindingKind::MailboxNearLimit => {
                "a mailbox with 290 or more addresses (Exchange allows roughly 300-333; one \
                 seeded to the planned 300 is full: new aliases go to another mailbox)"
            }
            FindingKind::UnpooledAddress => {
                "an address of a pool mailbox no row has (fix, with the AWS accounts compared: \
                 import it; as retired if an account uses it)"
            }
            FindingKind::MailboxMismatch => {
                "the alias reaches another mailbox of the pool than its row names (or its row \
                 names none)"
            }
            FindingKind::RoutableAgain => {
                "a row marked unroutable whose mailbox now has the address (fix: return it to \
                 the pool)"
            }
        }
    }

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
            FindingKind::MintingMailboxMissing => "minting_mailbox_missing",
            FindingKind::MailboxNearLimit => "mailbox_near_limit",
            FindingKind::UnpooledAddress => "unpooled_address",
            FindingKind::MailboxMismatch => "mailbox_mismatch",
            FindingKind::RoutableAgain => "routable_again",
            FindingKind::DuplicateAddress => "duplicate_address",
            FindingKind::FreeWithClaimToken => "free_with_claim_token",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            FindingKind::FreeAddressInUse
            | FindingKind::UnlinkedAddressInUse
            | FindingKind::UnroutableInUse
            | FindingKind::MissingMailbox
            | FindingKind::MintingMailboxMissing
            | FindingKind::DuplicateAddress => Severity::Critical,
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
    /// Retire a free or quarantined duplicate of the row with this address.
    RetireDuplicate { of: String },
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
            Fix::RetireDuplicate { of } => write!(f, "retire (duplicate of {of})"),
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
    pub(super) fn about(
        row: &AliasRow,
        kind: FindingKind,
        message: String,
        fix: Option<Fix>,
    ) -> Finding {
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
