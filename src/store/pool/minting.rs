//! Minting mailboxes: registering one, listing them, removing one. They
//! live in a partition beside the pool's (see `store::minting`). Claims
//! read them through a short-lived cache.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::super::address::normalize_email;
use super::super::error::StoreError;
use super::super::minting::{registry_partition, MintingMailbox};
use super::{protocol, AliasPool};
use crate::azure::keys::check_key;
use crate::azure::odata::eq_str;
use crate::azure::table::{into_error, Fail};

/// How long claims use the minting mailboxes as read: a registration
/// removed meanwhile may still be minted from for this long.
const CACHE_TTL: Duration = Duration::from_secs(10);

/// The minting mailboxes as last read, and when.
#[derive(Debug, Default)]
pub(in crate::store) struct MintingCache(Mutex<Option<(Instant, Arc<Vec<MintingMailbox>>)>>);

impl AliasPool {
    /// The minting mailboxes for a claim: as read within the last few
    /// seconds by this pool or a clone, or read now.
    pub(in crate::store) async fn minting_for_claims(
        &self,
    ) -> Result<Arc<Vec<MintingMailbox>>, StoreError> {
        let fresh = |slot: &Option<(Instant, Arc<Vec<MintingMailbox>>)>| {
            slot.as_ref()
                .filter(|(read, _)| read.elapsed() < CACHE_TTL)
                .map(|(_, all)| Arc::clone(all))
        };
        if let Some(all) = self.minting.0.lock().ok().and_then(|slot| fresh(&slot)) {
            return Ok(all);
        }
        let all = Arc::new(self.minting_mailboxes().await?);
        if let Ok(mut slot) = self.minting.0.lock() {
            *slot = Some((Instant::now(), Arc::clone(&all)));
        }
        Ok(all)
    }

    fn forget_minting(&self) {
        if let Ok(mut slot) = self.minting.0.lock() {
            *slot = None;
        }
    }

    /// The partition holding this pool's minting mailboxes.
    pub fn minting_partition(&self) -> String {
        registry_partition(&self.io.partition_key)
    }

    /// Registers `registration` (made with [`MintingMailbox::new`], which
    /// checks it) at `now`. Refused when the mailbox is registered already.
    pub async fn register_minting_mailbox(
        &self,
        registration: &MintingMailbox,
    ) -> Result<MintingMailbox, StoreError> {
        check_key(&registration.mailbox).map_err(|reason| StoreError::InvalidInput {
            field: "mailbox",
            reason,
        })?;
        let entity = registration.entity(&self.minting_partition(), OffsetDateTime::now_utc());
        self.forget_minting();
        match self.io.insert(&entity).await {
            Ok(_) => {}
            Err(Fail::Conflict) => {
                // Also an earlier attempt of this very insert whose answer
                // was lost: the registration as it is says which.
                let now = self.minting_mailbox(&registration.mailbox).await?;
                if now.as_ref().is_some_and(|r| {
                    r.prefix == registration.prefix && r.registered_by == registration.registered_by
                }) {
                    tracing::debug!(mailbox = %registration.mailbox, "registration was already written");
                } else {
                    return Err(StoreError::InvalidInput {
                        field: "mailbox",
                        reason: format!(
                            "`{}` is registered as a minting mailbox already; remove it first to \
                             change its prefix",
                            registration.mailbox
                        ),
                    });
                }
            }
            Err(other) => return Err(into_error(other, "register minting mailbox").into()),
        }
        self.minting_mailbox(&registration.mailbox)
            .await?
            .ok_or_else(|| {
                protocol(
                    "register minting mailbox",
                    "the registration just written cannot be read".to_owned(),
                )
            })
    }

    /// Every minting mailbox registered for this pool, by address.
    pub async fn minting_mailboxes(&self) -> Result<Vec<MintingMailbox>, StoreError> {
        let filter = eq_str(
            crate::store::columns::PARTITION_KEY,
            &self.minting_partition(),
        );
        let mut found: Vec<MintingMailbox> = self
            .io
            .query_all(&filter, None)
            .await?
            .iter()
            .filter_map(|e| {
                let registration = MintingMailbox::from_entity(e);
                if registration.is_none() {
                    tracing::warn!(
                        "a row of the minting mailboxes' partition is no registration; ignored"
                    );
                }
                registration
            })
            .collect();
        found.sort_by(|a, b| a.mailbox.cmp(&b.mailbox));
        Ok(found)
    }

    /// The registration of `mailbox`, if there is one.
    pub async fn minting_mailbox(
        &self,
        mailbox: &str,
    ) -> Result<Option<MintingMailbox>, StoreError> {
        let wanted = normalize_email(mailbox);
        Ok(self
            .minting_mailboxes()
            .await?
            .into_iter()
            .find(|m| m.mailbox == wanted))
    }

    /// Removes the registration of `mailbox` as read (its ETag); `false`
    /// when there was none. Rows minted for it stay what they are.
    pub async fn remove_minting_mailbox(
        &self,
        registration: &MintingMailbox,
    ) -> Result<bool, StoreError> {
        self.forget_minting();
        match self
            .io
            .delete_if_match_in(
                &self.minting_partition(),
                &registration.mailbox,
                &registration.etag,
            )
            .await
        {
            Ok(()) => Ok(true),
            // Gone: removed meanwhile (or by an attempt whose answer was lost).
            Err(Fail::EntityNotFound) => Ok(false),
            Err(Fail::Precondition { .. }) => Err(StoreError::Changed {
                alias_id: format!("minting mailbox {}", registration.mailbox),
            }),
            Err(other) => Err(into_error(other, "remove minting mailbox").into()),
        }
    }
}
