//! Reads: point reads, look-ups by address or account, lists and stats.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::super::address::{normalize_email, same_email};
use super::super::error::StoreError;
use super::super::minting::MintingMailbox;
use super::super::row::check_alias_id;
use super::super::row::{col, status_value, AliasRow, AliasStatus, Unusable, SELECT_ALL_KNOWN};
use super::{check_given, check_text, protocol, AliasPool};
use crate::azure::odata::{and_all, eq_bool, eq_str, or_any};

/// Filters for [`AliasPool::list`]; all set fields must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AliasFilter {
    pub owner: Option<String>,
    pub mailbox: Option<String>,
    pub status: Option<AliasStatus>,
    /// Only minted rows (`true`) or only Exchange aliases (`false`).
    pub minted: Option<bool>,
}

/// Counts per status. Every row is counted in exactly one of `free`,
/// `unusable`, `claimed`, `quarantined` and `retired`; `reusable` is part of
/// `quarantined`. [`StatusCounts::claimable`] is what claims can take now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub total: u64,
    /// Free aliases a claim hands out.
    pub free: u64,
    /// Aliases claimable by their status (free, or a quarantine that is
    /// over) that a claim never hands out: an AWS account used them, or
    /// AWS would refuse their address; and unroutable ones (their mailbox
    /// does not have the address). See [`AliasRow::unusable`].
    pub unusable: u64,
    /// `unusable`, by reason.
    pub unusable_reasons: UnusableCounts,
    pub claimed: u64,
    /// Quarantined aliases, `reusable` ones included.
    pub quarantined: u64,
    /// Quarantined aliases whose waiting time is over: claimable again.
    pub reusable: u64,
    pub retired: u64,
}

impl StatusCounts {
    /// Aliases a claim can take right now: free ones and reusable ones.
    pub fn claimable(&self) -> u64 {
        self.free + self.reusable
    }

    /// Every count with its name, in the order they are shown: the CLI's
    /// columns and JSON keys and the `rootmail_pool` data source's
    /// attributes are these names.
    pub fn named(&self) -> [(&'static str, u64); 8] {
        [
            ("total", self.total),
            ("claimable", self.claimable()),
            ("free", self.free),
            ("unusable", self.unusable),
            ("claimed", self.claimed),
            ("quarantined", self.quarantined),
            ("reusable", self.reusable),
            ("retired", self.retired),
        ]
    }

    fn add(&mut self, row: &AliasRow, now: OffsetDateTime) {
        self.total += 1;
        if let Some((why, _)) = row.unusable(now) {
            self.unusable += 1;
            self.unusable_reasons.add(why);
            return;
        }
        match row.status {
            AliasStatus::Free => self.free += 1,
            AliasStatus::Claimed => self.claimed += 1,
            AliasStatus::Quarantined => {
                self.quarantined += 1;
                if row.quarantine_over(now) {
                    self.reusable += 1;
                }
            }
            AliasStatus::Retired => self.retired += 1,
            // Always counted as unusable above, with its reason.
            AliasStatus::Unroutable => {
                self.unusable += 1;
                self.unusable_reasons.add(Unusable::Unroutable);
            }
        }
    }
}

/// The unusable aliases by why they are out of the pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnusableCounts {
    pub address_aws_refuses: u64,
    pub used_by_aws_account: u64,
    pub unroutable: u64,
}

impl UnusableCounts {
    /// Each count with its reason's name ([`Unusable::as_str`]).
    pub fn named(&self) -> [(&'static str, u64); 3] {
        [
            (Unusable::AddressRefused.as_str(), self.address_aws_refuses),
            (Unusable::UsedByAccount.as_str(), self.used_by_aws_account),
            (Unusable::Unroutable.as_str(), self.unroutable),
        ]
    }

    fn add(&mut self, why: Unusable) {
        match why {
            Unusable::AddressRefused => self.address_aws_refuses += 1,
            Unusable::UsedByAccount => self.used_by_aws_account += 1,
            Unusable::Unroutable => self.unroutable += 1,
        }
    }
}

/// Pool statistics, overall and per shared mailbox; the minted rows among
/// them counted once more on their own, in the same classification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub all: StatusCounts,
    pub by_mailbox: BTreeMap<String, StatusCounts>,
    /// The rows minted on demand (counted in `all` and `by_mailbox` too).
    pub minted: StatusCounts,
    /// The mailboxes claims may mint addresses for.
    pub minting_mailboxes: Vec<MintingMailbox>,
}

