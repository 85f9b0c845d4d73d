//! Typed errors of the alias store: the pool's own, and the Azure
//! connection's ([`AzureError`]) as they are. Messages name what failed and
//! what to do about it, and never contain a secret (keys, SAS tokens, client
//! secrets, bearer tokens).

use super::pool::{KeyRefusal, KeyedClaim};
use super::row::AliasStatus;
use crate::azure::AzureError;
use crate::settings::{ConfigError, Setting};

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reaching the table failed: configuration, credential, or what the
    /// service answered.
    #[error(transparent)]
    Azure(#[from] AzureError),

    /// Exchange Online's mailboxes could not be read (through Microsoft Graph).
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),

    /// No free alias is left (in the whole pool, or in the requested mailbox),
    /// and no address could be minted instead (`minting` says why, when the
    /// claim's address source allowed minting).
    #[error("the alias pool is exhausted: no free alias{} in table `{table}`{}", mailbox_suffix(.mailbox), minting_suffix(.minting))]
    PoolExhausted {
        table: String,
        mailbox: Option<String>,
        minting: Option<String>,
    },

    /// The pool's partition has no rows at all: most often a partition key
    /// that is not the one the rows were written with.
    #[error("partition `{partition_key}` of table `{table}` has no rows at all; {}", partition_hint(.others, *.more))]
    PartitionEmpty {
        table: String,
        partition_key: String,
        /// Partitions the table does have (the first few).
        others: Vec<String>,
        /// The table has more partitions than `others` lists.
        more: bool,
    },

    /// An alias id that is not in the table.
    #[error("alias `{alias_id}` does not exist in table `{table}`")]
    AliasNotFound { table: String, alias_id: String },

    /// An e-mail address that is not in the table.
    #[error("no alias with address `{email}` in table `{table}`")]
    EmailNotFound { table: String, email: String },

    /// Several rows carry the same address; the pool needs fixing by hand.
    #[error(
        "{count} rows in table `{table}` carry the address `{email}`; the pool is inconsistent"
    )]
    DuplicateEmail {
        table: String,
        email: String,
        count: usize,
    },

    /// The row is no longer held by the caller's claim (released, taken
    /// over, or re-issued whole by another tool; see `AliasRow::holds`).
    #[error("alias `{alias_id}` is no longer held by this claim (its status is now {status})")]
    NotHeld {
        alias_id: String,
        status: AliasStatus,
    },

    /// The alias is in a state the operation does not accept.
    #[error("alias `{alias_id}` is {status}: {reason}")]
    WrongStatus {
        alias_id: String,
        status: AliasStatus,
        reason: &'static str,
    },

    /// The row was claimed anew after the caller read it (e.g. between a
    /// plan and its apply); nothing was written.
    #[error("alias `{alias_id}` was claimed anew since it was read (its owner or claim time changed); nothing was written")]
    ClaimChanged { alias_id: String },

    /// A claim key names a claim this request may not have (see
    /// `pool/keyed.rs`); nothing was claimed.
    #[error("claim key `{key}` {}", .refusal.describe(.existing))]
    ClaimKeyTaken {
        key: String,
        existing: Box<KeyedClaim>,
        refusal: KeyRefusal,
    },

    /// A write may have landed, and reading the row back to tell failed.
    #[error("the outcome of {operation} on alias `{alias_id}` is unknown: the write may have been applied, and reading the row back failed ({reason})")]
    OutcomeUnknown {
        operation: &'static str,
        alias_id: String,
        reason: String,
    },

    /// The alias is already linked to a different AWS account.
    #[error("alias `{alias_id}` is already linked to AWS account {linked}; unlink it first")]
    AlreadyLinked { alias_id: String, linked: String },

    /// The alias is not linked to the account the caller expected (someone
    /// relinked or unlinked it meanwhile); nothing was written.
    #[error("alias `{alias_id}` is linked to AWS account {}, not {expected}; it was left unchanged", if .found.is_empty() { "(none)" } else { .found.as_str() })]
    LinkMismatch {
        alias_id: String,
        expected: String,
        found: String,
    },

    /// The row changed after it was read and shown; nothing was written.
    #[error("alias `{alias_id}` changed since it was read; nothing was written")]
    Changed { alias_id: String },

    /// A value the table cannot store or a key that is not allowed.
    #[error("invalid value for {field}: {reason}")]
    InvalidInput { field: &'static str, reason: String },

    /// Optimistic concurrency kept failing (the row changes faster than we can write it).
    #[error("alias `{alias_id}` kept changing under concurrent writers; gave up after {attempts} attempts")]
    Contended { alias_id: String, attempts: u32 },
}

fn minting_suffix(minting: &Option<String>) -> String {
    match minting {
        Some(why) => format!(", and {why}"),
        None => String::new(),
    }
}

fn partition_hint(others: &[String], more: bool) -> String {
    if others.is_empty() {
        return "the table has no rows in any partition: add aliases with `rootmail pool import` \
                (or check `table`, ROOTMAIL_TABLE_NAME)"
            .to_owned();
    }
    let listed: Vec<String> = others.iter().map(|p| format!("`{p}`")).collect();
    format!(
        "the table's rows are in partition{} {}{}. Check `partition_key` (ROOTMAIL_PARTITION_KEY, \
         --partition-key); partition keys are case-sensitive",
        if others.len() > 1 || more { "s" } else { "" },
        listed.join(", "),
        if more { " and more" } else { "" }
    )
}

fn mailbox_suffix(mailbox: &Option<String>) -> String {
    match mailbox {
        Some(m) => format!(" for mailbox `{m}`"),
        None => String::new(),
    }
}

impl StoreError {
    /// The setting to change, for a configuration that cannot be used.
    pub fn setting(&self) -> Option<&'static Setting> {
        match self {
            StoreError::Azure(e) => e.setting(),
            _ => None,
        }
    }

    /// True for errors a caller might succeed with by trying again later.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Azure(e) => e.is_transient(),
            StoreError::Contended { .. } => true,
            _ => false,
        }
    }

    /// True when the caller cancelled the operation.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, StoreError::Azure(AzureError::Cancelled { .. }))
    }
}

impl From<ConfigError> for StoreError {
    fn from(e: ConfigError) -> Self {
        StoreError::Azure(AzureError::Config(e))
    }
}
