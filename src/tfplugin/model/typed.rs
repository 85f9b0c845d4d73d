//! Resources written against a typed model: [`TypedResource`], and [`Typed`], the
//! adapter that turns one into the dynamic [`Resource`] the RPC service calls.
//!
//! The adapter does once what every resource would otherwise repeat: decode the
//! state and plan into the model, encode the result into the schema's type, turn a
//! model mismatch into a diagnostic at its attribute, and keep the prior state
//! whenever an operation fails.
//!
//! Private state (bytes Terraform keeps beside the state, never shown to users) is
//! a second model, `TypedResource::Private`, stored as JSON. Absent or unreadable
//! bytes read as its default, and the default is stored as no bytes at all, so a
//! resource that keeps nothing private leaves Terraform's private state empty.

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{from_value, to_value};
use crate::tfplugin::diag::Diagnostics;
use crate::tfplugin::resource::{Ctx, PlannedChange, Resource, StateResult};
use crate::tfplugin::schema::{IdentitySchema, Schema};
use crate::tfplugin::value::Value;

/// A managed resource whose state is a serde model.
///
/// Every operation may add warnings to `diags`; returning `Err` fails it, and the
/// adapter then keeps what Terraform had (nothing for create and import, the prior
/// state and private state for read and update, the object for delete). An
/// operation may change `private`; on success the adapter stores it. Validation and
/// plan modification stay dynamic, since configurations and plans may hold unknowns.
#[async_trait]
pub trait TypedResource: Send + Sync + 'static {
    /// The resource's attributes, field for field (see `check_model`).
    type Model: Serialize + DeserializeOwned + Send + Sync;

    /// What the resource keeps in Terraform's private state (`()` for nothing).
    type Private: Serialize + DeserializeOwned + Default + PartialEq + Send + Sync;

    /// Full type name, e.g. `rootmail_alias`.
    fn type_name(&self) -> &'static str;

    /// The resource's schema.
    fn schema(&self) -> Schema;

    /// Its identity schema, if it declares one.
    fn identity_schema(&self) -> Option<IdentitySchema> {
        None
    }

    /// The identity of an object in `state`.
    fn identity(&self, _state: &Value) -> Option<Value> {
        None
    }

    /// Checks a configuration (values may be unknown).
    async fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Turns a state stored with an older schema version into the current
    /// meaning (see [`Resource::upgrade_state`]).
    fn upgrade_state(&self, _version: i64, state: Value) -> Value {
        state
    }

    /// Adjusts the plan the framework made from the schema's plan behaviour.
    async fn modify_plan(&self, _ctx: &Ctx, _change: &mut PlannedChange) {}

    /// Creates the object. In `planned`, computed attributes not known yet are null.
    async fn create(
        &self,
        ctx: &Ctx,
        planned: Self::Model,
        private: &mut Self::Private,
        diags: &mut Diagnostics,
    ) -> Result<Self::Model, Diagnostics>;

    /// Refreshes the object; `None` removes it from state.
    async fn read(
        &self,
        ctx: &Ctx,
        state: Self::Model,
        private: &mut Self::Private,
        diags: &mut Diagnostics,
    ) -> Result<Option<Self::Model>, Diagnostics>;

    /// Changes the object in place. In `planned`, computed attributes not known yet
    /// are null.
    async fn update(
        &self,
        ctx: &Ctx,
        prior: Self::Model,
        planned: Self::Model,
        private: &mut Self::Private,
        diags: &mut Diagnostics,
    ) -> Result<Self::Model, Diagnostics>;

    /// Destroys the object; `private` is what the last read or apply stored.
    async fn delete(
        &self,
        ctx: &Ctx,
        prior: Self::Model,
        private: Self::Private,
        diags: &mut Diagnostics,
    ) -> Result<(), Diagnostics>;

    /// Imports the object named by `id`.
    async fn import(
        &self,
        _ctx: &Ctx,
        _id: &str,
        _private: &mut Self::Private,
        _diags: &mut Diagnostics,
    ) -> Result<Self::Model, Diagnostics> {
        Err(crate::tfplugin::Diagnostic::error(
            "Import not supported",
            format!("The resource type {} cannot be imported.", self.type_name()),
        )
        .into())
    }
}

/// Serves a [`TypedResource`] as a dynamic [`Resource`].
pub struct Typed<R>(pub R);

impl<R: TypedResource> Typed<R> {
    fn decode(&self, value: &Value) -> Result<R::Model, Diagnostics> {
        from_value(value).map_err(|e| {
            e.to_diagnostic("Value does not fit the resource's model")
                .into()
        })
    }