impl AliasPool {
    /// Point read by id (one round trip); `None` when absent.
    pub async fn get(&self, alias_id: &str) -> Result<Option<AliasRow>, StoreError> {
        check_alias_id(alias_id)?;
        match self.io.get(alias_id).await? {
            None => Ok(None),
            Some((entity, etag)) => AliasRow::from_full_entity(&entity, Some(&etag))
                .map(Some)
                .map_err(|m| protocol("read alias", m)),
        }
    }

    /// The error for a row that is not there.
    pub(in crate::store) fn alias_not_found(&self, alias_id: &str) -> StoreError {
        StoreError::AliasNotFound {
            table: self.io.table_name.clone(),
            alias_id: alias_id.to_owned(),
        }
    }

    /// The error for an address no row has.
    pub(in crate::store) fn email_not_found(&self, email: &str) -> StoreError {
        StoreError::EmailNotFound {
            table: self.io.table_name.clone(),
            email: email.to_owned(),
        }
    }

    /// The row exactly as stored (all columns, including ones other tools
    /// wrote), without OData metadata; `None` when absent.
    pub async fn get_raw(&self, alias_id: &str) -> Result<Option<Map<String, Value>>, StoreError> {
        check_alias_id(alias_id)?;
        Ok(self.io.get(alias_id).await?.map(|(mut entity, _)| {
            entity.retain(|k, _| !k.starts_with("odata.") && !k.ends_with("@odata.type"));
            entity
        }))
    }

    /// The alias with this address, compared without regard to case as AWS
    /// does. `$filter` cannot fold case, so the address is asked for as given
    /// and in lower case (how imports store it); only when both miss are the
    /// addresses of the partition read to find an older mixed-case row.
    pub async fn find_by_email(&self, email: &str) -> Result<Option<AliasRow>, StoreError> {
        check_text("email", email)?;
        let email = email.trim();
        let lower = normalize_email(email);
        let mut wanted = vec![eq_str(col::AWS_MAIL, email)];
        if lower != email {
            wanted.push(eq_str(col::AWS_MAIL, &lower));
        }
        let mut rows = self
            .query_rows(and_all([
                eq_str(col::PARTITION_KEY, &self.io.partition_key),
                or_any(wanted),
            ]))
            .await?;
        if rows.is_empty() {
            rows = self.find_by_email_scan(email).await?;
        }
        match rows.len() {
            0 => Ok(None),
            1 => Ok(rows.into_iter().next()),
            count => Err(StoreError::DuplicateEmail {
                table: self.io.table_name.clone(),
                email: email.to_owned(),
                count,
            }),
        }
    }

    /// Every row whose address equals `email` in any case, by reading only
    /// the row keys and addresses of the partition.
    async fn find_by_email_scan(&self, email: &str) -> Result<Vec<AliasRow>, StoreError> {
        let keys = self
            .io
            .query_all(
                &eq_str(col::PARTITION_KEY, &self.io.partition_key),
                Some("PartitionKey,RowKey,aws_mail"),
            )
            .await?;
        let mut rows = Vec::new();
        for e in &keys {
            let address = e.get(col::AWS_MAIL).and_then(Value::as_str).unwrap_or("");
            let key = e.get(col::ROW_KEY).and_then(Value::as_str).unwrap_or("");
            if same_email(address, email) && !key.is_empty() {
                if let Some(row) = self.get(key).await? {
                    rows.push(row);
                }
            }
        }
        Ok(rows)
    }

