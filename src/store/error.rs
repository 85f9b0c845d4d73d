//! Typed errors of the alias store. Messages name what failed and what to do
//! about it, and never contain a secret (keys, SAS tokens, client secrets,
//! bearer tokens).

use std::time::Duration;

use super::credential::CredentialKind;
use super::row::AliasStatus;
use super::settings::{ConfigError, Setting};

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The configuration cannot be turned into a client.
    #[error("invalid store configuration: {0}")]
    Config(#[from] ConfigError),

    /// No free alias is left (in the whole pool, or in the requested mailbox).
    #[error("the alias pool is exhausted: no free alias{} in table `{table}`", mailbox_suffix(.mailbox))]
    PoolExhausted {
        table: String,
        mailbox: Option<String>,
    },

    /// The table does not exist.
    #[error("table `{table}` does not exist in the storage account (create it, or check the table name)")]
    TableNotFound { table: String },

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

    /// The row no longer carries the caller's claim token (released, or taken over).
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

    /// The credential was refused (HTTP 401/403).
    #[error(
        "access to table `{table}` was denied (HTTP {status}{}) using {credential}; {hint}",
        code_suffix(.error_code)
    )]
    Forbidden {
        table: String,
        status: u16,
        error_code: Option<String>,
        credential: CredentialKind,
        hint: &'static str,
    },

    /// The credential could not be used (no Azure AD token, key cannot sign).
    #[error("cannot authenticate using {credential}: {message}")]
    Credential {
        credential: CredentialKind,
        message: String,
    },

    /// The service kept throttling or failing until the retry budget ran out.
    #[error("table service still unavailable after {attempts} attempts in {elapsed:?} during {operation}: {last}")]
    Unavailable {
        operation: &'static str,
        attempts: u32,
        elapsed: Duration,
        last: String,
    },

    /// Some other HTTP error from the service.
    #[error("table service returned HTTP {status}{} during {operation}", code_suffix(.error_code))]
    Http {
        operation: &'static str,
        status: u16,
        error_code: Option<String>,
    },

    /// The service returned something this client cannot read.
    #[error("unexpected response during {operation}: {message}")]
    Protocol {
        operation: &'static str,
        message: String,
    },

    /// The caller cancelled the operation (for example Terraform's StopProvider).
    #[error("operation {operation} was cancelled")]
    Cancelled { operation: &'static str },

    /// Optimistic concurrency kept failing (the row changes faster than we can write it).
    #[error("alias `{alias_id}` kept changing under concurrent writers; gave up after {attempts} attempts")]
    Contended { alias_id: String, attempts: u32 },
}

fn mailbox_suffix(mailbox: &Option<String>) -> String {
    match mailbox {
        Some(m) => format!(" for mailbox `{m}`"),
        None => String::new(),
    }
}

fn code_suffix(code: &Option<String>) -> String {
    match code {
        Some(c) => format!(", {c}"),
        None => String::new(),
    }
}

impl StoreError {
    /// The setting to change, for a configuration that cannot be used.
    pub fn setting(&self) -> Option<&'static Setting> {
        match self {
            StoreError::Config(e) => e.setting(),
            _ => None,
        }
    }

    /// True for errors a caller might succeed with by trying again later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable { .. } | StoreError::Contended { .. }
        )
    }
}
