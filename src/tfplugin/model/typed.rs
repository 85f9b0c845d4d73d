//! Resources and data sources written against a typed model: [`TypedResource`],
//! [`TypedDataSource`], and [`Typed`], the adapter that serves either as the
//! dynamic [`Resource`] or [`DataSource`] the RPC service calls.
//!
//! The adapter does once what every resource would otherwise repeat: decode the
//! state and plan into the model, encode the result into the schema's type, turn a
//! model mismatch into a diagnostic at its attribute, and keep the prior state
//! whenever an operation fails. Name, schema, validation and plan changes are the
//! same traits the dynamic ones use ([`Declared`], [`ResourcePlan`]).
//!
//! Private state (bytes Terraform keeps beside the state, never shown to users) is
//! a second model, `TypedResource::Private`, stored as JSON. Absent or unreadable
//! bytes read as its default, and the default is stored as no bytes at all, so a
//! resource that keeps nothing private leaves Terraform's private state empty.

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{from_value, to_value};
use crate::tfplugin::diag::{Diagnostic, Diagnostics};
use crate::tfplugin::resource::{
    Ctx, DataSource, Declared, PlannedChange, Resource, ResourcePlan, StateResult,
};
use crate::tfplugin::schema::{IdentitySchema, Schema};
use crate::tfplugin::value::Value;

/// What an operation returns: its result, or the errors that failed it.
pub type Outcome<T> = Result<T, Diagnostics>;

/// What every typed operation gets besides its model: the call's context, the
/// private state (read it, and change it to store something else) and the
/// diagnostics to add warnings to.
pub struct Call<P> {
    pub ctx: Ctx,
    pub private: P,
    pub diags: Diagnostics,
}

impl<P> Call<P> {
    fn new(ctx: &Ctx, private: P) -> Self {
        Call {
            ctx: ctx.clone(),
            private,
            diags: Diagnostics::new(),
        }
    }
}

/// A managed resource whose state is a serde model.
///
/// Returning `Err` fails an operation, and the adapter then keeps what Terraform
/// had (nothing for create and import, the prior state and private state for read
/// and update, the object for delete). On success it stores `call.private`.
/// Validation and plan changes stay dynamic ([`ResourcePlan`]), since
/// configurations and plans may hold unknowns.
#[async_trait]
pub trait TypedResource: ResourcePlan {
    /// The resource's attributes, field for field (see `check_model`).
    type Model: Serialize + DeserializeOwned + Send + Sync;

    /// What the resource keeps in Terraform's private state (`()` for nothing).
    type Private: Serialize + DeserializeOwned + Default + PartialEq + Send + Sync;

    /// Creates the object. In `planned`, computed attributes not known yet are null.
    async fn create(
        &self,
        call: &mut Call<Self::Private>,
        planned: Self::Model,
    ) -> Outcome<Self::Model>;

    /// Refreshes the object; `None` removes it from state.
    async fn read(
        &self,
        call: &mut Call<Self::Private>,
        state: Self::Model,
    ) -> Outcome<Option<Self::Model>>;

    /// Changes the object in place. In `planned`, computed attributes not known yet
    /// are null.
    async fn update(
        &self,
        call: &mut Call<Self::Private>,
        prior: Self::Model,
        planned: Self::Model,
    ) -> Outcome<Self::Model>;

    /// Destroys the object; `call.private` is what the last read or apply stored.
    async fn delete(&self, call: &mut Call<Self::Private>, prior: Self::Model) -> Outcome<()>;

    /// Imports the object named by `id`.
    async fn import(&self, _call: &mut Call<Self::Private>, _id: &str) -> Outcome<Self::Model> {
        Err(Diagnostic::error(
            "Import not supported",
            format!("The resource type {} cannot be imported.", self.type_name()),
        )
        .into())
    }
}

/// A data source whose configuration and result are one serde model. The
/// configuration it reads leaves out the computed-only attributes, so the model
/// gives those `#[serde(default)]` and plain types.
#[async_trait]
pub trait TypedDataSource: Declared {
    /// The data source's attributes, field for field (see `check_model`).
    type Model: Serialize + DeserializeOwned + Send + Sync;

    /// Reads the data for `config` (its computed attributes null) and returns it
    /// with the computed attributes filled in.
    async fn read(&self, call: &mut Call<()>, config: Self::Model) -> Outcome<Self::Model>;
}

/// Serves a [`TypedResource`] as a dynamic [`Resource`], or a [`TypedDataSource`]
/// as a dynamic [`DataSource`].
pub struct Typed<T>(pub T);

impl<T: Declared> Typed<T> {
    fn decode<M: DeserializeOwned>(&self, value: &Value) -> Outcome<M> {
        from_value(value).map_err(|e| e.to_diagnostic("Value does not fit the model").into())
    }