    /// Decodes a planned value, reading computed attributes that are still unknown
    /// as null: during apply those are exactly the ones the provider is to set.
    fn decode_planned(&self, planned: &Value) -> Result<R::Model, Diagnostics> {
        let schema = self.0.schema();
        let mut planned = planned.clone();
        for attribute in schema.block.attributes.iter().filter(|a| a.computed) {
            if let Some(v) = planned.attr_mut(&attribute.name) {
                if v.is_unknown() {
                    *v = Value::Null;
                }
            }
        }
        self.decode(&planned)
    }

    fn encode(&self, model: &R::Model) -> Result<Value, Diagnostics> {
        to_value(model, &self.0.schema().value_type()).map_err(|e| {
            e.to_diagnostic("Provider produced a value its schema does not allow")
                .into()
        })
    }
}

/// Reads private state: no bytes, or bytes that are not this model (written by
/// an older version, or by hand), read as the default.
pub(super) fn decode_private<P: DeserializeOwned + Default>(bytes: &[u8]) -> P {
    if bytes.is_empty() {
        return P::default();
    }
    serde_json::from_slice(bytes).unwrap_or_default()
}

/// Writes private state; the default is written as no bytes.
pub(super) fn encode_private<P: Serialize + Default + PartialEq>(private: &P) -> Vec<u8> {
    if *private == P::default() {
        return Vec::new();
    }
    // A derived Serialize of plain data cannot fail; fall back to "nothing kept".
    serde_json::to_vec(private).unwrap_or_default()
}

/// The state to save with the diagnostics of an operation: `ok` (and the private
/// state the operation left) on success, `fallback` (what Terraform had, private
/// state included) on failure.
fn finish<P: Serialize + Default + PartialEq>(
    result: Result<Value, Diagnostics>,
    private: &P,
    fallback: Value,
    mut diags: Diagnostics,
) -> StateResult {
    match result {
        Ok(state) => StateResult::with(state, diags).with_private(encode_private(private)),
        Err(errors) => {
            diags.extend(errors);
            StateResult::with(fallback, diags)
        }
    }
}

#[async_trait]
impl<R: TypedResource> Resource for Typed<R> {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    fn schema(&self) -> Schema {
        self.0.schema()
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        self.0.identity_schema()
    }

    fn identity(&self, state: &Value) -> Option<Value> {
        self.0.identity(state)
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        self.0.validate(config).await
    }

    fn upgrade_state(&self, version: i64, state: Value) -> Value {
        self.0.upgrade_state(version, state)
    }

    async fn modify_plan(&self, ctx: &Ctx, change: &mut PlannedChange) {
        self.0.modify_plan(ctx, change).await
    }

    async fn create(
        &self,
        ctx: &Ctx,
        planned: &Value,
        _config: &Value,
        private: &[u8],
    ) -> StateResult {
        let mut diags = Diagnostics::new();
        let mut private: R::Private = decode_private(private);
        let result = match self.decode_planned(planned) {
            Ok(model) => match self.0.create(ctx, model, &mut private, &mut diags).await {
                Ok(created) => self.encode(&created),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        finish(result, &private, Value::Null, diags)
    }

    async fn read(&self, ctx: &Ctx, state: &Value, private: &[u8]) -> StateResult {
        let mut diags = Diagnostics::new();
        let mut private: R::Private = decode_private(private);
        let result = match self.decode(state) {
            Ok(model) => match self.0.read(ctx, model, &mut private, &mut diags).await {
                Ok(Some(fresh)) => self.encode(&fresh),
                Ok(None) => Ok(Value::Null),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        finish(result, &private, state.clone(), diags)
    }

    async fn update(
        &self,
        ctx: &Ctx,
        prior: &Value,
        planned: &Value,
        _config: &Value,
        private: &[u8],
    ) -> StateResult {
        let mut diags = Diagnostics::new();
        let mut private: R::Private = decode_private(private);
        let models = self
            .decode(prior)
            .and_then(|p| Ok((p, self.decode_planned(planned)?)));
        let result = match models {
            Ok((p, n)) => match self.0.update(ctx, p, n, &mut private, &mut diags).await {
                Ok(updated) => self.encode(&updated),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        finish(result, &private, prior.clone(), diags)
    }

    async fn delete(&self, ctx: &Ctx, prior: &Value, private: &[u8]) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let result = match self.decode(prior) {
            Ok(model) => {
                self.0
                    .delete(ctx, model, decode_private(private), &mut diags)
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(errors) = result {
            diags.extend(errors);
        }
        diags
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> StateResult {
        let mut diags = Diagnostics::new();
        let mut private = R::Private::default();
        let result = match self.0.import(ctx, id, &mut private, &mut diags).await {
            Ok(imported) => self.encode(&imported),
            Err(e) => Err(e),
        };
        finish(result, &private, Value::Null, diags)
    }
}
