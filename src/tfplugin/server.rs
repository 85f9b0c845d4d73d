//! The tonic service for `tfplugin6.Provider`: decodes each RPC, dispatches
//! it to the [`Provider`], [`Resource`] and [`DataSource`] traits, and
//! encodes the answer. RPCs this framework does not offer (functions,
//! ephemeral resources, moves) answer with a clear diagnostic, never a panic.

use super::diag::{AttributePath, Diagnostic, Diagnostics};
use super::plan;
use super::resource::{Ctx, DataSource, PlannedChange, Provider, Resource};
use super::schema::{IdentitySchema, Schema};
use super::value::{Type, Value};
use crate::proto::tfplugin6 as pb;
use pb::provider_server::Provider as ProviderRpc;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

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

/// Decodes a DynamicValue; `None` on the wire means null.
fn decode(ty: &Type, dv: Option<&pb::DynamicValue>, what: &str) -> Result<Value, Diagnostics> {
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

fn encode(ty: &Type, v: &Value, what: &str) -> Result<pb::DynamicValue, Diagnostics> {
    v.to_dynamic(ty).map_err(|e| {
        Diagnostic::error(
            format!("Provider produced an invalid {what}"),
            format!("The {what} could not be encoded: {e}. This is a bug in the provider."),
        )
        .into()
    })
}

/// Decodes stored state JSON leniently: attributes the schema no longer has
/// are dropped and new ones start null, so old states keep loading.
fn decode_state_json(schema: &Schema, json: &[u8]) -> Result<Value, Diagnostics> {
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

fn not_supported(provider: &str, what: &str) -> Vec<pb::Diagnostic> {
    Diagnostics::from(Diagnostic::error(
        format!("{what} not supported"),
        format!("The {provider} provider does not offer {what}."),
    ))
    .to_proto()
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
fn check_fully_known(state: &Value, type_name: &str, diags: &mut Diagnostics) {
    if !state.is_fully_known() {
        diags.push(Diagnostic::error(
            "Provider returned an unknown value after apply",
            format!("The {type_name} resource left a value unknown after apply. This is a bug in the provider."),
        ));
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
        let req = req.into_inner();
        let diags = match decode(
            &self.provider_ty,
            req.config.as_ref(),
            "provider configuration",
        ) {
            Ok(config) => self.provider.validate(&config).await,
            Err(d) => d,
        };
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: diags.to_proto(),
        }))
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> RpcResult<pb::validate_resource_config::Response> {
        let req = req.into_inner();
        let diags = match self.resource(&req.type_name) {
            Err(d) => d,
            Ok(e) => match decode(&e.ty, req.config.as_ref(), "resource configuration") {
                Ok(config) => e.imp.validate(&config).await,
                Err(d) => d,
            },
        };
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics: diags.to_proto(),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> RpcResult<pb::validate_data_resource_config::Response> {
        let req = req.into_inner();
        let diags = match self.data_source(&req.type_name) {
            Err(d) => d,
            Ok(e) => match decode(&e.ty, req.config.as_ref(), "data source configuration") {
                Ok(config) => e.imp.validate(&config).await,
                Err(d) => d,
            },
        };
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics: diags.to_proto(),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> RpcResult<pb::upgrade_resource_state::Response> {
        let req = req.into_inner();
        let result = (|| {
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
            let raw = req
                .raw_state
                .as_ref()
                .map(|r| r.json.as_slice())
                .unwrap_or(b"null");
            let mut value = decode_state_json(&e.schema, raw)?;
            if req.version < e.schema.version && !value.is_null() {
                value = e.imp.upgrade_state(req.version, value);
            }
            encode(&e.ty, &value, "upgraded state")
        })();
        let (upgraded_state, diagnostics) = match result {
            Ok(v) => (Some(v), vec![]),
            Err(d) => (None, d.to_proto()),
        };
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
        let req = req.into_inner();
        let result = (|| {
            let e = self.resource(&req.type_name)?;
            let Some((_, ty)) = &e.identity else {
                return Err(Diagnostic::error(
                    "Resource has no identity",
                    format!("The resource type {} declares no identity.", req.type_name),
                )
                .into());
            };
            let raw = req
                .raw_identity
                .as_ref()
                .map(|r| r.json.as_slice())
                .unwrap_or(b"null");
            let v = Value::from_json(ty, raw).map_err(|err| {
                Diagnostics::from(Diagnostic::error(
                    "Invalid stored identity",
                    format!("The stored identity could not be read: {err}."),
                ))
            })?;
            encode(ty, &v, "identity")
        })();
        let (upgraded_identity, diagnostics) = match result {
            Ok(dv) => (
                Some(pb::ResourceIdentityData {
                    identity_data: Some(dv),
                }),
                vec![],
            ),
            Err(d) => (None, d.to_proto()),
        };
        Ok(Response::new(pb::upgrade_resource_identity::Response {
            upgraded_identity,
            diagnostics,
        }))
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> RpcResult<pb::configure_provider::Response> {
        let req = req.into_inner();
        let diags = match decode(
            &self.provider_ty,
            req.config.as_ref(),
            "provider configuration",
        ) {
            Ok(config) => {
                self.provider
                    .configure(&self.ctx(), &config, &req.terraform_version)
                    .await
            }
            Err(d) => d,
        };
        Ok(Response::new(pb::configure_provider::Response {
            diagnostics: diags.to_proto(),
        }))
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> RpcResult<pb::read_resource::Response> {
        let req = req.into_inner();
        let mut resp = pb::read_resource::Response {
            new_state: req.current_state.clone(),
            diagnostics: vec![],
            private: req.private.clone(),
            deferred: None,
            new_identity: req.current_identity.clone(),
        };
        let e = match self.resource(&req.type_name) {
            Ok(e) => e,
            Err(d) => {
                resp.diagnostics = d.to_proto();
                return Ok(Response::new(resp));
            }
        };
        let current = match decode(&e.ty, req.current_state.as_ref(), "state") {
            Ok(v) => v,
            Err(d) => {
                resp.diagnostics = d.to_proto();
                return Ok(Response::new(resp));
            }
        };
        let out = e.imp.read(&self.ctx(), &current, &req.private).await;
        let mut diags = out.diagnostics;
        if let Some(private) = out.private {
            resp.private = private;
        }
        match encode(&e.ty, &out.state, "state") {
            Ok(dv) => {
                resp.new_state = Some(dv);
                resp.new_identity = identity_data(e, &out.state).or(resp.new_identity);
            }
            Err(d) => diags.extend(d),
        }
        resp.diagnostics = diags.to_proto();
        Ok(Response::new(resp))
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> RpcResult<pb::plan_resource_change::Response> {
        let req = req.into_inner();
        let mut resp = pb::plan_resource_change::Response {
            planned_state: None,
            requires_replace: vec![],
            planned_private: req.prior_private.clone(),
            diagnostics: vec![],
            legacy_type_system: false,
            deferred: None,
            planned_identity: req.prior_identity.clone(),
        };
        let result = async {
            let e = self.resource(&req.type_name)?;
            let prior = decode(&e.ty, req.prior_state.as_ref(), "prior state")?;
            let proposed = decode(&e.ty, req.proposed_new_state.as_ref(), "proposed new state")?;
            let config = decode(&e.ty, req.config.as_ref(), "configuration")?;
            let mut change = plan::plan(&e.schema, &prior, &proposed, &config);
            e.imp.modify_plan(&self.ctx(), &mut change).await;
            let planned = encode(&e.ty, &change.planned, "planned state")?;
            Ok::<_, Diagnostics>((planned, change, e))
        }
        .await;
        match result {
            Ok((planned, change, e)) => {
                resp.planned_state = Some(planned);
                resp.requires_replace = change
                    .requires_replace
                    .iter()
                    .map(|a| AttributePath::attr(a.clone()).to_proto())
                    .collect();
                resp.planned_identity = planned_identity(e, &change, req.prior_identity.clone());
                resp.diagnostics = change.diagnostics.to_proto();
            }
            Err(d) => resp.diagnostics = d.to_proto(),
        }
        Ok(Response::new(resp))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> RpcResult<pb::apply_resource_change::Response> {
        let req = req.into_inner();
        let mut resp = pb::apply_resource_change::Response {
            // Until we know better, nothing changed: Terraform keeps the prior state.
            new_state: req.prior_state.clone(),
            private: req.planned_private.clone(),
            diagnostics: vec![],
            legacy_type_system: false,
            new_identity: req.planned_identity.clone(),
        };
        let e = match self.resource(&req.type_name) {
            Ok(e) => e,
            Err(d) => {
                resp.diagnostics = d.to_proto();
                return Ok(Response::new(resp));
            }
        };
        let decoded = (|| {
            Ok::<_, Diagnostics>((
                decode(&e.ty, req.prior_state.as_ref(), "prior state")?,
                decode(&e.ty, req.planned_state.as_ref(), "planned state")?,
                decode(&e.ty, req.config.as_ref(), "configuration")?,
            ))
        })();
        let (prior, planned, config) = match decoded {
            Ok(t) => t,
            Err(d) => {
                resp.diagnostics = d.to_proto();
                return Ok(Response::new(resp));
            }
        };
        let ctx = self.ctx();
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
            let out = e
                .imp
                .create(&ctx, &planned, &config, &req.planned_private)
                .await;
            resp.private = out.private.unwrap_or(resp.private);
            (out.state, out.diagnostics)
        } else {
            tracing::debug!(resource = %req.type_name, "updating");
            let out = e
                .imp
                .update(&ctx, &prior, &planned, &config, &req.planned_private)
                .await;
            resp.private = out.private.unwrap_or(resp.private);
            (out.state, out.diagnostics)
        };
        check_fully_known(&state, &req.type_name, &mut diags);
        let state = if state.is_fully_known() {
            state
        } else {
            Value::Null
        };
        match encode(&e.ty, &state, "new state") {
            Ok(dv) => {
                resp.new_state = Some(dv);
                resp.new_identity = identity_data(e, &state);
            }
            Err(d) => diags.extend(d),
        }
        resp.diagnostics = diags.to_proto();
        Ok(Response::new(resp))
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> RpcResult<pb::import_resource_state::Response> {
        let req = req.into_inner();
        let mut resp = pb::import_resource_state::Response {
            imported_resources: vec![],
            diagnostics: vec![],
            deferred: None,
        };
        let result = async {
            let e = self.resource(&req.type_name)?;
            let id = import_id(e, &req)?;
            let out = e.imp.import(&self.ctx(), &id).await;
            let mut diags = out.diagnostics;
            if !diags.has_errors() && !out.state.is_null() {
                let state = encode(&e.ty, &out.state, "imported state")?;
                resp.imported_resources
                    .push(pb::import_resource_state::ImportedResource {
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
            Ok::<_, Diagnostics>(diags)
        }
        .await;
        resp.diagnostics = match result {
            Ok(d) | Err(d) => d.to_proto(),
        };
        Ok(Response::new(resp))
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
        let req = req.into_inner();
        let result = async {
            let e = self.data_source(&req.type_name)?;
            let config = decode(&e.ty, req.config.as_ref(), "data source configuration")?;
            let out = e.imp.read(&self.ctx(), &config).await;
            let mut diags = out.diagnostics;
            if diags.has_errors() {
                return Ok::<_, Diagnostics>((None, diags));
            }
            check_fully_known(&out.state, &req.type_name, &mut diags);
            let dv = encode(&e.ty, &out.state, "data source state")?;
            Ok((Some(dv), diags))
        }
        .await;
        let (state, diags) = match result {
            Ok(x) => x,
            Err(d) => (None, d),
        };
        Ok(Response::new(pb::read_data_source::Response {
            state,
            diagnostics: diags.to_proto(),
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

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        // Destroys are planned through PlanResourceChange (plan::plan returns null).
        plan_destroy: true,
        // Every RPC works without a prior GetProviderSchema: schemas are built at start.
        get_provider_schema_optional: true,
        move_resource_state: false,
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
            "Give the resource's ID (its e-mail address) to import it.",
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
