//! The alias pool on Azure Table storage: claim, release, update, link,
//! adopt, look up, list, stats and seeding. Knows nothing about Terraform.
//!
//! Start with [`StoreSettings`] (explicit values, all optional) →
//! [`StoreSettings::resolve`] (environment fallbacks) → [`StoreConfig`] →
//! [`AliasPool::connect`].
//!
//! # The table
//! Existing pools keep working unchanged: `PartitionKey` (default `root`),
//! `RowKey` = `id` (GUID), `aws_mail`, `in_use`, `user_mail`, `root_mailbox`,
//! `aws_account_id`. This store adds `claim_token`, `claim_key`, `claimed_at`
//! (`Edm.DateTime`), `purpose`, `status` (`free`/`claimed`/`quarantined`/
//! `retired`) and `reusable_after` (`Edm.DateTime`). It writes with Merge, so
//! columns other tools wrote stay as they are, except that a plain release
//! replaces the row without the added columns (other columns kept exactly),
//! so a released row is the legacy row it was; every ownership change is
//! conditional on the row's real ETag; anything not free keeps `in_use = true`.
//!
//! # Settings and environment variables
//! Every setting is declared once in [`settings::SETTINGS`]: its name (the
//! provider attribute and the CLI flag), its environment variables, whether
//! it is secret, and its docs (docs/index.md shows them all). Explicit
//! settings always win; for each unset setting the variables are tried in
//! the order listed. Credential choice, first match wins: emulator →
//! connection string → access key → SAS token (these three are skipped when
//! `use_azuread` is true) → OIDC → client secret → managed identity → Azure
//! CLI (also the last resort unless `ARM_USE_CLI=false`, as in the azurerm
//! provider). A credential fully defined by explicit settings beats any
//! credential defined only by the environment. A configuration that cannot
//! be used fails with [`StoreError::Config`], whose [`ConfigError`] names the
//! setting to change.
//!
//! With OIDC the token is `oidc_token`, else the file, else requested from
//! Azure DevOps (service connection set) or GitHub Actions; see
//! `federation`. Every HTTP client (table and identity) honours
//! `HTTPS_PROXY`/`NO_PROXY` and trusts `SSL_CERT_FILE` on top of the system's
//! roots. Azure AD tokens are kept per process and renewed before they expire.
//! Flags accept `true/false`, `1/0`, `yes/no`, `on/off`.
//!
//! # Claims at scale
//! [`ClaimBatcher`] serves claims that arrive together in one process (for
//! example Terraform's parallel creates) with one claim-key lookup, one
//! candidate query and one entity-group transaction of ETag-conditional
//! Merges; see its module for the guarantees. `make bench` measures it.
//!
//! [`ReadCoalescer`] does the same for reads (Terraform refreshing many
//! aliases at once): point reads for a handful, a query by row keys for
//! more, and a short-lived snapshot of the partition's claimed rows during
//! a long burst; see its module for how fresh its answers are.
//!
//! # Requests
//! Each request has a per-request timeout; throttling (429/503), other 5xx,
//! 408 and network errors are retried with full-jitter exponential backoff
//! within a total budget ([`RetryBudget`], default 60 s). Every request
//! counts in [`AliasPool::request_count`]. Cancelling
//! [`AliasPool::cancellation`] stops in-flight work with
//! [`StoreError::Cancelled`].
//!
//! # Logging
//! The legacy SDK under this module logs whole requests at `debug` level,
//! including the `Authorization` header and SAS query strings. Whoever sets up
//! the tracing subscriber must combine its filter with
//! [`crate::redact::log_caps`] and write through [`crate::redact::Redacting`];
//! both binaries of this crate do.

pub mod address;
pub mod audit;
mod auth;
mod batch;
mod change;
mod client;
mod cloud;
mod conditional;
pub mod config;
mod credential;
mod error;
mod federation;
mod link;
mod network;
pub mod odata;
mod pool;
mod reads;
mod release_batch;
mod retry;
mod row;
mod secret;
mod seen;
pub mod settings;
mod takeover;

pub use batch::{BatchCounts, BatchSettings, ClaimBatcher};
pub use client::USER_AGENT;
pub use cloud::CloudEnvironment;
pub use config::{StoreConfig, DEFAULT_PARTITION_KEY, DEFAULT_TABLE};
pub use credential::{
    Credential, CredentialKind, FederatedToken, EMULATOR_ACCOUNT, EMULATOR_ENDPOINT,
};
pub use error::StoreError;
pub use pool::{
    AdoptRequest, AliasFilter, AliasPool, AliasUpdate, ClaimRequest, ClaimedAlias, LegacyRow,
    LinkTarget, PoolStats, ReleaseOutcome, ReleasePolicy, StatusCounts, DEFAULT_QUARANTINE_DAYS,
};
pub use reads::{ReadCoalescer, ReadCounts, ReadSettings};
pub use release_batch::{ReleaseBatcher, ReleaseCounts};
pub use retry::RetryBudget;
pub use row::{col as columns, AliasRow, AliasStatus, ClaimToken};
pub use secret::SecretString;
pub use seen::SeenRow;
pub use settings::{ConfigError, Setting, SettingKind, StoreSettings, SETTINGS};
pub use takeover::{SeenClaim, TakeOverRequest, TakeOverScope};
pub use tokio_util::sync::CancellationToken;
