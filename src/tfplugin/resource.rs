//! The traits a provider is written against: [`Provider`], [`Resource`] and
//! [`DataSource`]. They speak in decoded [`Value`]s and [`Diagnostics`]; the
//! RPC service in `server` does the wire work and the default plan logic.
//!
//! What the three have in common (a name, a schema, a configuration check) is
//! [`Declared`]; what a resource adds to planning is [`ResourcePlan`]. The
//! typed traits in `model` share both, so nothing is declared twice.

use super::diag::Diagnostics;
use super::schema::{IdentitySchema, Schema};
use super::value::Value;
use async_trait::async_trait;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What every call gets: a token cancelled when Terraform asks the provider
/// to stop (Ctrl-C → StopProvider), so long waits can end early.
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    cancel: CancellationToken,
}

impl Ctx {
    /// A context cancelled through `cancel`.
    pub fn new(cancel: CancellationToken) -> Self {
        Ctx { cancel }
    }

    /// The cancellation token of this call.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// True once Terraform has asked the provider to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// The outcome of an operation that yields a state: the state Terraform must
/// save (`Value::Null` when nothing exists) and what to tell the user. On an
/// error the state is still saved, so a partial result is never lost.
#[derive(Debug, Clone, PartialEq)]
pub struct StateResult {
    /// The new state; `Value::Null` means "no object" (removed, or not created).
    pub state: Value,
    /// Errors and warnings.
    pub diagnostics: Diagnostics,
    /// New private state (opaque bytes Terraform stores beside the state and
    /// hands back on the next call); `None` keeps the one Terraform sent.
    pub private: Option<Vec<u8>>,
}

impl StateResult {
    /// A successful result.
    pub fn ok(state: Value) -> Self {
        Self::with(state, Diagnostics::new())
    }

    /// A result with diagnostics.
    pub fn with(state: Value, diagnostics: Diagnostics) -> Self {
        StateResult {
            state,
            diagnostics,
            private: None,
        }
    }

    /// A failure that left nothing behind.
    pub fn failed(diagnostics: impl Into<Diagnostics>) -> Self {
        Self::with(Value::Null, diagnostics.into())
    }

    /// The same result with `private` as the new private state.
    pub fn with_private(mut self, private: Vec<u8>) -> Self {
        self.private = Some(private);
        self
    }
}

/// A plan the framework computed, offered to [`Resource::modify_plan`].
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedChange {
    /// The prior state (`Null` on create).
    pub prior: Value,
    /// The configuration as written (may hold unknowns).
    pub config: Value,
    /// The planned new state (`Null` on destroy); may be changed.
    pub planned: Value,
    /// Top-level attributes whose change forces replacement; may be extended.
    pub requires_replace: Vec<String>,
    /// Diagnostics to return with the plan.
    pub diagnostics: Diagnostics,
}

impl PlannedChange {
    /// True when the resource is being created.
    pub fn is_create(&self) -> bool {
        self.prior.is_null() && !self.planned.is_null()
    }

    /// True when the resource is being destroyed.
    pub fn is_destroy(&self) -> bool {
        self.planned.is_null()
    }
}

/// A provider, resource or data source type: its name, its schema and the
/// check of a configuration against it.
#[async_trait]
pub trait Declared: Send + Sync + 'static {
    /// The full type name (`rootmail_alias`), or the provider's local name
    /// (`rootmail`, which resource type names start with).
    fn type_name(&self) -> &'static str;

    /// The schema (of the `provider` block, for the provider).
    fn schema(&self) -> Schema;

    /// Checks a configuration (values may still be unknown).
    async fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
}

/// The provider itself: its configuration and the types it offers.
#[async_trait]
pub trait Provider: Declared {
    /// Configures the provider before resources are used. Values may be
    /// unknown during plan when they depend on resources not created yet.
    async fn configure(&self, ctx: &Ctx, config: &Value, terraform_version: &str) -> Diagnostics;

    /// The managed resource types.
    fn resources(&self) -> Vec<Arc<dyn Resource>>;

    /// The data source types.
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>>;
}

/// What a managed resource type adds to planning, on decoded values (they may
/// hold unknowns): its identity, state upgrades and plan changes.
#[async_trait]
pub trait ResourcePlan: Declared {
    /// Its identity schema (protocol 6.9), if it declares one.
    fn identity_schema(&self) -> Option<IdentitySchema> {
        None
    }

    /// The identity of an object in `state`, matching [`Self::identity_schema`].
    fn identity(&self, _state: &Value) -> Option<Value> {
        None
    }

    /// Turns `state`, stored with schema version `version` (lower than the
    /// current one) and already read with the current schema's attributes
    /// (unknown ones dropped, new ones null), into the current meaning.
    fn upgrade_state(&self, _version: i64, state: Value) -> Value {
        state
    }

    /// Adjusts the plan the framework made from the schema's plan behaviour.
    async fn modify_plan(&self, _ctx: &Ctx, _change: &mut PlannedChange) {}
}

/// A managed resource type.
#[async_trait]
pub trait Resource: ResourcePlan {
    /// Creates the object described by `planned`. `private` is the planned
    /// private state (see [`StateResult::private`]), as in every call below.
    async fn create(
        &self,
        ctx: &Ctx,
        planned: &Value,
        config: &Value,
        private: &[u8],
    ) -> StateResult;

    /// Refreshes `state`; `Value::Null` in the result removes it from state.
    async fn read(&self, ctx: &Ctx, state: &Value, private: &[u8]) -> StateResult;

    /// Changes the object in place from `prior` to `planned`.
    async fn update(
        &self,
        ctx: &Ctx,
        prior: &Value,
        planned: &Value,
        config: &Value,
        private: &[u8],
    ) -> StateResult;

    /// Destroys the object in `prior`. On error the object stays in state.
    /// For a destroy Terraform plans the prior state's private state, so
    /// `private` is what the last read or apply left.
    async fn delete(&self, ctx: &Ctx, prior: &Value, private: &[u8]) -> Diagnostics;

    /// Imports the object named by `id` (the `terraform import` argument).
    async fn import(&self, _ctx: &Ctx, _id: &str) -> StateResult {
        StateResult::failed(super::diag::Diagnostic::error(
            "Import not supported",
            format!("The resource type {} cannot be imported.", self.type_name()),
        ))
    }
}

/// A data source type.
#[async_trait]
pub trait DataSource: Declared {
    /// Reads the data for `config`.
    async fn read(&self, ctx: &Ctx, config: &Value) -> StateResult;
}
