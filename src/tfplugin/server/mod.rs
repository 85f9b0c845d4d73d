//! The tonic service for `tfplugin6.Provider`: decodes each RPC, dispatches
//! it to the [`Provider`], [`Resource`] and [`DataSource`] traits, and
//! encodes the answer. RPCs this framework does not offer (functions,
//! ephemeral resources, moves) answer with a clear diagnostic, never a panic.
//!
//! Every RPC that calls the traits has one shape: a method does the work
//! (decode → call → encode) and yields a [`wire::Outcome`], which
//! [`wire::settle`] turns into the response's payload (or what Terraform
//! already holds, when the work failed) and its diagnostics. The resource
//! RPCs' work lives in [`resource`].

mod resource;
mod wire;

use super::diag::{Diagnostic, Diagnostics};
use super::resource::{Ctx, DataSource, Provider, Resource};
use super::schema::{IdentitySchema, Schema};
use super::value::Type;
use crate::proto::tfplugin6 as pb;
use pb::provider_server::Provider as ProviderRpc;
use resource::{check_fully_known, Planned, Stored};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use wire::{capabilities, decode, encode, not_supported, settle, Outcome};

type RpcResult<T> = Result<Response<T>, Status>;

struct ResourceEntry {
    imp: Arc<dyn Resource>,
    schema: Schema,
    ty: Type,
    identity: Option<(IdentitySchema, Type)>,
}

struct DataSourceEntry {
    imp: Arc<dyn DataSource>,
    schema: Schema,
    ty: Type,
}

/// Serves one [`Provider`] over the protocol. Schemas are computed once, at
/// construction, so any RPC may come first (`get_provider_schema_optional`).
pub struct ProviderService<P: Provider> {
    provider: Arc<P>,
    provider_schema: Schema,
    provider_ty: Type,
    resources: BTreeMap<String, ResourceEntry>,
    data_sources: BTreeMap<String, DataSourceEntry>,
    /// Cancelled by StopProvider; every call's [`Ctx`] holds a clone.
    stop: CancellationToken,
}

impl<P: Provider> ProviderService<P> {
    /// Wraps `provider`.
    pub fn new(provider: P) -> Self {
        let provider_schema = provider.schema();
        let provider_ty = provider_schema.value_type();
        let resources = provider
            .resources()
            .into_iter()
            .map(|imp| {
                let schema = imp.schema();
                let ty = schema.value_type();
                let identity = imp.identity_schema().map(|s| {
                    let t = s.value_type();
                    (s, t)
                });
                (
                    imp.type_name().to_string(),
                    ResourceEntry {
                        imp,
                        schema,
                        ty,
                        identity,
                    },
                )
            })
            .collect();
        let data_sources = provider
            .data_sources()
            .into_iter()
            .map(|imp| {
                let schema = imp.schema();
                let ty = schema.value_type();
                (
                    imp.type_name().to_string(),
                    DataSourceEntry { imp, schema, ty },
                )
            })
            .collect();
        ProviderService {
            provider: Arc::new(provider),
            provider_schema,
            provider_ty,
            resources,
            data_sources,
            stop: CancellationToken::new(),
        }
    }

    /// Wraps this service in the generated tonic server type.
    pub fn into_server(self) -> pb::provider_server::ProviderServer<Self> {
        pb::provider_server::ProviderServer::new(self)
            .max_decoding_message_size(256 * 1024 * 1024)
            .max_encoding_message_size(256 * 1024 * 1024)
    }

    fn ctx(&self) -> Ctx {
        Ctx::new(self.stop.clone())
    }

    fn resource(&self, name: &str) -> Result<&ResourceEntry, Diagnostics> {
        self.resources.get(name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown resource type",
                format!(
                    "The provider {} has no resource type {name:?}.",
                    self.provider.type_name()
                ),
            )
            .into()
        })
    }

    fn data_source(&self, name: &str) -> Result<&DataSourceEntry, Diagnostics> {
        self.data_sources.get(name).ok_or_else(|| {
            Diagnostic::error(
                "Unknown data source type",
                format!(
                    "The provider {} has no data source type {name:?}.",
                    self.provider.type_name()
                ),
            )
            .into()
        })
    }
}

/// The provider and data source RPCs' work (the resources' is in [`resource`]).
impl<P: Provider> ProviderService<P> {
    async fn validate_provider(&self, req: &pb::validate_provider_config::Request) -> Outcome<()> {
        let config = decode(
            &self.provider_ty,
            req.config.as_ref(),
            "provider configuration",
        )?;
        Ok(((), self.provider.validate(&config).await))
    }

