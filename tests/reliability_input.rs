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
    let alias_ty = rootmail::provider::alias::schema().value_type();
    let account_ty = rootmail::provider::alias_account::schema().value_type();
    let config_ty = rootmail::provider::config::schema().value_type();
    let aliases_ty = data_aliases::AliasesDataSource(Shared::default())
        .schema()
        .value_type();
    let alias_ds_ty = data_alias::AliasDataSource(Shared::default())
        .schema()
        .value_type();

    // ----- rootmail_alias attributes (ValidateResourceConfig) -----------------
    let long = "a".repeat(10_000);
    let alias_cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "owner: not an e-mail",
            "owner",
            "not-an-email".into(),
            "Invalid e-mail address",
        ),
        ("owner: empty", "owner", "".into(), "Invalid e-mail address"),
        (
            "owner: no domain",
            "owner",
            "a@".into(),
            "Invalid e-mail address",
        ),
        (
            "owner: no local part",
            "owner",
            "@b.co".into(),
            "Invalid e-mail address",
        ),
        (
            "owner: space",
            "owner",
            "a b@c.co".into(),
            "Invalid e-mail address",
        ),
        (
            "owner: OData injection",
            "owner",
            "' or in_use eq false or '".into(),
            "Invalid e-mail address",
        ),
        (
            "owner: quote inside",
            "owner",
            "o'brien@company.com".into(),
            "Invalid e-mail address",
        ),
        (
            "owner: newline",
            "owner",
            "a@b.co\n".into(),
            "Invalid e-mail address",
        ),
        (
            "owner: NUL",
            "owner",
            "a@b.co\u{0}".into(),
            "Invalid e-mail address",
        ),
        (
            "owner: 10 kB",
            "owner",
            format!("{long}@b.co").into(),
            "Invalid e-mail address",
        ),
        (
            "mailbox: not an e-mail",
            "mailbox",
            "mailbox".into(),
            "Invalid e-mail address",
        ),
        (
            "purpose: newline",
            "purpose",
            "line\nbreak".into(),
            "Control characters",
        ),
        (
            "purpose: escape sequence",
            "purpose",
            "\u{1b}[31mred".into(),
            "Control characters",
        ),
        (
            "purpose: 10 kB",
            "purpose",
            long.as_str().into(),
            "Value too long",
        ),
        ("purpose: blank", "purpose", "   ".into(), "Empty value"),
        ("claim_key: empty", "claim_key", "".into(), "Empty value"),
        (
            "claim_key: tab",
            "claim_key",
            "a\tb".into(),
            "Control characters",
        ),
        (
            "claim_key: 10 kB",
            "claim_key",
            long.as_str().into(),
            "Value too long",
        ),
        (
            "on_destroy: unknown value",
            "on_destroy",
            "shred".into(),
            "Invalid value",
        ),
        (
            "on_destroy: wrong case",
            "on_destroy",
            "RELEASE".into(),
            "Invalid value",
        ),
        (
            "on_destroy: OData operator",
            "on_destroy",
            "release' or '1' eq '1".into(),
            "Invalid value",
        ),
        (
            "quarantine_days: zero",
            "quarantine_days",
            0i64.into(),
            "Invalid number",
        ),
        (
            "quarantine_days: negative",
            "quarantine_days",
            (-5i64).into(),
            "Invalid number",
        ),
        (
            "quarantine_days: huge",
            "quarantine_days",
            100_000i64.into(),
            "Invalid number",
        ),
        (
            "quarantine_days: fraction",
            "quarantine_days",
            Value::Number(rootmail::tfplugin::value::Number::from_f64(1.5).expect("number")),
            "Invalid number",
        ),
    ];
    for (name, attr, value, expect) in alias_cases {
        let mut pairs = vec![("owner", Value::from("team@company.com"))];
        pairs.retain(|(k, _)| *k != attr);
        pairs.push((attr, value));
        let resp = cases
            .client
            .validate_resource_config(tf::validate_resource_config::Request {
                type_name: "rootmail_alias".into(),
                config: Some(dv(&alias_ty, &with(&alias_ty, &pairs))),
                client_capabilities: None,
            })
            .await
            .expect("ValidateResourceConfig")
            .into_inner();
        cases
            .check(name, resp.diagnostics, expect, Some(attr))
            .await;
    }

    // ----- rootmail_alias_account: the 12-digit check ---------------------------
    for (name, id) in [
        ("account id: 5 digits", "12345"),
        ("account id: 13 digits", "1234567890123"),
        ("account id: letter", "12345678901a"),
        ("account id: empty", ""),
        ("account id: leading space", " 23456789012"),
        ("account id: full-width digits", "１２３４５６７８９０１２"),
        ("account id: OData injection", "' or 1 eq 1 or '"),
    ] {
        let config = with(
            &account_ty,
            &[
                ("email", "aws_x@company.com".into()),
                ("aws_account_id", id.into()),
            ],
        );
        let resp = cases
            .client
            .validate_resource_config(tf::validate_resource_config::Request {
                type_name: "rootmail_alias_account".into(),
                config: Some(dv(&account_ty, &config)),
                client_capabilities: None,
            })
            .await
            .expect("ValidateResourceConfig")
            .into_inner();
        cases
            .check(
                name,
                resp.diagnostics,
                "Invalid AWS account id",
                Some("aws_account_id"),
            )
            .await;
    }

    // ----- data sources ----------------------------------------------------------
    for (name, ty, type_name, pairs, expect, attr) in [
        (
            "rootmail_aliases: unknown status",
            &aliases_ty,
            "rootmail_aliases",
            vec![("status", Value::from("bogus"))],
            "Invalid value",
            "status",
        ),
        (
            "rootmail_aliases: injected owner",
            &aliases_ty,
            "rootmail_aliases",
            vec![("owner", Value::from("x' or in_use eq true or 'x"))],
            "Invalid e-mail address",
            "owner",
        ),
        (
            "rootmail_alias: account id too short",
            &alias_ds_ty,
            "rootmail_alias",
            vec![("aws_account_id", Value::from("12"))],
            "Invalid AWS account id",
            "aws_account_id",
        ),
    ] {
        let resp = cases
            .client
            .validate_data_resource_config(tf::validate_data_resource_config::Request {
                type_name: type_name.into(),
                config: Some(dv(ty, &with(ty, &pairs))),
            })
            .await
            .expect("ValidateDataResourceConfig")
            .into_inner();
        cases
            .check(name, resp.diagnostics, expect, Some(attr))
            .await;
    }

    // ----- provider configuration ---------------------------------------------------
    let endpoint = az.endpoint();
    for (name, pairs, expect, attr) in [
        (
            "provider: table name with symbols",
            vec![("table", Value::from("bad-name!"))],
            "Invalid table name",
            "table",
        ),
        (
            "provider: table name too short",
            vec![("table", Value::from("ab"))],
            "Invalid table name",
            "table",
        ),
        (
            "provider: endpoint not http(s)",
            vec![("endpoint", Value::from("ftp://x"))],
            "Invalid endpoint",
            "endpoint",
        ),
        (
            "provider: endpoint with newline",
            vec![("endpoint", Value::from("http://127.0.0.1/\nx"))],
            "Control characters",
            "endpoint",
        ),
        (
            "provider: retry timeout zero",
            vec![("retry_timeout_seconds", Value::from(0i64))],
            "Invalid number of seconds",
            "retry_timeout_seconds",
        ),
        (
            "provider: empty account",
            vec![("storage_account", Value::from(""))],
            "Empty value",
            "storage_account",
        ),
        (
            "provider: 10 kB connection string",
            vec![("connection_string", Value::from("a".repeat(10_000)))],
            "Value too long",
            // Secret settings get no attribute path: Terraform would print their source line.
            "",
        ),
        (
            "provider: two credentials",
            vec![
                ("access_key", Value::from("a2V5")),
                ("sas_token", Value::from("sv=1&sig=abc")),
            ],
            "Conflicting authentication settings",
            "",
        ),
        (
            "provider: unknown cloud",
            vec![("environment", Value::from("mars"))],
            "Unknown Azure environment",
            "environment",
        ),
        (
            "provider: OIDC token given two ways",
            vec![
                ("oidc_token_file_path", Value::from("/var/run/token")),
                ("ado_pipeline_service_connection_id", Value::from("sc-1")),
            ],
            "Conflicting OIDC token settings",
            "ado_pipeline_service_connection_id",
        ),
        (
            "provider: OIDC request URL not a URL",
            vec![("oidc_request_url", Value::from("token.actions.example"))],
            "Invalid OIDC request URL",
            "oidc_request_url",
        ),
        (
            "provider: Azure DevOps and a client secret",
            vec![
                ("ado_pipeline_service_connection_id", Value::from("sc-1")),
                ("client_secret", Value::from("s3cret-value")),
            ],
            "Conflicting Azure AD settings",
            "ado_pipeline_service_connection_id",
        ),
        // Found when the settings are resolved, not by validation: the
        // attribute comes from the store's typed error. All three pointed at
        // `storage_account` while it was guessed from the message text.
        (
            "provider: partition key with a slash",
            vec![("partition_key", Value::from("pool/a"))],
            "partition key",
            "partition_key",
        ),
        (
            "provider: OIDC without a token",
            vec![("use_oidc", Value::from(true))],
            "there is no token",
            "use_oidc",
        ),
        (
            "provider: client secret without a tenant",
            vec![
                (
                    "client_id",
                    Value::from("00000000-0000-0000-0000-000000000002"),
                ),
                ("client_secret", Value::from("s3cret-value")),
            ],
            "needs a tenant id",
            "tenant_id",
        ),
    ] {
        let resp = cases
            .client
            .configure_provider(tf::configure_provider::Request {
                terraform_version: "1.0.3".into(),
                config: Some(dv(&config_ty, &with(&config_ty, &pairs))),
                client_capabilities: None,
            })
            .await
            .expect("ConfigureProvider")
            .into_inner();
        let attr = Some(attr).filter(|a| !a.is_empty());
        cases.check(name, resp.diagnostics, expect, attr).await;
    }

    // ----- garbage on the wire -------------------------------------------------------------
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
        &alias_ty,
        &[
            ("owner", "team@company.com".into()),
            ("on_destroy", "release".into()),
            ("quarantine_days", 90i64.into()),
        ],
    );
    unknown_computed(&mut planned);
    let planned_dv = dv(&alias_ty, &planned);
    let null_dv = dv(&alias_ty, &Value::Null);
    let mut wire_cases: Vec<(String, tf::DynamicValue)> = (0..4)
        .map(|i| {
            (
                format!("random bytes #{i}"),
                raw_msgpack(random_bytes(64 + i * 100)),
            )
        })
        .collect();
    // A map whose owner is a number, an array instead of a map, a truncated
    // value, and broken JSON.
    let owner_number = {
        let map = rmpv::Value::Map(vec![(rmpv::Value::from("owner"), rmpv::Value::from(42))]);
        let mut buf = Vec::new();
        rmpv::encode::write_value(&mut buf, &map).expect("encode");
        buf
    };
    wire_cases.push((
        "wrong type: owner is a number".into(),
        raw_msgpack(owner_number),
    ));
    let array = {
        let mut buf = Vec::new();
        rmpv::encode::write_value(&mut buf, &rmpv::Value::Array(vec![rmpv::Value::from(1)]))
            .expect("encode");
        buf
    };
    wire_cases.push(("wrong type: array for an object".into(), raw_msgpack(array)));
    let truncated = planned_dv.msgpack[..planned_dv.msgpack.len() / 2].to_vec();
    wire_cases.push(("truncated msgpack".into(), raw_msgpack(truncated)));
    wire_cases.push((
        "broken JSON".into(),
        tf::DynamicValue {
            msgpack: vec![],
            json: b"{\"owner\": ".to_vec(),
        },
    ));
    for (i, (name, garbage)) in wire_cases.into_iter().enumerate() {
        // Each kind of garbage goes to a different RPC, round robin.
        let diags = match i % 5 {
            0 => {
                cases
                    .client
                    .validate_resource_config(tf::validate_resource_config::Request {
                        type_name: "rootmail_alias".into(),
                        config: Some(garbage),
                        client_capabilities: None,
                    })
                    .await
                    .expect("ValidateResourceConfig")
                    .into_inner()
                    .diagnostics
            }
            1 => {
                cases
                    .client
                    .plan_resource_change(tf::plan_resource_change::Request {
                        type_name: "rootmail_alias".into(),
                        prior_state: Some(null_dv.clone()),
                        proposed_new_state: Some(garbage.clone()),
                        config: Some(garbage),
                        ..Default::default()
                    })
                    .await
                    .expect("PlanResourceChange")
                    .into_inner()
                    .diagnostics
            }
            2 => {
                cases
                    .client
                    .apply_resource_change(tf::apply_resource_change::Request {
                        type_name: "rootmail_alias".into(),
                        prior_state: Some(null_dv.clone()),
                        planned_state: Some(garbage),
                        config: Some(planned_dv.clone()),
                        ..Default::default()
                    })
                    .await
                    .expect("ApplyResourceChange")
                    .into_inner()
                    .diagnostics
            }
            3 => {
                cases
                    .client
                    .configure_provider(tf::configure_provider::Request {
                        terraform_version: "1.0.3".into(),
                        config: Some(garbage),
                        client_capabilities: None,
                    })
                    .await
                    .expect("ConfigureProvider")
                    .into_inner()
                    .diagnostics
            }
            _ => {
                cases
                    .client
                    .read_data_source(tf::read_data_source::Request {
                        type_name: "rootmail_aliases".into(),
                        config: Some(garbage),
                        ..Default::default()
                    })
                    .await
                    .expect("ReadDataSource")
                    .into_inner()
                    .diagnostics
            }
        };
        cases.check(&name, diags, "Invalid", None).await;
    }
    let resp = cases
        .client
        .validate_resource_config(tf::validate_resource_config::Request {
            type_name: "rootmail_nope".into(),
            config: Some(planned_dv.clone()),
            client_capabilities: None,
        })
        .await
        .expect("ValidateResourceConfig")
        .into_inner();
    cases
        .check(
            "unknown resource type",
            resp.diagnostics,
            "Unknown resource type",
            None,
        )
        .await;

    // ----- credentials and tables (ApplyResourceChange: a real claim attempt) -----------
    let configure = |pairs: Vec<(&'static str, Value)>| {
        let mut base = vec![
            ("endpoint", Value::from(endpoint.as_str())),
            ("table", Value::from(good.as_str())),
            ("retry_timeout_seconds", Value::from(5i64)),
        ];
        base.extend(pairs);
        tf::configure_provider::Request {
            terraform_version: "1.0.3".into(),
            config: Some(dv(&config_ty, &with(&config_ty, &base))),
            client_capabilities: None,
        }
    };
    let create = || tf::apply_resource_change::Request {
        type_name: "rootmail_alias".into(),
        prior_state: Some(null_dv.clone()),
        planned_state: Some(planned_dv.clone()),
        config: Some(planned_dv.clone()),
        ..Default::default()
    };
    let wrong_key =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, random_bytes(64));
    let read_only_sas = azurite::account_sas("rl");
    type Setup<'a> = (&'a str, Vec<(&'static str, Value)>, &'a str);
    let setups: Vec<Setup> = vec![
        (
            "wrong access key",
            vec![("access_key", Value::from(wrong_key.as_str()))],
            "access to table",
        ),
        (
            "SAS without write permission",
            vec![("sas_token", Value::from(read_only_sas.as_str()))],
            "SAS token needs",
        ),
        (
            "missing table",
            vec![
                ("use_emulator", Value::from(true)),
                ("table", Value::from("doesnotexist0")),
            ],
            "does not exist",
        ),
        (
            "rows with wrong column types or missing columns",
            vec![
                ("use_emulator", Value::from(true)),
                ("table", Value::from(odd.as_str())),
            ],
            "Alias pool exhausted",
        ),
    ];
    for (name, pairs, expect) in setups {
        let mut req = configure(vec![]);
        let mut merged = with(&config_ty, &[]);
        // Later pairs win over the defaults (e.g. another table).
        for (k, v) in [
            ("endpoint", Value::from(endpoint.as_str())),
            ("table", Value::from(good.as_str())),
            ("retry_timeout_seconds", Value::from(5i64)),
        ]
        .into_iter()
        .chain(pairs)
        {
            merged.set_attr(k, v);
        }
        req.config = Some(dv(&config_ty, &merged));
        let configured = cases
            .client
            .configure_provider(req)
            .await
            .expect("ConfigureProvider")
            .into_inner();
        // What makes every request fail (a refused key, a missing table)
        // stops the provider's configuration, which reads the pool once;
        // the rest shows when the create writes.
        let diagnostics = if configured.diagnostics.is_empty() {
            cases
                .client
                .apply_resource_change(create())
                .await
                .expect("ApplyResourceChange")
                .into_inner()
                .diagnostics
        } else {
            configured.diagnostics
        };
        let secret_free = format!("{diagnostics:?}");
        assert!(
            !secret_free.contains(&wrong_key),
            "{name}: key in a diagnostic"
        );
        assert!(
            !secret_free.contains(read_only_sas.split("sig=").nth(1).unwrap_or("-")),
            "{name}: SAS signature in a diagnostic"
        );
        cases.check(name, diagnostics, expect, None).await;
    }

    // Reading the odd table works and shows no alias that looks free but is not.
    let listed = cases
        .client
        .read_data_source(tf::read_data_source::Request {
            type_name: "rootmail_aliases".into(),
            config: Some(dv(&aliases_ty, &with(&aliases_ty, &[]))),
            ..Default::default()
        })
        .await
        .expect("ReadDataSource")
        .into_inner();
    assert!(
        !listed
            .diagnostics
            .iter()
            .any(|d| d.severity == tf::diagnostic::Severity::Error as i32),
        "{:?}",
        listed.diagnostics
    );

    // ----- import ids ----------------------------------------------------------------------------
    cases
        .client
        .configure_provider(configure(vec![("use_emulator", Value::from(true))]))
        .await
        .expect("ConfigureProvider");
    for (name, id, expect) in [
        (
            "import: OData injection",
            "' or in_use eq false or '",
            "Invalid import ID",
        ),
        ("import: empty id", "", "Missing import ID"),
        (
            "import: unknown address",
            "nobody@company.com",
            "No alias with the address",
        ),
    ] {
        let resp = cases
            .client
            .import_resource_state(tf::import_resource_state::Request {
                type_name: "rootmail_alias".into(),
                id: id.into(),
                ..Default::default()
            })
            .await
            .expect("ImportResourceState")
            .into_inner();
        cases.check(name, resp.diagnostics, expect, None).await;
    }

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
