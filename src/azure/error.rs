//! Typed errors of the Azure connection: a configuration that cannot be
//! used, a credential that cannot get a token, what the table service
//! answered, and an outage (the table client's `outage` module decides when
//! the endpoint is down). Messages name what failed and what to do about it, and never
//! contain a secret (keys, SAS tokens, client secrets, bearer tokens,
//! assertions).

use std::time::Duration;

use super::credential::CredentialKind;
use crate::settings::{ConfigError, Setting};

/// Everything reaching Azure can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AzureError {
    /// The configuration cannot be turned into a client.
    #[error("invalid store configuration: {0}")]
    Config(#[from] ConfigError),

    /// The credential could not be used (no Azure AD token, key cannot sign).
    #[error("cannot authenticate using {credential}: {message}")]
    Credential {
        credential: CredentialKind,
        message: String,
    },

    /// The credential was refused (HTTP 401/403).
    #[error(
        "access to table `{table}` was denied (HTTP {status}{}) using {credential}{}; {hint}",
        code_suffix(.error_code),
        set_by(.from)
    )]
    Forbidden {
        table: String,
        status: u16,
        error_code: Option<String>,
        credential: CredentialKind,
        /// The setting that gave the credential, e.g. `` `access_key` (from ARM_ACCESS_KEY) ``.
        from: String,
        hint: &'static str,
    },

    /// The table does not exist.
    #[error("table `{table}` does not exist in the storage account (create it, or check the table name)")]
    TableNotFound { table: String },

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

    /// The endpoint cannot be used for now by anyone in this process: its
    /// name does not resolve, its certificate does not verify, the
    /// credential is refused, or it failed for the whole retry budget. Every
    /// operation that meets the outage fails with this same value.
    #[error("{0}")]
    Down(std::sync::Arc<Outage>),

    /// The caller cancelled the operation (for example Terraform's StopProvider).
    #[error("operation {operation} was cancelled")]
    Cancelled { operation: &'static str },
}

/// Why the endpoint cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutageCause {
    /// The host name does not resolve.
    NameNotResolved,
    /// The server's certificate was not accepted.
    Certificate,
    /// The table service or Azure AD refused the credential.
    CredentialRefused,
    /// Nothing answered, or the service kept failing, for the whole retry budget.
    Unanswered,
}

/// The endpoint is down for this process: what failed and what to check.
/// Every operation that meets it fails with this same value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    pub cause: OutageCause,
    message: String,
}

impl Outage {
    pub(crate) fn new(cause: OutageCause, message: String) -> Outage {
        Outage { cause, message }
    }
}

impl std::fmt::Display for Outage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn set_by(from: &str) -> String {
    if from.is_empty() {
        String::new()
    } else {
        format!(", set by {from}")
    }
}

fn code_suffix(code: &Option<String>) -> String {
    match code {
        Some(c) => format!(", {c}"),
        None => String::new(),
    }
}

impl AzureError {
    /// The setting to change, for a configuration that cannot be used.
    pub fn setting(&self) -> Option<&'static Setting> {
        match self {
            AzureError::Config(e) => e.setting(),
            _ => None,
        }
    }

    /// True for errors a caller might succeed with by trying again later.
    pub fn is_transient(&self) -> bool {
        matches!(self, AzureError::Unavailable { .. })
    }
}

/// An error and its sources on one line, with credentials blanked.
pub(crate) use crate::redact::error_line as error_chain;

/// Blanks credentials in a message bound for users or logs: HTTP errors
/// quote the request URL, and a SAS signature travels in it.
pub(crate) fn redact_secrets(text: &str) -> String {
    crate::redact::redact_credentials(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_keys_are_blanked_in_messages() {
        let msg = "error sending request for url (http://127.0.0.1:9/t()?sv=2019&se=2030&sig=FAKEsig+SECRET%2Fvalue%3D): client error (Connect)";
        let red = redact_secrets(msg);
        assert!(!red.contains("FAKEsig"), "{red}");
        assert!(red.contains("sig=<redacted>): client error"), "{red}");
        let cs = "bad: DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0;EndpointSuffix=x and sig=a sig=b";
        let red = redact_secrets(cs);
        assert!(
            !red.contains("c2VjcmV0") && red.contains("AccountKey=<redacted>;EndpointSuffix"),
            "{red}"
        );
        assert_eq!(red.matches("sig=<redacted>").count(), 2, "{red}");
    }
}
