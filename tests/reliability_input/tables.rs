//! Broken credentials and tables, met by a real claim attempt (rows of the
//! wrong shape included), and hostile or unknown import ids.

use super::*;

/// A wrong key, a read-only SAS, a missing table, rows of the wrong shape.
pub(super) async fn credentials_and_tables(cases: &mut Cases, tables: &Tables) {
    let alias_ty = rootmail::provider::alias::schema().value_type();
    let config_ty = rootmail::provider::config::schema().value_type();
    let aliases_ty = data_aliases::AliasesDataSource(Shared::default())
        .schema()
        .value_type();
    let planned_dv = planned_alias(&alias_ty);
    let null_dv = dv(&alias_ty, &Value::Null);
    let Tables {
        endpoint,
        good,
        odd,
    } = tables;
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
        let mut req = configure(tables, &config_ty, vec![]);
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
}

/// Import ids that are hostile, empty or unknown.
pub(super) async fn import_ids(cases: &mut Cases, tables: &Tables) {
    let config_ty = rootmail::provider::config::schema().value_type();
    cases
        .client
        .configure_provider(configure(
            tables,
            &config_ty,
            vec![("use_emulator", Value::from(true))],
        ))
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
}

/// ConfigureProvider for the pool table, with `pairs` added.
fn configure(
    tables: &Tables,
    config_ty: &Type,
    pairs: Vec<(&'static str, Value)>,
) -> tf::configure_provider::Request {
    let Tables { endpoint, good, .. } = tables;
    let mut base = vec![
        ("endpoint", Value::from(endpoint.as_str())),
        ("table", Value::from(good.as_str())),
        ("retry_timeout_seconds", Value::from(5i64)),
    ];
    base.extend(pairs);
    tf::configure_provider::Request {
        terraform_version: "1.0.3".into(),
        config: Some(dv(config_ty, &with(config_ty, &base))),
        client_capabilities: None,
    }
}
