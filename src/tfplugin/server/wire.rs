//! The shape every RPC shares: values decoded from and encoded to the wire
//! with a diagnostic naming what failed, and an [`Outcome`] settled into the
//! response's payload (or what Terraform already holds) and diagnostics.

use super::super::diag::{Diagnostic, Diagnostics};
use super::super::schema::Schema;
use super::super::value::{Type, Value};
use crate::proto::tfplugin6 as pb;

/// What an RPC's work yields: its payload with the diagnostics that came
/// along, or only diagnostics when it failed before it had one.
pub(super) type Outcome<T> = Result<(T, Diagnostics), Diagnostics>;

/// The payload (or `fallback`, what Terraform sent and keeps when the call
/// failed) and the diagnostics as the wire carries them.
pub(super) fn settle<T>(outcome: Outcome<T>, fallback: T) -> (T, Vec<pb::Diagnostic>) {
    match outcome {
        Ok((payload, diags)) => (payload, diags.to_proto()),
        Err(diags) => (fallback, diags.to_proto()),
    }
}

/// Decodes a DynamicValue; `None` on the wire means null.
pub(super) fn decode(
    ty: &Type,
    dv: Option<&pb::DynamicValue>,
    what: &str,
) -> Result<Value, Diagnostics> {
    match dv {
        None => Ok(Value::Null),
        Some(dv) => Value::from_dynamic(ty, dv).map_err(|e| {
            Diagnostic::error(
                format!("Invalid {what} received from Terraform"),
                format!("The provider could not decode the {what}: {e}."),
            )
            .into()
        }),
    }
}

pub(super) fn encode(ty: &Type, v: &Value, what: &str) -> Result<pb::DynamicValue, Diagnostics> {
    v.to_dynamic(ty).map_err(|e| {
        Diagnostic::error(
            format!("Provider produced an invalid {what}"),
            format!("The {what} could not be encoded: {e}. This is a bug in the provider."),
        )
        .into()
    })
}

/// [`encode`] after a call that produced `diags`: they travel with the value,
/// or with the encoding error.
pub(super) fn encode_with(
    ty: &Type,
    v: &Value,
    what: &str,
    mut diags: Diagnostics,
) -> Outcome<pb::DynamicValue> {
    match encode(ty, v, what) {
        Ok(dv) => Ok((dv, diags)),
        Err(e) => {
            diags.extend(e);
            Err(diags)
        }
    }
}

/// Decodes stored state JSON leniently: attributes the schema no longer has
/// are dropped and new ones start null, so old states keep loading.
pub(super) fn decode_state_json(schema: &Schema, json: &[u8]) -> Result<Value, Diagnostics> {
    let bad = |e: String| -> Diagnostics {
        Diagnostic::error(
            "Invalid stored state",
            format!("The stored state could not be read: {e}."),
        )
        .into()
    };
    let raw: serde_json::Value = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
    let serde_json::Value::Object(mut obj) = raw else {
        return Err(bad("the state is not a JSON object".into()));
    };
    let ty = schema.value_type();
    let Type::Object(attrs) = &ty else {
        return Err(bad("schema is not an object".into()));
    };
    obj.retain(|k, _| attrs.contains_key(k));
    for k in attrs.keys() {
        obj.entry(k.clone()).or_insert(serde_json::Value::Null);
    }
    let bytes =
        serde_json::to_vec(&serde_json::Value::Object(obj)).map_err(|e| bad(e.to_string()))?;
    Value::from_json(&ty, &bytes).map_err(|e| bad(e.to_string()))
}

/// The answer to an RPC this framework does not offer.
pub(super) fn not_supported(provider: &str, what: &str) -> Vec<pb::Diagnostic> {
    Diagnostics::from(Diagnostic::error(
        format!("{what} not supported"),
        format!("The {provider} provider does not offer {what}."),
    ))
    .to_proto()
}

pub(super) fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        // Destroys are planned through PlanResourceChange (plan::plan returns null).
        plan_destroy: true,
        // Every RPC works without a prior GetProviderSchema: schemas are built at start.
        get_provider_schema_optional: true,
        move_resource_state: false,
    }
}
