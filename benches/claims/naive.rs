//! The naive strategy of older tools, measured for comparison.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{anyhow, Result};
use futures::StreamExt;
use serde_json::{json, Value};

use crate::azurite;

/// The old function app's claim: the first row with `in_use eq false`, written
/// back with its ETag; a lost race is a failed request (no retry).
pub(crate) struct NaiveTool {
    table: azure_data_tables::prelude::TableClient,
    partition_key: String,
    pub(crate) requests: AtomicU64,
}

pub(crate) enum NaiveOutcome {
    Claimed(String),
    Conflict,
    Exhausted,
}

impl NaiveTool {
    pub(crate) fn new(endpoint: &str, table: &str) -> NaiveTool {
        use azure_storage::{CloudLocation, StorageCredentials};
        let creds = StorageCredentials::access_key(
            azurite::ACCOUNT,
            azure_core_legacy::auth::Secret::new(azurite::ACCOUNT_KEY),
        );
        let service = azure_data_tables::clients::TableServiceClientBuilder::with_location(
            CloudLocation::Custom {
                account: azurite::ACCOUNT.to_owned(),
                uri: endpoint.to_owned(),
            },
            creds,
        )
        .retry(azure_core_legacy::RetryOptions::none())
        .build();
        NaiveTool {
            table: service.table_client(table),
            partition_key: rootmail::settings::DEFAULT_PARTITION_KEY.to_owned(),
            requests: AtomicU64::new(0),
        }
    }

    pub(crate) async fn claim(&self, owner: &str) -> Result<NaiveOutcome> {
        use azure_data_tables::prelude::IfMatchCondition;
        use azure_data_tables::{Filter, Top};
        self.requests.fetch_add(1, Ordering::Relaxed);
        let filter = format!(
            "PartitionKey eq '{}' and in_use eq false",
            self.partition_key
        );
        let page = self
            .table
            .query()
            .filter(Filter::new(filter))
            .top(Top::new(1))
            .into_stream::<Value>()
            .next()
            .await
            .ok_or_else(|| anyhow!("query returned no page"))??;
        let Some(entity) = page.entities.into_iter().next() else {
            return Ok(NaiveOutcome::Exhausted);
        };
        let row_key = entity["RowKey"].as_str().unwrap_or_default().to_owned();
        let etag = entity["odata.etag"].as_str().unwrap_or_default().to_owned();
        self.requests.fetch_add(1, Ordering::Relaxed);
        let result = self
            .table
            .partition_key_client(self.partition_key.clone())
            .entity_client(row_key.clone())
            .merge(
                json!({"in_use": true, "user_mail": owner}),
                IfMatchCondition::Etag(etag.into()),
            )?
            .into_future()
            .await;
        match result {
            Ok(_) => Ok(NaiveOutcome::Claimed(row_key)),
            Err(e) if e.as_http_error().map(|h| u16::from(h.status())) == Some(412) => {
                Ok(NaiveOutcome::Conflict)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Frees rows the naive tool claimed (benchmark housekeeping only).
    pub(crate) async fn reset(&self, row_key: &str) -> Result<()> {
        use azure_data_tables::prelude::IfMatchCondition;
        self.table
            .partition_key_client(self.partition_key.clone())
            .entity_client(row_key.to_owned())
            .merge(
                json!({"in_use": false, "user_mail": ""}),
                IfMatchCondition::Any,
            )?
            .into_future()
            .await?;
        Ok(())
    }
}