    /// Aliases linked to this AWS account (normally at most one).
    pub async fn find_by_account_id(
        &self,
        aws_account_id: &str,
    ) -> Result<Vec<AliasRow>, StoreError> {
        check_text("aws_account_id", aws_account_id)?;
        self.query_rows(and_all([
            eq_str(col::PARTITION_KEY, &self.io.partition_key),
            eq_str(col::AWS_ACCOUNT_ID, aws_account_id),
        ]))
        .await
    }

    /// All aliases matching the filter (follows continuation pages).
    pub async fn list(&self, filter: &AliasFilter) -> Result<Vec<AliasRow>, StoreError> {
        // Owner and mailbox are e-mail addresses, compared without regard to
        // case; `$filter` cannot fold case, so they are matched here.
        let mut clauses = vec![eq_str(col::PARTITION_KEY, &self.io.partition_key)];
        check_given([("owner", &filter.owner), ("mailbox", &filter.mailbox)])?;
        match filter.status {
            // A free minted row keeps in_use = true (see `store::minting`).
            Some(AliasStatus::Free) => clauses.push(or_any([
                eq_bool(col::IN_USE, false),
                eq_str(col::STATUS, status_value::FREE),
            ])),
            Some(AliasStatus::Quarantined) => {
                clauses.push(eq_str(col::STATUS, status_value::QUARANTINED))
            }
            Some(AliasStatus::Retired) => clauses.push(eq_str(col::STATUS, status_value::RETIRED)),
            Some(AliasStatus::Unroutable) => {
                clauses.push(eq_str(col::STATUS, status_value::UNROUTABLE))
            }
            Some(AliasStatus::Claimed) => clauses.push(eq_bool(col::IN_USE, true)),
            None => {}
        }
        if filter.minted == Some(true) {
            clauses.push(eq_bool(col::MINTED, true));
        }
        let rows = self.query_rows(and_all(clauses)).await?;
        let matches = |wanted: &Option<String>, value: &str| {
            wanted.as_deref().is_none_or(|w| same_email(w, value))
        };
        Ok(rows
            .into_iter()
            .filter(|r| filter.status.is_none_or(|s| r.status == s))
            .filter(|r| filter.minted.is_none_or(|m| r.minted == m))
            .filter(|r| matches(&filter.owner, &r.owner))
            .filter(|r| matches(&filter.mailbox, &r.root_mailbox))
            .collect())
    }

    /// Counts per status, overall, per shared mailbox and of minted rows,
    /// and the minting mailboxes (all of them, whatever `mailbox` says).
    pub async fn stats(&self, mailbox: Option<&str>) -> Result<PoolStats, StoreError> {
        // The mailbox is matched here, without regard to case.
        let clauses = vec![eq_str(col::PARTITION_KEY, &self.io.partition_key)];
        if let Some(m) = mailbox {
            check_text("mailbox", m)?;
        }
        let entities = self
            .io
            .query_all(
                &and_all(clauses),
                Some(
                    "PartitionKey,RowKey,root_mailbox,in_use,status,reusable_after,aws_mail,\
                     aws_account_id,used_by_account,minted",
                ),
            )
            .await?;
        let now = OffsetDateTime::now_utc();
        let mut stats = PoolStats {
            minting_mailboxes: self.minting_mailboxes().await?,
            ..PoolStats::default()
        };
        for e in &entities {
            let row = AliasRow::from_entity(e, Some("")).map_err(|m| protocol("stats", m))?;
            if mailbox.is_some_and(|m| !same_email(m, &row.root_mailbox)) {
                continue;
            }
            stats.all.add(&row, now);
            if row.minted {
                stats.minted.add(&row, now);
            }
            stats
                .by_mailbox
                .entry(row.root_mailbox.clone())
                .or_default()
                .add(&row, now);
        }
        Ok(stats)
    }

    async fn query_rows(&self, filter: String) -> Result<Vec<AliasRow>, StoreError> {
        self.io
            .query_all(&filter, Some(SELECT_ALL_KNOWN))
            .await?
            .iter()
            .map(|e| AliasRow::from_entity(e, None).map_err(|m| protocol("query aliases", m)))
            .collect()
    }
}
