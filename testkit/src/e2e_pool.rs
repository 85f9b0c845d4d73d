//! A pool table for end-to-end tests: seeded in the legacy layout on the
//! shared Azurite, with a snapshot of every column of every row to prove
//! what a terraform command did (or did not) write.

use super::{azurite, terraform};
use rootmail::store::{AliasFilter, AliasPool, AliasStatus, LegacyRow, StoreConfig};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;

pub const OWNER: &str = "platform-team@company.com";
pub const MAILBOX: &str = "comp001@company.com";

pub struct Pool {
    pub table: String,
    pub pool: AliasPool,
    pub rt: tokio::runtime::Runtime,
}

impl Pool {
    /// A new table with `count` free aliases in the legacy layout.
    pub fn seeded(prefix: &str, count: usize) -> Pool {
        let az = azurite::shared();
        let table = azurite::unique_table_name(prefix);
        let pool =
            AliasPool::connect(&StoreConfig::emulator(az.endpoint(), &table)).expect("connect");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async {
            pool.ensure_table().await.expect("create table");
            pool.seed(MAILBOX, "company.com", count)
                .await
                .expect("seed");
        });
        Pool { table, pool, rt }
    }

    pub fn provider_block(&self) -> String {
        format!(
            "{}\nprovider \"rootmail\" {{\n  endpoint     = \"{}\"\n  use_emulator = true\n  table        = \"{}\"\n}}\n",
            terraform::required_providers_block(),
            azurite::shared().endpoint(),
            self.table
        )
    }

    /// Every row, every column (with `Timestamp`, which any write changes)
    /// but the service's OData bookkeeping, by row key.
    pub fn snapshot(&self) -> BTreeMap<String, Map<String, Json>> {
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

    pub fn rows(&self, status: Option<AliasStatus>) -> Vec<rootmail::store::AliasRow> {
        self.rt
            .block_on(self.pool.list(&AliasFilter {
                status,
                ..Default::default()
            }))
            .expect("list")
    }
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

impl Pool {
    /// Inserts `rows` (legacy layout).
    pub fn insert(&self, rows: &[LegacyRow]) {
        self.rt
            .block_on(self.pool.insert_legacy_rows(rows))
            .expect("insert rows");
    }

    /// Runs `terraform plan <args>` (whatever its outcome) and fails the test
    /// if it changed any column of any row: a plan never writes.
    pub fn plan(&self, dir: &terraform::TerraformDir, args: &[&str]) -> terraform::TerraformOutput {
        let before = self.snapshot();
        let mut all = vec!["plan"];
        all.extend_from_slice(args);
        let out = dir.run(&all);
        self.assert_unchanged(&before, &format!("terraform {all:?}"));
        out
    }

    /// Fails the test when any column of any row differs from `before`.
    pub fn assert_unchanged(&self, before: &BTreeMap<String, Map<String, Json>>, what: &str) {
        let after = self.snapshot();
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
