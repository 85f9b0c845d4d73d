//! How we reach Azure: the settings resolved into a [`TableConfig`], the
//! credentials and where their tokens come from (client secret, OIDC
//! federation from GitHub Actions, Azure DevOps or a file, managed identity,
//! Azure CLI), the clouds, the network (proxy, extra CA certificates), and
//! the table client with its retry loop and OData helpers. Knows nothing of
//! aliases: the pool (`crate::store`) uses it, and readers of other
//! services that share its credentials and network settings go beside it.
//!
//! # Credentials
//! One way to sign in: emulator, connection string, access key, SAS token
//! (these three are ignored when `use_azuread` is true), client certificate,
//! client secret, OIDC, managed identity, Azure CLI (also the last resort
//! unless `ARM_USE_CLI=false`, as in the azurerm provider). A way set by
//! explicit settings beats any set only by the environment; two set at the
//! same level are refused, naming both. A configuration that cannot be used
//! fails with [`AzureError::Config`], whose [`crate::settings::ConfigError`] names the setting
//! to change.
//!
//! With OIDC the token is `oidc_token`, else the file, else requested from
//! Azure DevOps (service connection set) or GitHub Actions; see
//! [`token`], whose [`token::TokenSource`] gives tokens for any scope
//! (storage's, Microsoft Graph's) with the same credential. Every HTTP client (table and identity) honours
//! `HTTPS_PROXY`/`NO_PROXY` and trusts `SSL_CERT_FILE` on top of the system's
//! roots. Azure AD tokens are kept per process and renewed before they expire.
//!
//! # Requests
//! Each table request has a per-request timeout; throttling (429/503), other
//! 5xx, 408 and network errors are retried with full-jitter exponential
//! backoff within a total budget ([`crate::settings::RetryBudget`], default 60 s).
//! Cancelling the client's token stops in-flight work with
//! [`AzureError::Cancelled`].
//!
//! # Logging
//! The legacy SDK under this module logs whole requests at `debug` level,
//! including the `Authorization` header and SAS query strings. Whoever sets up
//! the tracing subscriber must combine its filter with
//! [`crate::redact::log_caps`] and write through [`crate::redact::Redacting`];
//! both binaries of this crate do.

mod cloud;
pub(crate) mod config;
mod credential;
mod error;
mod metadata;
mod network;
pub mod odata;
pub(crate) mod table;
pub mod token;

pub use cloud::CloudEnvironment;
pub use config::{AzureAdConfig, TableConfig};
pub use credential::{
    Credential, CredentialKind, FederatedToken, EMULATOR_ACCOUNT, EMULATOR_ENDPOINT,
};
pub use error::AzureError;
pub use metadata::CustomCloud;
pub use network::HttpClients;
pub(crate) use network::{check_credential_url, is_permanent_network_error};
pub use table::{Outage, OutageCause, Waiting, USER_AGENT};

/// Environment variables this module reads that are not settings (nobody
/// sets them by hand), with what they do; the docs list them with the
/// settings' variables.
pub const OTHER_VARIABLES: &[(&str, &str)] = &[
    (
        token::IDENTITY_ENDPOINT,
        "App Service's managed identity endpoint, used with `use_msi` unless `msi_endpoint` is set",
    ),
    (
        token::IDENTITY_HEADER,
        "the secret header App Service's managed identity endpoint checks",
    ),
    (
        "HTTPS_PROXY",
        "proxy for every request (table, Azure AD, pipelines' OIDC endpoints), not for managed \
         identity endpoints",
    ),
    ("HTTP_PROXY", "proxy for plain http requests"),
    ("NO_PROXY", "hosts reached without the proxy"),
];
