//! Garbage where msgpack or JSON belongs, sent round robin to the RPCs that
//! decode values, and an unknown resource type.

use super::*;

/// Random bytes, wrong types, a truncated value and broken JSON.
pub(super) async fn garbage(cases: &mut Cases) {
    let alias_ty = rootmail::provider::alias::schema().value_type();
    let planned_dv = planned_alias(&alias_ty);
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
            0 => cases.validate_resource("rootmail_alias", garbage).await,
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
    let diagnostics = cases
        .validate_resource("rootmail_nope", planned_dv.clone())
        .await;
    cases
        .check(
            "unknown resource type",
            diagnostics,
            "Unknown resource type",
            None,
        )
        .await;
}