    /// Decodes a planned value or a configuration, reading computed attributes
    /// that are still unknown as null: those are exactly the ones the provider is
    /// to set.
    fn decode_planned<M: DeserializeOwned>(&self, planned: &Value) -> Outcome<M> {
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

    /// Decodes a data source's configuration without its computed-only
    /// attributes (always null there): the model declares them as outputs with
    /// `#[serde(default)]`, and the read fills them in.
    fn decode_config<M: DeserializeOwned>(&self, config: &Value) -> Outcome<M> {
        let mut config = config.clone();
        if let Value::Object(attrs) = &mut config {
            let schema = self.0.schema();
            let outputs = schema.block.attributes.iter().filter(|a| !a.optional);
            for output in outputs.filter(|a| a.computed) {
                attrs.remove(&output.name);
            }
        }
        self.decode(&config)
    }

    fn encode<M: Serialize>(&self, model: &M) -> Outcome<Value> {
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

/// The state to save with the diagnostics of an operation: `result` (and the
/// private state the operation left) on success, `fallback` (what Terraform had,
/// private state included) on failure.
fn finish<P: Serialize + Default + PartialEq>(
    result: Outcome<Value>,
    call: Call<P>,
    fallback: Value,
) -> StateResult {
    let mut diags = call.diags;
    match result {
        Ok(state) => StateResult::with(state, diags).with_private(encode_private(&call.private)),
        Err(errors) => {
            diags.extend(errors);
            StateResult::with(fallback, diags)
        }
    }
}

#[async_trait]
impl<T: Declared> Declared for Typed<T> {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    fn schema(&self) -> Schema {
        self.0.schema()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        self.0.validate(config).await
    }
}

#[async_trait]
impl<R: ResourcePlan> ResourcePlan for Typed<R> {
    fn identity_schema(&self) -> Option<IdentitySchema> {
        self.0.identity_schema()
    }

    fn identity(&self, state: &Value) -> Option<Value> {
        self.0.identity(state)
    }

    fn upgrade_state(&self, version: i64, state: Value) -> Value {
        self.0.upgrade_state(version, state)
    }

    async fn modify_plan(&self, ctx: &Ctx, change: &mut PlannedChange) {
        self.0.modify_plan(ctx, change).await
    }
}

#[async_trait]
impl<R: TypedResource> Resource for Typed<R> {
    async fn create(&self, ctx: &Ctx, planned: &Value, _: &Value, private: &[u8]) -> StateResult {
        let mut call = Call::new(ctx, decode_private(private));
        let result = async {
            let created = self.0.create(&mut call, self.decode_planned(planned)?);
            self.encode(&created.await?)
        };
        finish(result.await, call, Value::Null)
    }

    async fn read(&self, ctx: &Ctx, state: &Value, private: &[u8]) -> StateResult {
        let mut call = Call::new(ctx, decode_private(private));
        let result = async {
            match self.0.read(&mut call, self.decode(state)?).await? {
                Some(fresh) => self.encode(&fresh),
                None => Ok(Value::Null),
            }
        };
        finish(result.await, call, state.clone())
    }

    async fn update(
        &self,
        ctx: &Ctx,
        prior: &Value,
        planned: &Value,
        _config: &Value,
        private: &[u8],
    ) -> StateResult {
        let mut call = Call::new(ctx, decode_private(private));
        let result = async {
            let (old, new) = (self.decode(prior)?, self.decode_planned(planned)?);
            self.encode(&self.0.update(&mut call, old, new).await?)
        };
        finish(result.await, call, prior.clone())
    }

    async fn delete(&self, ctx: &Ctx, prior: &Value, private: &[u8]) -> Diagnostics {
        let mut call = Call::new(ctx, decode_private(private));
        let result = async { self.0.delete(&mut call, self.decode(prior)?).await };
        let result = result.await;
        let mut diags = call.diags;
        if let Err(errors) = result {
            diags.extend(errors);
        }
        diags
    }

    async fn import(&self, ctx: &Ctx, id: &str) -> StateResult {
        let mut call = Call::new(ctx, R::Private::default());
        let imported = self.0.import(&mut call, id).await;
        finish(imported.and_then(|m| self.encode(&m)), call, Value::Null)
    }
}

#[async_trait]
impl<D: TypedDataSource> DataSource for Typed<D> {
    async fn read(&self, ctx: &Ctx, config: &Value) -> StateResult {
        let mut call = Call::new(ctx, ());
        let result =
            async { self.encode(&self.0.read(&mut call, self.decode_config(config)?).await?) };
        // A failed read leaves no data behind.
        finish(result.await, call, Value::Null)
    }
}
