//! The alias store against a real Azurite (started by testkit/src/azurite.rs):
//! every operation, the legacy table layout, concurrency, hostile strings,
//! ETag races, errors and retries.

use testkit::azurite;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rootmail::azure::{AzureError, Credential, CredentialKind, OutageCause};
use rootmail::settings::{RetryBudget, Settings};
use rootmail::store::{
    AdoptRequest, AliasFilter, AliasPool, AliasStatus, AliasUpdate, Claim, ClaimRequest,
    ClaimToken, KeyRefusal, LegacyRow, LinkTarget, ReleaseOutcome, ReleasePolicy, StoreConfig,
    StoreError,
};
use serde_json::{json, Value};

mod concurrency;
mod lifecycle;
mod queries;
mod service;

async fn pool(prefix: &str) -> AliasPool {
    let az = azurite::shared();
    let config = StoreConfig::emulator(az.endpoint(), azurite::unique_table_name(prefix));
    let pool = AliasPool::connect(&config).expect("connect");
    assert!(pool.ensure_table().await.expect("create table"));
    assert!(
        !pool.ensure_table().await.expect("table exists"),
        "second ensure is a no-op"
    );
    pool
}

fn req(owner: &str) -> ClaimRequest {
    ClaimRequest {
        owner: owner.to_owned(),
        purpose: "test".to_owned(),
        ..Default::default()
    }
}

/// Another tool writing to the same table with the SDK directly (not through
/// the store): adds its own column, or overwrites blindly like the old function app.
mod other_tool {
    use azure_data_tables::prelude::*;
    use azure_storage::{CloudLocation, StorageCredentials};
    use serde_json::Value;

    fn table(table: &str) -> TableClient {
        let az = super::azurite::shared();
        let creds = StorageCredentials::access_key(
            az.account(),
            azure_core_legacy::auth::Secret::new(az.key()),
        );
        azure_data_tables::clients::TableServiceClientBuilder::with_location(
            CloudLocation::Custom {
                account: az.account().to_owned(),
                uri: az.endpoint(),
            },
            creds,
        )
        .retry(azure_core_legacy::RetryOptions::none())
        .build()
        .table_client(table)
    }

    /// Unconditional merge (If-Match: *), as a careless tool would do.
    pub async fn merge_blindly(table_name: &str, pk: &str, rk: &str, body: Value) {
        table(table_name)
            .partition_key_client(pk)
            .entity_client(rk)
            .merge(&body, IfMatchCondition::Any)
            .expect("serialize")
            .await
            .expect("merge");
    }
}

fn raw_str<'a>(raw: &'a serde_json::Map<String, Value>, k: &str) -> &'a str {
    raw.get(k).and_then(Value::as_str).unwrap_or("<missing>")
}