    async fn configure(&self, req: &pb::configure_provider::Request) -> Outcome<()> {
        let config = decode(
            &self.provider_ty,
            req.config.as_ref(),
            "provider configuration",
        )?;
        let diags = self
            .provider
            .configure(&self.ctx(), &config, &req.terraform_version)
            .await;
        Ok(((), diags))
    }

    async fn validate_data_source(
        &self,
        req: &pb::validate_data_resource_config::Request,
    ) -> Outcome<()> {
        let e = self.data_source(&req.type_name)?;
        let config = decode(&e.ty, req.config.as_ref(), "data source configuration")?;
        Ok(((), e.imp.validate(&config).await))
    }

    async fn read_data_source_state(
        &self,
        req: &pb::read_data_source::Request,
    ) -> Outcome<Option<pb::DynamicValue>> {
        let e = self.data_source(&req.type_name)?;
        let config = decode(&e.ty, req.config.as_ref(), "data source configuration")?;
        let out = e.imp.read(&self.ctx(), &config).await;
        let mut diags = out.diagnostics;
        if diags.has_errors() {
            return Ok((None, diags));
        }
        check_fully_known(&out.state, &req.type_name, &mut diags);
        let dv = encode(&e.ty, &out.state, "data source state")?;
        Ok((Some(dv), diags))
    }
}

