//! Whether the pool's partition holds rows at all, read cheaply: the
//! provider's start-up probe (which also shows at once an endpoint that is
//! down, a name that does not resolve, a refused credential or a missing
//! table), and the error for a partition key with no rows, naming the
//! partitions the table does have.

use super::super::error::StoreError;
use super::super::minting::is_registry_partition;
use super::AliasPool;
use crate::azure::odata::{eq_str, ge_str, gt_str};
use crate::azure::table::{Continuation, Entity};

/// Partitions an error lists at most.
const LISTED: usize = 5;

/// How many empty pages (with a continuation) one cheap query follows: the
/// service may end a page early without rows.
const EMPTY_PAGES: usize = 5;

/// What the start-up probe found in the pool's partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionState {
    HasRows,
    /// No row at all; the table's other partitions (the first few).
    Empty {
        others: Vec<String>,
        more: bool,
    },
}

impl AliasPool {
    /// One query for one row key of the pool's partition, and when it has
    /// none, a few more for the partitions the table does have.
    pub async fn probe(&self) -> Result<PartitionState, StoreError> {
        let partition = eq_str("PartitionKey", &self.io.partition_key);
        if self.first_row(&partition).await?.is_some() {
            return Ok(PartitionState::HasRows);
        }
        // A pool that only mints keeps its rows beside, in its registry.
        let registry = eq_str("PartitionKey", &self.minting_partition());
        if self.first_row(&registry).await?.is_some() {
            return Ok(PartitionState::HasRows);
        }
        let (others, more) = self.partitions().await?;
        Ok(PartitionState::Empty { others, more })
    }

    /// The error for this pool's partition having no rows (after one was found empty).
    pub async fn empty_partition(&self) -> StoreError {
        let (others, more) = self.partitions().await.unwrap_or_default();
        self.partition_empty(others, more)
    }

    /// [`StoreError::PartitionEmpty`] for this pool.
    pub fn partition_empty(&self, others: Vec<String>, more: bool) -> StoreError {
        StoreError::PartitionEmpty {
            table: self.io.table_name.clone(),
            partition_key: self.io.partition_key.clone(),
            others,
            more,
        }
    }

    /// The first few partition keys of the table that hold aliases (not
    /// minting registries), one `$top=1` query each (each asks for the first
    /// key after the last one seen), and whether there are more.
    async fn partitions(&self) -> Result<(Vec<String>, bool), StoreError> {
        let mut found: Vec<String> = Vec::new();
        let mut last: Option<String> = None;
        // Registries are skipped but bounded too: one query per partition seen.
        for _ in 0..4 * (LISTED + 1) {
            if found.len() > LISTED {
                break;
            }
            let filter = match &last {
                Some(last) => gt_str("PartitionKey", last),
                None => ge_str("PartitionKey", ""),
            };
            let Some(row) = self.first_row(&filter).await? else {
                break;
            };
            let Some(key) = row.get("PartitionKey").and_then(|v| v.as_str()) else {
                break;
            };
            if !is_registry_partition(key) {
                found.push(key.to_owned());
            }
            last = Some(key.to_owned());
        }
        let more = found.len() > LISTED;
        found.truncate(LISTED);
        Ok((found, more))
    }

    /// The first entity `filter` matches (only its keys), following empty pages.
    async fn first_row(&self, filter: &str) -> Result<Option<Entity>, StoreError> {
        let mut from: Option<Continuation> = None;
        for _ in 0..EMPTY_PAGES {
            let (rows, next) = self
                .io
                .query_page(filter, Some("PartitionKey,RowKey"), Some(1), from.as_ref())
                .await?;
            if let Some(row) = rows.into_iter().next() {
                return Ok(Some(row));
            }
            match next {
                Some(n) => from = Some(n),
                None => return Ok(None),
            }
        }
        Ok(None)
    }
}
