//! The go-plugin transport, tested from outside: the built binary is started the
//! way Terraform starts it and driven by a real tonic client over real mTLS.

use std::time::{Duration, Instant};

use rootmail::proto::tfplugin6 as tf;
use rootmail::tfplugin::Value;
use testkit::plugin_client;
use testkit::plugin_client::{connect, provider_command, ClientIdentity, Launch, PluginProcess};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::HealthCheckRequest;

mod startup;
mod transport;

/// Runs the binary to completion with `envs` and `args`, with a deadline.
async fn run_to_exit(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut command = provider_command();
    command.args(args);
    for (name, value) in envs {
        command.env(name, value);
    }
    let child = command.spawn().expect("spawn the provider binary");
    tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the provider exits on its own")
        .expect("collect output")
}

/// Resource identity (Terraform 1.12+, not runnable here): the PlanResourceChange
/// answers a 1.12 Terraform would get. A replacement must not plan the old
/// e-mail as the new object's identity; an in-place update keeps it.
#[tokio::test]
async fn planned_identity_follows_the_object_not_the_replaced_one() {
    use rootmail::tfplugin::Type;
    let plugin = PluginProcess::start().await;
    let provider = plugin.provider();
    let ty = rootmail::provider::alias::schema().value_type();
    let identity_ty = Type::Object([("email".to_string(), Type::String)].into_iter().collect());
    let old = "aws_11111111-1111-4111-8111-111111111111@company.com";
    let obj = |pairs: &[(&str, Value)]| {
        let mut v = Value::object_of_nulls(&ty);
        for (k, x) in pairs {
            v.set_attr(*k, x.clone());
        }
        v
    };
    let prior = obj(&[
        ("id", old.into()),
        ("email", old.into()),
        ("alias_id", "11111111-1111-4111-8111-111111111111".into()),
        ("owner", "team@company.com".into()),
        ("mailbox", "comp001@company.com".into()),
        ("on_destroy", "release".into()),
        ("quarantine_days", Value::from(90i64)),
        ("claimed_at", "2026-01-01T00:00:00Z".into()),
        ("aws_account_id", "".into()),
        ("claim_token", "token".into()),
        ("status", "claimed".into()),
    ]);
    let prior_identity = tf::ResourceIdentityData {
        identity_data: Some(
            Value::object([("email", Value::from(old))])
                .to_dynamic(&identity_ty)
                .expect("identity"),
        ),
    };
    // Terraform's proposed new state: the configuration, computed values from prior.
    let proposed_from = |config: &Value| {
        let mut p = config.clone();
        for k in [
            "id",
            "email",
            "alias_id",
            "mailbox",
            "claimed_at",
            "aws_account_id",
            "claim_token",
            "status",
        ] {
            if config.attr(k).is_null() {
                p.set_attr(k, prior.attr(k).clone());
            }
        }
        p
    };
    let dv = |v: &Value| Some(v.to_dynamic(&ty).expect("encode"));
    let request =
        |prior_state: Value, config: Value, proposed: Value| tf::plan_resource_change::Request {
            type_name: "rootmail_alias".into(),
            prior_state: dv(&prior_state),
            proposed_new_state: dv(&proposed),
            config: dv(&config),
            prior_identity: (!prior_state.is_null()).then(|| prior_identity.clone()),
            ..Default::default()
        };
    let provider2 = provider.clone();
    let plan = move |prior_state: Value, config: Value, proposed: Value| {
        let req = request(prior_state, config, proposed);
        let mut client = provider2.clone();
        async move {
            client
                .plan_resource_change(req)
                .await
                .expect("PlanResourceChange")
                .into_inner()
        }
    };
    let identity_email = |id: &Option<tf::ResourceIdentityData>| {
        id.as_ref()
            .and_then(|i| i.identity_data.as_ref())
            .map(|dv| {
                Value::from_dynamic(&identity_ty, dv)
                    .expect("identity decodes")
                    .attr("email")
                    .clone()
            })
    };

    // Another mailbox replaces the alias: the new e-mail is unknown until apply.
    let config = obj(&[
        ("owner", "team@company.com".into()),
        ("mailbox", "comp002@company.com".into()),
    ]);
    let replace = plan(prior.clone(), config.clone(), proposed_from(&config)).await;
    assert!(replace.diagnostics.is_empty(), "{:?}", replace.diagnostics);
    assert_eq!(replace.requires_replace.len(), 1);
    let planned = identity_email(&replace.planned_identity);
    assert!(
        planned.as_ref().is_none_or(|e| !e.is_known()),
        "a replacement planned the old identity: {planned:?}"
    );

    // A new owner is an in-place update: same alias, same identity.
    let config = obj(&[("owner", "other@company.com".into())]);
    let update = plan(prior.clone(), config.clone(), proposed_from(&config)).await;
    assert!(update.requires_replace.is_empty());
    assert_eq!(
        identity_email(&update.planned_identity),
        Some(Value::from(old))
    );

    // A create has no identity before apply.
    let config = obj(&[("owner", "team@company.com".into())]);
    let create = plan(Value::Null, config.clone(), config.clone()).await;
    assert_eq!(identity_email(&create.planned_identity), None);

    // A destroy keeps the prior identity (Terraform passes it to the delete).
    let destroy = plan(prior.clone(), Value::Null, Value::Null).await;
    assert_eq!(
        identity_email(&destroy.planned_identity),
        Some(Value::from(old))
    );
}
