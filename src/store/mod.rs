//! The alias pool on Azure Table storage: claim, release, update, link,
//! adopt, look up, list, stats and seeding. Knows nothing about Terraform.
//!
//! Start with [`crate::settings::Settings`] (explicit values, all optional)
//! → [`StoreConfig::resolve`] (environment fallbacks) → [`AliasPool::connect`].
//!
//! # The table
//! Existing pools keep working unchanged: `PartitionKey` (default `root`),
//! `RowKey` = `id` (GUID), `aws_mail`, `in_use`, `user_mail`, `root_mailbox`,
//! `aws_account_id`. This store adds `claim_token`, `claim_key`, `claimed_at`
//! (`Edm.DateTime`), `purpose`, `status` (`free`/`claimed`/`quarantined`/
//! `retired`/`unroutable`), `reusable_after` (`Edm.DateTime`),
//! `used_by_account`, `retired_reason`, `unroutable_reason` and
//! `claim_pending`. It writes with Merge, so
//! columns other tools wrote stay as they are, except that a plain release
//! replaces the row without the added columns (other columns kept exactly),
//! so a released row is the legacy row it was; every ownership change is
//! conditional on the row's real ETag; anything not free keeps `in_use = true`.
//!
//! # The audit
//! [`audit`] compares the rows with the AWS accounts (from
//! [`crate::aws`] or a file) and the mailboxes in Exchange Online (through
//! [`crate::graph`]); an alias its mailbox does not have is marked
//! `unroutable` by its fix, which keeps `in_use = true` so that no claim and
//! no older tool hands it out.
//!
//! # Settings
//! Every setting is declared once in [`crate::settings::SETTINGS`]; the
//! pool's own are `table`, `partition_key` and the claim page size.
//! [`StoreConfig::resolve`] turns what a user set (with environment
//! fallbacks) into the connection ([`crate::azure::TableConfig`]: where the
//! table is, which credential, retries) and the pool's options. The
//! connection itself (credentials, tokens, network, the table client) is
//! `crate::azure`'s; its errors reach callers as [`StoreError::Azure`].
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
//! Every request counts in [`AliasPool::request_count`]. Cancelling
//! [`AliasPool::cancellation`] stops in-flight work with
//! [`crate::azure::AzureError::Cancelled`].

pub mod address;
pub mod audit;
mod batch;
mod change;
mod conditional;
mod delivery;
mod error;
mod link;
pub mod minting;
mod pool;
mod reads;
mod release_batch;
mod row;
mod seen;
mod takeover;

pub use batch::{BatchCounts, BatchSettings, ClaimBatcher};
pub use error::StoreError;
pub use minting::{AddressSource, MintingMailbox};
pub use pool::{
    AdoptRequest, AliasFilter, AliasPool, AliasUpdate, ClaimRequest, ClaimedAlias, KeyRefusal,
    KeyedClaim, LegacyRow, LinkTarget, PartitionState, PoolStats, ReleaseOutcome, ReleasePolicy,
    StatusCounts, StoreConfig, UnusableCounts, DEFAULT_QUARANTINE_DAYS, MAX_KEY_LEN,
    MAX_TEXT_CHARS, RESUME_WINDOW,
};
pub use reads::{ReadCoalescer, ReadCounts, ReadSettings};
pub use release_batch::{ReleaseBatcher, ReleaseCounts};
pub use row::{col as columns, AliasRow, AliasStatus, Claim, ClaimToken, NotHeldReason, Unusable};
pub use seen::SeenRow;
pub use takeover::{SeenClaim, TakeOverRequest, TakeOverScope};
pub use tokio_util::sync::CancellationToken;
