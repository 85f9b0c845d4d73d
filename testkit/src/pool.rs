//! A pool table for end-to-end and reliability tests: seeded in the legacy
//! layout, reachable through the store and directly, with snapshots of every
//! row to prove what a terraform command did (or did not) write.

use std::collections::BTreeMap;

use rootmail::store::{AliasFilter, AliasPool, AliasRow, AliasStatus, LegacyRow, StoreConfig};
use serde_json::{Map, Value as Json};

use crate::azurite;
use crate::table_tool::{RawTable, Row};
use crate::terraform::{self, TerraformDir, TerraformOutput};

pub const OWNER: &str = "platform-team@company.com";
pub const MAILBOX: &str = "comp001@company.com";
/// The columns of a row in the legacy layout (the function app's).
pub const LEGACY_COLUMNS: [&str; 8] = [
    "PartitionKey",
    "RowKey",
    "id",
    "aws_mail",
    "in_use",
    "user_mail",
    "root_mailbox",
    "aws_account_id",
];

/// A table with free aliases, reachable through the store and directly.
pub struct Pool {
    pub table: String,
    /// Where Azurite really is (the provider may be pointed elsewhere, e.g. a proxy).
    pub endpoint: String,
    pub pool: AliasPool,
    pub raw: RawTable,
    pub rt: tokio::runtime::Runtime,
}

impl Pool {
    /// A new table at `endpoint` with `count` free aliases in the legacy layout.
    pub fn seeded(endpoint: &str, table: String, count: usize) -> Pool {
        let (pool, rt) = connect_seeded(&StoreConfig::emulator(endpoint, &table), count);
        Pool {
            raw: RawTable::new(endpoint, &table),
            table,
            endpoint: endpoint.to_owned(),
            pool,
            rt,
        }
    }

    /// A new table of its own (named after `prefix`) in the shared Azurite,
    /// with `count` free aliases in the legacy layout.
    pub fn in_shared_azurite(prefix: &str, count: usize) -> Pool {
        Pool::seeded(
            &azurite::shared().endpoint(),
            azurite::unique_table_name(prefix),
            count,
        )
    }

    /// The provider block for this table at `endpoint`, plus `extra` lines.
    pub fn provider_block_at(&self, endpoint: &str, extra: &str) -> String {
        format!(
            "{}\nprovider \"rootmail\" {{\n  endpoint     = \"{endpoint}\"\n  use_emulator = true\n  table        = \"{}\"\n  {extra}\n}}\n",
            terraform::required_providers_block(),
            self.table
        )
    }

    pub fn provider_block(&self) -> String {
        self.provider_block_at(&self.endpoint, "")
    }

    pub fn rows(&self, status: Option<AliasStatus>) -> Vec<AliasRow> {
        self.rt
            .block_on(self.pool.list(&AliasFilter {
                status,
                ..Default::default()
            }))
            .expect("list")
    }

    /// The row `id`, which must exist.
    pub fn row(&self, id: &str) -> AliasRow {
        self.rt
            .block_on(self.pool.get(id))
            .expect("get")
            .expect("row")
    }

    pub fn claimed(&self) -> Vec<AliasRow> {
        self.rows(Some(AliasStatus::Claimed))
    }

    /// Every row by RowKey as the SDK reads it, without the service's own
    /// bookkeeping (see [`RawTable::snapshot`]).
    pub fn snapshot(&self) -> BTreeMap<String, Row> {
        self.rt.block_on(self.raw.snapshot())
    }

    /// Every row, every column (with `Timestamp`, which any write changes)
    /// but the service's OData bookkeeping, by row key, as the store reads it.
    pub fn columns(&self) -> BTreeMap<String, Map<String, Json>> {
        self.rt.block_on(async {
            let rows = self.pool.list(&AliasFilter::default()).await.expect("list");
            let mut out = BTreeMap::new();
            for r in rows {
                let mut raw = self.pool.get_raw(&r.id).await.expect("get").expect("row");
                raw.retain(|k, _| !k.starts_with("odata.") && !k.ends_with("@odata.type"));
                out.insert(r.id.clone(), raw);
            }
            out
        })
    }

    /// Inserts `rows` (legacy layout).
    pub fn insert(&self, rows: &[LegacyRow]) {
        self.rt
            .block_on(self.pool.insert_legacy_rows(rows))
            .expect("insert rows");
    }

    /// Runs `terraform plan <args>` (whatever its outcome) and fails the test
    /// if it changed any column of any row: a plan never writes.
    pub fn plan(&self, dir: &TerraformDir, args: &[&str]) -> TerraformOutput {
        let before = self.columns();
        let mut all = vec!["plan"];
        all.extend_from_slice(args);
        let out = dir.run(&all);
        self.assert_unchanged(&before, &format!("terraform {all:?}"));
        out
    }

    /// Fails the test when any column of any row differs from `before` (a
    /// [`Pool::columns`]).
    pub fn assert_unchanged(&self, before: &BTreeMap<String, Map<String, Json>>, what: &str) {
        let after = self.columns();
        if &after != before {
            let changed: Vec<_> = after
                .iter()
                .filter(|(k, v)| before.get(*k) != Some(v))
                .map(|(k, v)| format!("{k}: {:?} -> {v:?}", before.get(k)))
                .collect();
            panic!("{what} wrote to the pool table:\n{}", changed.join("\n"));
        }
    }
}

/// Connects with `config`, creates its table and seeds `count` free aliases
/// of [`MAILBOX`] in the legacy layout; the runtime to drive the store with.
pub fn connect_seeded(config: &StoreConfig, count: usize) -> (AliasPool, tokio::runtime::Runtime) {
    let pool = AliasPool::connect(config).expect("connect");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        pool.ensure_table().await.expect("create table");
        pool.seed(MAILBOX, "company.com", count)
            .await
            .expect("seed");
    });
    (pool, rt)
}

/// One row claimed by an older tool (the function app): `in_use`, an owner,
/// no claim token.
pub fn legacy_claim(owner: &str) -> LegacyRow {
    LegacyRow {
        in_use: true,
        user_mail: owner.to_string(),
        ..LegacyRow::free(MAILBOX, "company.com")
    }
}
