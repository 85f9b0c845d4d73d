//! Terraform plugin protocol 6 for provider authors: cty values and their
//! codecs, schemas, diagnostics with attribute paths, the [`resource::Provider`],
//! [`resource::Resource`] and [`resource::DataSource`] traits, and the tonic
//! service that dispatches RPCs to them. Knows nothing about rootmail.

pub mod diag;
pub mod model;
pub mod plan;
pub mod resource;
pub mod schema;
pub mod server;
pub mod value;

pub use diag::{AttributePath, Diagnostic, Diagnostics};
pub use resource::{
    Ctx, DataSource, Declared, PlannedChange, Provider, Resource, ResourcePlan, StateResult,
};
pub use schema::{Attribute, Block, IdentityAttribute, IdentitySchema, Nesting, Schema};
pub use server::ProviderService;
pub use value::{Type, Value};
