//! Bad input, straight through the plugin protocol (a real tonic client over
//! mTLS, as Terraform connects): malformed and hostile strings, wrong types,
//! unknown enum values, bad account ids, broken credentials and tables, and
//! random bytes where msgpack belongs. Every case must get a clear error
//! diagnostic (on the attribute when there is one), the process must stay up
//! and answer the next call, and no row of any table may change.

use rand::Rng;
use rootmail::proto::tfplugin6 as tf;
use rootmail::provider::{data_alias, data_aliases, Shared};
use rootmail::store::{AliasPool, StoreConfig};
use rootmail::tfplugin::{Declared, Type, Value};
use serde_json::json;
use testkit::azurite;
use testkit::plugin_client::PluginProcess;
use testkit::table_tool::RawTable;
use tf::provider_client::ProviderClient;
use tonic::transport::Channel;

mod attributes;
mod tables;
mod wire;

/// Counts cases and checks each outcome and that the plugin is still alive.
struct Cases {
    client: ProviderClient<Channel>,
    count: usize,
}

impl Cases {
    /// `diags` must hold an error whose summary or detail contains `expect`,
    /// on attribute `attr` when given; then the plugin must answer again.
    async fn check(
        &mut self,
        name: &str,
        diags: Vec<tf::Diagnostic>,
        expect: &str,
        attr: Option<&str>,
    ) {
        self.count += 1;
        let hit = diags.iter().find(|d| {
            d.severity == tf::diagnostic::Severity::Error as i32
                && (d.summary.contains(expect) || d.detail.contains(expect))
        });
        let Some(hit) = hit else {
            panic!("case {name}: no error mentioning {expect:?} in {diags:#?}");
        };
        if let Some(attr) = attr {
            let first = hit
                .attribute
                .as_ref()
                .and_then(|p| p.steps.first())
                .and_then(|s| s.selector.clone());
            assert_eq!(
                first,
                Some(tf::attribute_path::step::Selector::AttributeName(
                    attr.to_string()
                )),
                "case {name}: diagnostic not on attribute {attr}: {hit:?}"
            );
        }
        assert!(
            hit.detail.len() < 2000,
            "case {name}: detail too long to be readable ({} bytes)",
            hit.detail.len()
        );
        self.alive(name).await;
    }

    /// The diagnostics of `ValidateResourceConfig` for `config` of `type_name`.
    async fn validate_resource(
        &mut self,
        type_name: &str,
        config: tf::DynamicValue,
    ) -> Vec<tf::Diagnostic> {
        self.client
            .validate_resource_config(tf::validate_resource_config::Request {
                type_name: type_name.into(),
                config: Some(config),
                client_capabilities: None,
            })
            .await
            .expect("ValidateResourceConfig")
            .into_inner()
            .diagnostics
    }

    async fn alive(&mut self, after: &str) {
        let meta = self
            .client
            .get_metadata(tf::get_metadata::Request {})
            .await
            .unwrap_or_else(|e| panic!("plugin did not answer after case {after}: {e}"));
        assert_eq!(meta.into_inner().resources.len(), 2);
    }
}

fn dv(ty: &Type, v: &Value) -> tf::DynamicValue {
    v.to_dynamic(ty).expect("encode value")
}

fn raw_msgpack(bytes: Vec<u8>) -> tf::DynamicValue {
    tf::DynamicValue {
        msgpack: bytes,
        json: vec![],
    }
}

fn with(ty: &Type, pairs: &[(&str, Value)]) -> Value {
    let mut v = Value::object_of_nulls(ty);
    for (k, x) in pairs {
        v.set_attr(*k, x.clone());
    }
    v
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut rng = rand::rng();
    (0..n).map(|_| rng.random()).collect()
}

/// The planned state of a new `rootmail_alias`, its computed attributes unknown.
fn planned_alias(alias_ty: &Type) -> tf::DynamicValue {
    let unknown_computed = |v: &mut Value| {
        for a in [
            "id",
            "email",
            "alias_id",
            "claimed_at",
            "aws_account_id",
            "claim_token",
            "mailbox",
        ] {
            v.set_attr(a, Value::Unknown);
        }
    };
    let mut planned = with(
        alias_ty,
        &[
            ("owner", "team@company.com".into()),
            ("on_destroy", "release".into()),
            ("quarantine_days", 90i64.into()),
        ],
    );
    unknown_computed(&mut planned);
    dv(alias_ty, &planned)
}

/// The tables the test writes to: the pool and one with rows of the wrong shape.
struct Tables {
    endpoint: String,
    good: String,
    odd: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_plus_kinds_of_bad_input_get_clear_diagnostics_and_change_nothing() {
    let az = azurite::shared();
    let good = azurite::unique_table_name("input");
    let odd = azurite::unique_table_name("oddrows");
    let pool = AliasPool::connect(&StoreConfig::emulator(az.endpoint(), &good)).expect("pool");
    pool.ensure_table().await.expect("table");
    pool.seed("comp001@company.com", "company.com", 5)
        .await
        .expect("seed");
    // A table whose rows have wrong column types or missing columns.
    let odd_pool = AliasPool::connect(&StoreConfig::emulator(az.endpoint(), &odd)).expect("pool");
    odd_pool.ensure_table().await.expect("table");
    let odd_raw = RawTable::new(&az.endpoint(), &odd);
    for (i, row) in [
        json!({"in_use": "false", "aws_mail": "a1@company.com"}),
        json!({"aws_mail": "a2@company.com", "root_mailbox": "m@company.com"}),
        json!({"in_use": 0, "aws_mail": "a3@company.com"}),
        json!({"in_use": false, "root_mailbox": "m@company.com"}),
        json!({"in_use": false, "aws_mail": 12345}),
        json!({"in_use": false, "aws_mail": "", "user_mail": 7}),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = row;
        e["PartitionKey"] = json!("root");
        e["RowKey"] = json!(format!("odd-{i}"));
        odd_raw.insert(&e).await;
    }
    let good_raw = RawTable::new(&az.endpoint(), &good);
    let before = (good_raw.snapshot().await, odd_raw.snapshot().await);

    let plugin = PluginProcess::start().await;
    let mut cases = Cases {
        client: plugin.provider(),
        count: 0,
    };
    attributes::resource(&mut cases).await;
    attributes::account_ids(&mut cases).await;
    attributes::data_sources(&mut cases).await;
    attributes::provider(&mut cases).await;
    wire::garbage(&mut cases).await;
    let tables = Tables {
        endpoint: az.endpoint(),
        good,
        odd,
    };
    tables::credentials_and_tables(&mut cases, &tables).await;
    tables::import_ids(&mut cases, &tables).await;

    let after = (good_raw.snapshot().await, odd_raw.snapshot().await);
    assert_eq!(after.0, before.0, "a row of the pool table changed");
    assert_eq!(after.1, before.1, "a row of the odd table changed");
    assert!(
        !plugin.stderr().contains("panicked"),
        "the plugin panicked:\n{}",
        plugin.stderr()
    );
    let rows = after.0.len() + after.1.len();
    println!(
        "bad input: {} cases, each with a clear error diagnostic; plugin alive after every one; \
         {rows} rows unchanged",
        cases.count
    );
    assert!(cases.count >= 40, "only {} cases", cases.count);
    plugin.shutdown().await;
}
