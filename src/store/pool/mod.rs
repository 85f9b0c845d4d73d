//! [`AliasPool`]: the operations on the pool — claim, release, update, link,
//! adopt, look up, list, stats and seeding — with the safety rules of the
//! design: every ownership change is an ETag-conditional Merge, only the
//! holder of a claim (its token, owner and claim time as last seen, see
//! [`AliasRow::holds`](super::AliasRow::holds)) may change a claimed row,
//! and anything not free keeps `in_use = true` so older tools never hand it
//! out.
//!
//! The operations live in one file each along their seams: `claim`
//! (claiming free rows), `keyed` (what a claim key promises: resuming an
//! interrupted claim, one claim per key), `lifecycle` (update, adopt, link and the
//! shared conditional change of a held row), `release` (what a release
//! writes, and the careful release), `lookups` (reads, lists, stats) and
//! `seeding` (legacy rows, import, generate); `config` says which table.

mod claim;
mod config;
mod hand_over;
mod keyed;
mod lifecycle;
mod lookups;
mod mint;
mod minting;
mod partitions;
mod release;
mod seeding;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::error::StoreError;
use super::minting::AddressSource;
use crate::azure::table::TableIo;
use crate::azure::AzureError;

pub use claim::{ClaimRequest, ClaimedAlias};
pub use config::StoreConfig;
pub use keyed::{KeyRefusal, KeyedClaim, MAX_KEY_LEN, RESUME_WINDOW};
pub use lifecycle::{AdoptRequest, AliasUpdate, LinkTarget};
pub use lookups::{AliasFilter, PoolStats, StatusCounts, UnusableCounts};
pub(super) use mint::minting_mailbox_for;
pub(super) use minting::MintingCache;
pub use partitions::PartitionState;
pub(super) use release::ReleaseChange;
pub use release::{ReleaseOutcome, ReleasePolicy};
pub use seeding::LegacyRow;

/// Quarantine length when none is given. Not an AWS rule (AWS never frees a
/// root address, see [`ReleasePolicy`]): a rest for aliases let go while an
/// account creation with them may still have been running.
pub const DEFAULT_QUARANTINE_DAYS: u32 = 90;

/// Longest accepted owner/purpose/mailbox/e-mail/claim key, in characters:
/// what people count when they write it, and what the provider checks at
/// plan time, so a plan and its apply accept the same text. 1,024
/// characters are at most 4 KiB, far inside the table's 64 KiB a property.
pub const MAX_TEXT_CHARS: usize = 1024;

/// The alias pool in one Azure table partition. Cheap to clone; clones share
/// the HTTP client, the request counter and the cancellation token.
#[derive(Debug, Clone)]
pub struct AliasPool {
    pub(super) io: Arc<TableIo>,
    pub(super) page_size: u32,
    pub(super) conflicts: Arc<AtomicU64>,
    /// Which addresses a claim hands out when its request does not say.
    pub(super) address_source: AddressSource,
    /// The minting mailboxes as last read (see `minting.rs`).
    pub(super) minting: Arc<MintingCache>,
}

impl AliasPool {
    /// Builds the client. No request is sent until the first operation.
    pub fn connect(config: &StoreConfig) -> Result<AliasPool, StoreError> {
        AliasPool::connect_with_cancellation(config, CancellationToken::new())
    }

    /// Like [`AliasPool::connect`]; cancelling `cancel` makes every in-flight
    /// and later operation stop with [`crate::azure::AzureError::Cancelled`].
    pub fn connect_with_cancellation(
        config: &StoreConfig,
        cancel: CancellationToken,
    ) -> Result<AliasPool, StoreError> {
        Ok(AliasPool {
            io: Arc::new(TableIo::new(&config.connection, cancel)?),
            page_size: config.claim_page_size.clamp(1, 1000),
            conflicts: Arc::new(AtomicU64::new(0)),
            address_source: config.address_source,
            minting: Arc::default(),
        })
    }

    /// Which addresses a claim hands out when its request does not say
    /// (the `address_source` setting).
    pub fn address_source(&self) -> AddressSource {
        self.address_source
    }

    /// The token that cancels this pool's operations (e.g. on StopProvider).
    pub fn cancellation(&self) -> CancellationToken {
        self.io.cancel.clone()
    }

    /// HTTP requests sent so far by this pool and its clones (every retry counts).
    pub fn request_count(&self) -> u64 {
        self.io.request_count()
    }

    /// Requests waiting to try the table again, as they go: what the CLI's
    /// spinner shows. `None` while nothing waits.
    pub fn waiting(&self) -> tokio::sync::watch::Receiver<Option<crate::azure::Waiting>> {
        self.io.waiting()
    }

    /// Conditional writes that lost a race (HTTP 412) so far.
    pub fn conflict_count(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    pub fn table_name(&self) -> &str {
        &self.io.table_name
    }

    pub fn partition_key(&self) -> &str {
        &self.io.partition_key
    }

    /// Creates the table if missing; `true` when it was created.
    pub async fn ensure_table(&self) -> Result<bool, StoreError> {
        Ok(self.io.create_table().await?)
    }
}

pub(super) fn check_text(field: &'static str, value: &str) -> Result<(), StoreError> {
    let chars = value.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(StoreError::InvalidInput {
            field,
            reason: format!("{chars} characters, more than the {MAX_TEXT_CHARS} allowed"),
        });
    }
    Ok(())
}

/// [`check_text`] for each optional field that is given.
pub(super) fn check_given<const N: usize>(
    fields: [(&'static str, &Option<String>); N],
) -> Result<(), StoreError> {
    for (field, value) in fields {
        if let Some(v) = value {
            check_text(field, v)?;
        }
    }
    Ok(())
}

pub(super) fn check_account_id(id: &str) -> Result<(), StoreError> {
    if id.len() == 12 && id.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(StoreError::InvalidInput {
            field: "aws_account_id",
            reason: format!("`{id}` is not a 12-digit AWS account id"),
        })
    }
}

pub(super) fn protocol(operation: &'static str, message: String) -> StoreError {
    AzureError::Protocol { operation, message }.into()
}
