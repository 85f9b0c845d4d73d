//! Direct table access for the reliability tests, with the SDK and not through
//! the store: byte-for-byte snapshots of every row, the old function app's
//! claim ("take the first `in_use eq false` row, write it back with its ETag,
//! give up on conflict") and its release and re-issue of a given row (read
//! the whole entity, write it back whole, as the PowerShell AzTable module's
//! `Update-AzTableRow` does), and a racing writer.

use std::collections::BTreeMap;

use azure_data_tables::prelude::*;
use azure_storage::{CloudLocation, StorageCredentials};
use futures::StreamExt;
use serde_json::{Map, Value};

/// Azurite's well-known account (published; not a secret).
const ACCOUNT: &str = "devstoreaccount1";
const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

pub type Row = Map<String, Value>;

/// A table reached directly at `endpoint` (Azurite, path style).
pub struct RawTable {
    client: TableClient,
    pub partition_key: String,
}

/// What one old-style claim attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegacyClaim {
    /// Took this row (its RowKey).
    Claimed(String),
    /// Lost the race on this row (HTTP 412) and gave up, as the old app does.
    Conflict(String),
    /// No row with `in_use eq false`.
    Empty,
}

impl RawTable {
    pub fn new(endpoint: &str, table: &str) -> RawTable {
        let creds =
            StorageCredentials::access_key(ACCOUNT, azure_core_legacy::auth::Secret::new(KEY));
        let client = azure_data_tables::clients::TableServiceClientBuilder::with_location(
            CloudLocation::Custom {
                account: ACCOUNT.to_owned(),
                uri: endpoint.to_owned(),
            },
            creds,
        )
        .retry(azure_core_legacy::RetryOptions::none())
        .build()
        .table_client(table);
        RawTable {
            client,
            partition_key: "root".to_owned(),
        }
    }

    /// Every entity of the table, as the service returns it (full metadata).
    pub async fn entities(&self) -> Vec<Row> {
        let mut out = Vec::new();
        let mut stream = self.client.query().into_stream::<Row>();
        while let Some(page) = stream.next().await {
            out.extend(page.expect("query table").entities);
        }
        out
    }

    /// Every row by RowKey, every column and type annotation except the
    /// service's own bookkeeping (`Timestamp`, `odata.*` incl. the ETag).
    pub async fn snapshot(&self) -> BTreeMap<String, Row> {
        self.entities()
            .await
            .into_iter()
            .map(|mut e| {
                e.retain(|k, _| !k.starts_with("odata.") && !k.starts_with("Timestamp"));
                let key = e
                    .get("RowKey")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                (key, e)
            })
            .collect()
    }

    /// One row with its ETag.
    pub async fn get(&self, row_key: &str) -> Option<(Row, String)> {
        let r = self
            .client
            .partition_key_client(self.partition_key.clone())
            .entity_client(row_key)
            .get::<Row>()
            .await
            .ok()?;
        Some((r.entity, r.etag.to_string()))
    }

    /// Merge conditional on `etag`; `false` on HTTP 412.
    pub async fn merge_if_match(&self, row_key: &str, body: &Value, etag: &str) -> bool {
        let result = self
            .client
            .partition_key_client(self.partition_key.clone())
            .entity_client(row_key)
            .merge(body, IfMatchCondition::Etag(etag.to_owned().into()))
            .expect("serialize")
            .await;
        match result {
            Ok(_) => true,
            Err(e) if is_412(&e) => false,
            Err(e) => panic!("merge {row_key}: {e}"),
        }
    }

    /// Inserts an arbitrary entity (for rows with odd columns).
    pub async fn insert(&self, entity: &Value) {
        self.client
            .insert::<&Value, Row>(entity)
            .expect("serialize")
            .await
            .expect("insert entity");
    }

    /// The old function app's "new": the first `in_use eq false` row, written
    /// back whole (PUT) with `in_use = true` and the caller's address, on
    /// condition of the ETag it read; a conflict is not retried.
    pub async fn legacy_claim(&self, owner: &str) -> LegacyClaim {
        let mut stream = self
            .client
            .query()
            .filter(Filter::new("in_use eq false".to_owned()))
            .top(Top::new(1))
            .into_stream::<Row>();
        let first = match stream.next().await {
            Some(page) => page.expect("query free rows").entities.into_iter().next(),
            None => None,
        };
        let Some(mut row) = first else {
            return LegacyClaim::Empty;
        };
        let etag = row
            .get("odata.etag")
            .and_then(Value::as_str)
            .expect("etag")
            .to_owned();
        let key = row
            .get("RowKey")
            .and_then(Value::as_str)
            .expect("row key")
            .to_owned();
        row.retain(|k, _| !k.starts_with("odata.") && !k.starts_with("Timestamp"));
        row.insert("in_use".into(), Value::Bool(true));
        row.insert("user_mail".into(), Value::from(owner));
        let result = self
            .client
            .partition_key_client(self.partition_key.clone())
            .entity_client(key.clone())
            .update(&row, IfMatchCondition::Etag(etag.into()))
            .expect("serialize")
            .await;
        match result {
            Ok(_) => LegacyClaim::Claimed(key),
            Err(e) if is_412(&e) => LegacyClaim::Conflict(key),
            Err(e) => panic!("legacy claim of {key}: {e}"),
        }
    }

    /// The old function app's write of one row: the whole entity as read
    /// (every column, ours too), changed by `change`, written back whole
    /// (PUT, replacing the entity) on condition of the ETag it read, as
    /// `Update-AzTableRow` does. `false` on HTTP 412.
    pub async fn rewrite_whole(&self, row_key: &str, change: impl FnOnce(&mut Row)) -> bool {
        let (mut row, etag) = self.get(row_key).await.expect("row to rewrite");
        row.retain(|k, _| !k.starts_with("odata.") && !k.starts_with("Timestamp"));
        change(&mut row);
        let result = self
            .client
            .partition_key_client(self.partition_key.clone())
            .entity_client(row_key)
            .update(&row, IfMatchCondition::Etag(etag.into()))
            .expect("serialize")
            .await;
        match result {
            Ok(_) => true,
            Err(e) if is_412(&e) => false,
            Err(e) => panic!("rewrite {row_key}: {e}"),
        }
    }

    /// The old function app's "delete": the row written back whole as free
    /// (`in_use = false`, no owner, no account); every other column stays.
    pub async fn legacy_release(&self, row_key: &str) {
        let freed = self
            .rewrite_whole(row_key, |row| {
                row.insert("in_use".into(), Value::Bool(false));
                row.insert("user_mail".into(), Value::from(""));
                row.insert("aws_account_id".into(), Value::from(""));
            })
            .await;
        assert!(freed, "legacy release of {row_key} lost a race");
    }

    /// The old function app's "new" for one given row: written back whole
    /// as claimed by `owner`; every other column stays.
    pub async fn legacy_reissue(&self, row_key: &str, owner: &str) {
        let taken = self
            .rewrite_whole(row_key, |row| {
                row.insert("in_use".into(), Value::Bool(true));
                row.insert("user_mail".into(), Value::from(owner));
            })
            .await;
        assert!(taken, "legacy re-issue of {row_key} lost a race");
    }
}

fn is_412(e: &azure_core_legacy::Error) -> bool {
    matches!(
        e.kind(),
        azure_core_legacy::error::ErrorKind::HttpResponse { status, .. } if u16::from(*status) == 412
    )
}
