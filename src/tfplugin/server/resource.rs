//! The resource RPCs' work: each decodes what Terraform sent, calls the
//! [`Resource`](super::super::resource::Resource) and encodes its answer as
//! one [`Outcome`]; the service settles it into the response.

use super::super::diag::{AttributePath, Diagnostic, Diagnostics};
use super::super::plan;
use super::super::resource::{PlannedChange, Provider};
use super::super::value::Value;
use super::wire::{decode, decode_state_json, encode, encode_with, Outcome};
use super::{ProviderService, ResourceEntry};
use crate::proto::tfplugin6 as pb;

/// A resource object as the wire carries it: state, private data, identity.
pub(super) struct Stored {
    pub(super) state: Option<pb::DynamicValue>,
    pub(super) private: Vec<u8>,
    pub(super) identity: Option<pb::ResourceIdentityData>,
}

/// A planned change as the wire carries it.
pub(super) struct Planned {
    pub(super) state: Option<pb::DynamicValue>,
    pub(super) requires_replace: Vec<pb::AttributePath>,
    pub(super) private: Vec<u8>,
    pub(super) identity: Option<pb::ResourceIdentityData>,
}

impl<P: Provider> ProviderService<P> {
    pub(super) async fn validate_resource(
        &self,
        req: &pb::validate_resource_config::Request,
    ) -> Outcome<()> {
        let e = self.resource(&req.type_name)?;
        let config = decode(&e.ty, req.config.as_ref(), "resource configuration")?;
        Ok(((), e.imp.validate(&config).await))
    }

    pub(super) fn upgrade_state(
        &self,
        req: &pb::upgrade_resource_state::Request,
    ) -> Outcome<Option<pb::DynamicValue>> {
        let e = self.resource(&req.type_name)?;
        if req.version > e.schema.version {
            return Err(Diagnostic::error(
                "State written by a newer provider",
                format!(
                    "The state of this {} was written with schema version {}, but this provider knows only up to version {}. Upgrade the provider.",
                    req.type_name, req.version, e.schema.version
                ),
            )
            .into());
        }
        let raw = raw_json(req.raw_state.as_ref());
        let mut value = decode_state_json(&e.schema, raw)?;
        if req.version < e.schema.version && !value.is_null() {
            value = e.imp.upgrade_state(req.version, value);
        }
        let dv = encode(&e.ty, &value, "upgraded state")?;
        Ok((Some(dv), Diagnostics::new()))
    }

    pub(super) fn upgrade_identity(
        &self,
        req: &pb::upgrade_resource_identity::Request,
    ) -> Outcome<Option<pb::ResourceIdentityData>> {
        let e = self.resource(&req.type_name)?;
        let Some((_, ty)) = &e.identity else {
            return Err(Diagnostic::error(
                "Resource has no identity",
                format!("The resource type {} declares no identity.", req.type_name),
            )
            .into());
        };
        let raw = raw_json(req.raw_identity.as_ref());
        let v = Value::from_json(ty, raw).map_err(|err| {
            Diagnostics::from(Diagnostic::error(
                "Invalid stored identity",
                format!("The stored identity could not be read: {err}."),
            ))
        })?;
        let dv = encode(ty, &v, "identity")?;
        let identity = pb::ResourceIdentityData {
            identity_data: Some(dv),
        };
        Ok((Some(identity), Diagnostics::new()))
    }

    pub(super) async fn read(&self, req: &pb::read_resource::Request) -> Outcome<Stored> {
        let e = self.resource(&req.type_name)?;
        let current = decode(&e.ty, req.current_state.as_ref(), "state")?;
        let out = e.imp.read(&self.ctx(), &current, &req.private).await;
        let (dv, diags) = encode_with(&e.ty, &out.state, "state", out.diagnostics)?;
        let stored = Stored {
            state: Some(dv),
            private: out.private.unwrap_or_else(|| req.private.clone()),
            identity: identity_data(e, &out.state).or_else(|| req.current_identity.clone()),
        };
        Ok((stored, diags))
    }

    pub(super) async fn plan(&self, req: &pb::plan_resource_change::Request) -> Outcome<Planned> {
        let e = self.resource(&req.type_name)?;
        let prior = decode(&e.ty, req.prior_state.as_ref(), "prior state")?;
        let proposed = decode(&e.ty, req.proposed_new_state.as_ref(), "proposed new state")?;
        let config = decode(&e.ty, req.config.as_ref(), "configuration")?;
        let mut change = plan::plan(&e.schema, &prior, &proposed, &config);
        e.imp.modify_plan(&self.ctx(), &mut change).await;
        let state = encode(&e.ty, &change.planned, "planned state")?;
        let planned = Planned {
            state: Some(state),
            requires_replace: change
                .requires_replace
                .iter()
                .map(|a| AttributePath::attr(a.clone()).to_proto())
                .collect(),
            private: req.prior_private.clone(),
            identity: planned_identity(e, &change, req.prior_identity.clone()),
        };
        Ok((planned, change.diagnostics))
    }