#[tonic::async_trait]
impl<P: Provider> ProviderRpc for ProviderService<P> {
    async fn get_metadata(
        &self,
        _req: Request<pb::get_metadata::Request>,
    ) -> RpcResult<pb::get_metadata::Response> {
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            diagnostics: vec![],
            data_sources: self
                .data_sources
                .keys()
                .map(|k| pb::get_metadata::DataSourceMetadata {
                    type_name: k.clone(),
                })
                .collect(),
            resources: self
                .resources
                .keys()
                .map(|k| pb::get_metadata::ResourceMetadata {
                    type_name: k.clone(),
                })
                .collect(),
            functions: vec![],
            ephemeral_resources: vec![],
        }))
    }

    async fn get_provider_schema(
        &self,
        _req: Request<pb::get_provider_schema::Request>,
    ) -> RpcResult<pb::get_provider_schema::Response> {
        tracing::debug!(
            provider = self.provider.type_name(),
            "serving provider schema"
        );
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(self.provider_schema.to_proto()),
            resource_schemas: self
                .resources
                .iter()
                .map(|(k, e)| (k.clone(), e.schema.to_proto()))
                .collect(),
            data_source_schemas: self
                .data_sources
                .iter()
                .map(|(k, e)| (k.clone(), e.schema.to_proto()))
                .collect(),
            functions: Default::default(),
            ephemeral_resource_schemas: Default::default(),
            diagnostics: vec![],
            provider_meta: None,
            server_capabilities: Some(capabilities()),
        }))
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> RpcResult<pb::validate_provider_config::Response> {
        let ((), diagnostics) = settle(self.validate_provider(req.get_ref()).await, ());
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics,
        }))
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> RpcResult<pb::validate_resource_config::Response> {
        let ((), diagnostics) = settle(self.validate_resource(req.get_ref()).await, ());
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics,
        }))
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> RpcResult<pb::validate_data_resource_config::Response> {
        let ((), diagnostics) = settle(self.validate_data_source(req.get_ref()).await, ());
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics,
        }))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> RpcResult<pb::upgrade_resource_state::Response> {
        let (upgraded_state, diagnostics) = settle(self.upgrade_state(req.get_ref()), None);
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state,
            diagnostics,
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _req: Request<pb::get_resource_identity_schemas::Request>,
    ) -> RpcResult<pb::get_resource_identity_schemas::Response> {
        Ok(Response::new(pb::get_resource_identity_schemas::Response {
            identity_schemas: self
                .resources
                .iter()
                .filter_map(|(k, e)| e.identity.as_ref().map(|(s, _)| (k.clone(), s.to_proto())))
                .collect(),
            diagnostics: vec![],
        }))
    }

    async fn upgrade_resource_identity(
        &self,
        req: Request<pb::upgrade_resource_identity::Request>,
    ) -> RpcResult<pb::upgrade_resource_identity::Response> {
        let (upgraded_identity, diagnostics) = settle(self.upgrade_identity(req.get_ref()), None);
        Ok(Response::new(pb::upgrade_resource_identity::Response {
            upgraded_identity,
            diagnostics,
        }))
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> RpcResult<pb::configure_provider::Response> {
        let ((), diagnostics) = settle(self.configure(req.get_ref()).await, ());
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics,
        }))
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> RpcResult<pb::read_resource::Response> {
        let req = req.into_inner();
        // What Terraform holds stays when the read fails.
        let held = Stored {
            state: req.current_state.clone(),
            private: req.private.clone(),
            identity: req.current_identity.clone(),
        };
        let (out, diagnostics) = settle(self.read(&req).await, held);
        Ok(Response::new(pb::read_resource::Response {
            new_state: out.state,
            diagnostics,
            private: out.private,
            deferred: None,
            new_identity: out.identity,
        }))
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> RpcResult<pb::plan_resource_change::Response> {
        let req = req.into_inner();
        let nothing = Planned {
            state: None,
            requires_replace: vec![],
            private: req.prior_private.clone(),
            identity: req.prior_identity.clone(),
        };
        let (out, diagnostics) = settle(self.plan(&req).await, nothing);
        Ok(Response::new(pb::plan_resource_change::Response {
            planned_state: out.state,
            requires_replace: out.requires_replace,
            planned_private: out.private,
            diagnostics,
            legacy_type_system: false,
            deferred: None,
            planned_identity: out.identity,
        }))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> RpcResult<pb::apply_resource_change::Response> {
        let req = req.into_inner();
        // Until we know better, nothing changed: Terraform keeps the prior state.
        let unchanged = Stored {
            state: req.prior_state.clone(),
            private: req.planned_private.clone(),
            identity: req.planned_identity.clone(),
        };
        let (out, diagnostics) = settle(self.apply(&req).await, unchanged);
        Ok(Response::new(pb::apply_resource_change::Response {
            new_state: out.state,
            private: out.private,
            diagnostics,
            legacy_type_system: false,
            new_identity: out.identity,
        }))
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> RpcResult<pb::import_resource_state::Response> {
        let (imported_resources, diagnostics) = settle(self.import(req.get_ref()).await, vec![]);
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources,
            diagnostics,
            deferred: None,
        }))
    }

    async fn move_resource_state(
        &self,
        _req: Request<pb::move_resource_state::Request>,
    ) -> RpcResult<pb::move_resource_state::Response> {
        Ok(Response::new(pb::move_resource_state::Response {
            target_state: None,
            diagnostics: not_supported(
                self.provider.type_name(),
                "Moving state between resource types",
            ),
            target_private: vec![],
            target_identity: None,
        }))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> RpcResult<pb::read_data_source::Response> {
        let (state, diagnostics) = settle(self.read_data_source_state(req.get_ref()).await, None);
        Ok(Response::new(pb::read_data_source::Response {
            state,
            diagnostics,
            deferred: None,
        }))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        _req: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> RpcResult<pb::validate_ephemeral_resource_config::Response> {
        Ok(Response::new(
            pb::validate_ephemeral_resource_config::Response {
                diagnostics: not_supported(self.provider.type_name(), "Ephemeral resources"),
            },
        ))
    }

    async fn open_ephemeral_resource(
        &self,
        _req: Request<pb::open_ephemeral_resource::Request>,
    ) -> RpcResult<pb::open_ephemeral_resource::Response> {
        Ok(Response::new(pb::open_ephemeral_resource::Response {
            diagnostics: not_supported(self.provider.type_name(), "Ephemeral resources"),
            ..Default::default()
        }))
    }

    async fn renew_ephemeral_resource(
        &self,
        _req: Request<pb::renew_ephemeral_resource::Request>,
    ) -> RpcResult<pb::renew_ephemeral_resource::Response> {
        Ok(Response::new(pb::renew_ephemeral_resource::Response {
            diagnostics: not_supported(self.provider.type_name(), "Ephemeral resources"),
            ..Default::default()
        }))
    }

    async fn close_ephemeral_resource(
        &self,
        _req: Request<pb::close_ephemeral_resource::Request>,
    ) -> RpcResult<pb::close_ephemeral_resource::Response> {
        Ok(Response::new(pb::close_ephemeral_resource::Response {
            diagnostics: not_supported(self.provider.type_name(), "Ephemeral resources"),
        }))
    }

    async fn get_functions(
        &self,
        _req: Request<pb::get_functions::Request>,
    ) -> RpcResult<pb::get_functions::Response> {
        // No functions is a valid, empty answer, not an error.
        Ok(Response::new(pb::get_functions::Response::default()))
    }

    async fn call_function(
        &self,
        req: Request<pb::call_function::Request>,
    ) -> RpcResult<pb::call_function::Response> {
        Ok(Response::new(pb::call_function::Response {
            result: None,
            error: Some(pb::FunctionError {
                text: format!(
                    "The {} provider offers no function named {:?}.",
                    self.provider.type_name(),
                    req.into_inner().name
                ),
                function_argument: None,
            }),
        }))
    }

    async fn stop_provider(
        &self,
        _req: Request<pb::stop_provider::Request>,
    ) -> RpcResult<pb::stop_provider::Response> {
        tracing::info!("Terraform asked the provider to stop; cancelling in-flight work");
        self.stop.cancel();
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}