    pub(super) async fn apply(&self, req: &pb::apply_resource_change::Request) -> Outcome<Stored> {
        let e = self.resource(&req.type_name)?;
        let prior = decode(&e.ty, req.prior_state.as_ref(), "prior state")?;
        let planned = decode(&e.ty, req.planned_state.as_ref(), "planned state")?;
        let config = decode(&e.ty, req.config.as_ref(), "configuration")?;
        let ctx = self.ctx();
        let mut private = req.planned_private.clone();
        let (state, mut diags) = if planned.is_null() {
            tracing::debug!(resource = %req.type_name, "deleting");
            let d = e.imp.delete(&ctx, &prior, &req.planned_private).await;
            if d.has_errors() {
                (prior, d)
            } else {
                (Value::Null, d)
            }
        } else if prior.is_null() {
            tracing::debug!(resource = %req.type_name, "creating");
            let out = e.imp.create(&ctx, &planned, &config, &private).await;
            private = out.private.unwrap_or(private);
            (out.state, out.diagnostics)
        } else {
            tracing::debug!(resource = %req.type_name, "updating");
            let out = e
                .imp
                .update(&ctx, &prior, &planned, &config, &private)
                .await;
            private = out.private.unwrap_or(private);
            (out.state, out.diagnostics)
        };
        check_fully_known(&state, &req.type_name, &mut diags);
        let state = if state.is_fully_known() {
            state
        } else {
            Value::Null
        };
        let (dv, diags) = encode_with(&e.ty, &state, "new state", diags)?;
        let stored = Stored {
            state: Some(dv),
            private,
            identity: identity_data(e, &state),
        };
        Ok((stored, diags))
    }

    pub(super) async fn import(
        &self,
        req: &pb::import_resource_state::Request,
    ) -> Outcome<Vec<pb::import_resource_state::ImportedResource>> {
        let e = self.resource(&req.type_name)?;
        let id = import_id(e, req)?;
        let out = e.imp.import(&self.ctx(), &id).await;
        let mut diags = out.diagnostics;
        let mut imported = vec![];
        if !diags.has_errors() && !out.state.is_null() {
            let state = encode(&e.ty, &out.state, "imported state")?;
            imported.push(pb::import_resource_state::ImportedResource {
                type_name: req.type_name.clone(),
                state: Some(state),
                private: out.private.clone().unwrap_or_default(),
                identity: identity_data(e, &out.state),
            });
        } else if !diags.has_errors() {
            diags.error(
                "Nothing to import",
                format!("No {} was found for {id:?}.", req.type_name),
            );
        }
        Ok((imported, diags))
    }
}

/// Stored JSON as Terraform sent it; none is null.
fn raw_json(raw: Option<&pb::RawState>) -> &[u8] {
    raw.map(|r| r.json.as_slice()).unwrap_or(b"null")
}

fn identity_data(entry: &ResourceEntry, state: &Value) -> Option<pb::ResourceIdentityData> {
    let (_, ty) = entry.identity.as_ref()?;
    if state.is_null() {
        return None;
    }
    let id = entry.imp.identity(state)?;
    let dv = id.to_dynamic(ty).ok()?;
    Some(pb::ResourceIdentityData {
        identity_data: Some(dv),
    })
}

/// The identity to plan. A destroy keeps the prior one; otherwise it is the
/// planned object's when that is known, the prior one for an in-place update
/// (identity never changes in place), and none for a create or replacement
/// whose identity is known only after apply: never the replaced object's.
fn planned_identity(
    entry: &ResourceEntry,
    change: &PlannedChange,
    prior: Option<pb::ResourceIdentityData>,
) -> Option<pb::ResourceIdentityData> {
    if change.is_destroy() {
        return prior;
    }
    let known = entry
        .imp
        .identity(&change.planned)
        .filter(Value::is_fully_known);
    if known.is_some() {
        return identity_data(entry, &change.planned);
    }
    if change.requires_replace.is_empty() && !change.prior.is_null() {
        return prior;
    }
    None
}

/// Turns the diagnostics into an "unknown remains after apply" error, which
/// Terraform would otherwise report as a confusing inconsistency.
pub(super) fn check_fully_known(state: &Value, type_name: &str, diags: &mut Diagnostics) {
    if !state.is_fully_known() {
        diags.push(Diagnostic::error(
            "Provider returned an unknown value after apply",
            format!("The {type_name} resource left a value unknown after apply. This is a bug in the provider."),
        ));
    }
}

/// The import id: the CLI argument, or (Terraform 1.12+ import by identity)
/// the first string attribute of the identity required for import.
fn import_id(
    e: &ResourceEntry,
    req: &pb::import_resource_state::Request,
) -> Result<String, Diagnostics> {
    if !req.id.is_empty() {
        return Ok(req.id.clone());
    }
    let no_id = || -> Diagnostics {
        Diagnostic::error(
            "Missing import ID",
            "Give the ID of the object to import: the argument of `terraform import` or the `id` of an `import` block.",
        )
        .into()
    };
    let (Some((schema, ty)), Some(identity)) = (&e.identity, &req.identity) else {
        return Err(no_id());
    };
    let v = decode(ty, identity.identity_data.as_ref(), "identity")?;
    schema
        .attributes
        .iter()
        .filter(|a| a.required_for_import)
        .find_map(|a| v.attr(&a.name).as_str().map(str::to_string))
        .ok_or_else(no_id)
}
