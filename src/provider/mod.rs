//! The rootmail provider: its configuration, one file per resource and data
//! source (schema, docs text and CRUD together), and the docs generator.
//! The pool's work is delegated to `crate::store`.

/// Implements [`Declared`](crate::tfplugin::Declared) for a resource or data source type from its
/// module's `checked_schema()` (attributes and their checks) and, when given,
/// a further configuration check (for rules across attributes).
macro_rules! declare {
    ($ty:ty, $name:expr, $checked:path $(, $extra:path)?) => {
        #[async_trait::async_trait]
        impl $crate::tfplugin::Declared for $ty {
            fn type_name(&self) -> &'static str {
                $name
            }

            fn schema(&self) -> $crate::tfplugin::Schema {
                $checked().schema()
            }

            async fn validate(
                &self,
                config: &$crate::tfplugin::Value,
            ) -> $crate::tfplugin::Diagnostics {
                #[allow(unused_mut)]
                let mut d = $crate::tfplugin::Diagnostics::new();
                $(d.extend($extra(config));)?
                d.extend($checked().validate(config));
                d
            }
        }
    };
}
pub mod alias;
pub mod alias_account;
pub mod alias_import;
pub mod alias_key;
mod alias_plan;
mod alias_source;
pub mod config;
pub mod data_alias;
pub mod data_aliases;
pub mod data_audit;
pub mod data_pool;
pub mod docs;
pub mod validate;

use crate::azure::{AzureError, OutageCause};
use crate::store::{
    AliasPool, AliasRow, ClaimBatcher, ClaimRequest, ClaimedAlias, ReadCoalescer, ReleaseBatcher,
    StoreConfig, StoreError,
};
use crate::tfplugin::model::{Outcome, Typed};
use crate::tfplugin::{
    Ctx, DataSource, Declared, Diagnostic, Diagnostics, Provider, Resource, Schema, Value,
};
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::RwLock;

/// The provider's local name.
pub const NAME: &str = "rootmail";

/// What `configure` left behind for the resources.
#[derive(Clone, Default)]
enum Connection {
    /// ConfigureProvider has not been called.
    #[default]
    Unconfigured,
    /// The provider block still holds unknown values (plan before apply).
    Unknown,
    /// Connected to the pool table; concurrent creates share the claim
    /// batcher (none when `claim_batching` turns it off), concurrent
    /// destroys the release batcher (none when `release_batching`
    /// turns it off), concurrent refreshes the read coalescer (none when
    /// `read_batching` turns it off).
    Ready(
        Arc<AliasPool>,
        Option<Arc<ClaimBatcher>>,
        Option<Arc<ReleaseBatcher>>,
        Option<Arc<ReadCoalescer>>,
    ),
}

/// Shared between the provider and its resources.
#[derive(Clone, Default)]
pub struct Shared {
    conn: Arc<RwLock<Connection>>,
    /// The provider block's settings as configured: the audit data source
    /// builds its AWS and Graph readers from them when it is read.
    settings: Arc<RwLock<Option<crate::settings::Settings>>>,
}

impl Shared {
    /// The provider's settings, once it is connected.
    pub async fn settings(&self) -> Result<crate::settings::Settings, Diagnostic> {
        self.pool().await?;
        Ok(self.settings.read().await.clone().unwrap_or_default())
    }

    /// The connected pool, or a diagnostic saying why there is none.
    pub async fn pool(&self) -> Result<Arc<AliasPool>, Diagnostic> {
        match &*self.conn.read().await {
            Connection::Ready(p, ..) => Ok(p.clone()),
            Connection::Unknown => Err(Diagnostic::error(
                "Provider configuration not known yet",
                "The provider \"rootmail\" block depends on values known only after apply, so the pool cannot be reached now. Make the provider settings known at plan time (variables or environment variables), or apply the resources it depends on first.",
            )),
            Connection::Unconfigured => Err(Diagnostic::error(
                "Provider not configured",
                "Terraform did not configure the rootmail provider before using it. This is a bug in Terraform or the provider.",
            )),
        }
    }

    /// Claims an alias: through the batcher, so creates that run at the same
    /// time share candidate queries and transactions, or on its own when
    /// batching is off. The outer error says there is no connection.
    pub async fn claim(
        &self,
        request: &ClaimRequest,
    ) -> Result<Result<ClaimedAlias, StoreError>, Diagnostic> {
        let batcher = match &*self.conn.read().await {
            Connection::Ready(_, b, _, _) => b.clone(),
            _ => None,
        };
        Ok(match batcher {
            Some(b) => b.claim(request).await,
            // Runs to its end even if Terraform drops the request, so a claim
            // that lands is never left without an owner.
            None => self.pool().await?.claim_to_completion(request).await,
        })
    }

    /// The release batcher, unless `release_batching` turned it
    /// off (or there is no connection yet).
    pub async fn release_batcher(&self) -> Option<Arc<ReleaseBatcher>> {
        match &*self.conn.read().await {
            Connection::Ready(_, _, b, _) => b.clone(),
            _ => None,
        }
    }

    /// Reads one alias row for a refresh: through the read coalescer, so
    /// refreshes that run at the same time share requests, or as a point
    /// read when coalescing is off. The outer error says there is no connection.
    pub async fn read_alias(
        &self,
        alias_id: &str,
    ) -> Result<Result<Option<AliasRow>, StoreError>, Diagnostic> {
        let reader = match &*self.conn.read().await {
            Connection::Ready(_, _, _, r) => r.clone(),
            _ => None,
        };
        Ok(match reader {
            Some(r) => r.get(alias_id).await,
            None => self.pool().await?.get(alias_id).await,
        })
    }

    /// True while the configuration is unknown (resources then keep state as is).
    pub async fn is_unknown(&self) -> bool {
        matches!(&*self.conn.read().await, Connection::Unknown)
    }
}

/// A store error as a diagnostic for the user. Store errors never carry
/// secrets. When the table cannot be used at all, the summary says that
/// rather than what the resource was doing.
pub fn store_diag(summary: &str, e: &StoreError) -> Diagnostic {
    let summary = match e {
        StoreError::Azure(AzureError::Down(_)) | StoreError::PartitionEmpty { .. } => {
            store_summary(e)
        }
        _ => summary,
    };
    Diagnostic::error(summary.to_string(), e.to_string())
}

/// What a store error means for the whole run, as a diagnostic's summary.
pub fn store_summary(e: &StoreError) -> &'static str {
    match e {
        StoreError::Azure(AzureError::Down(outage)) => match outage.cause {
            OutageCause::NameNotResolved => "Table service host name does not resolve",
            OutageCause::Certificate => "Table service certificate not trusted",
            OutageCause::CredentialRefused => "Credential refused",
            OutageCause::Unanswered => "Table service unavailable",
        },
        StoreError::Azure(AzureError::Forbidden { .. }) => "Access to the pool table denied",
        StoreError::Azure(AzureError::TableNotFound { .. }) => "Pool table not found",
        StoreError::Azure(AzureError::Unavailable { .. }) => "Table service unavailable",
        StoreError::PartitionEmpty { .. } => "Pool partition has no rows",
        _ => "Cannot read the alias pool",
    }
}

/// Fails a typed operation with one error.
fn fail<T>(summary: &str, detail: impl Into<String>) -> Outcome<T> {
    Err(Diagnostic::error(summary, detail).into())
}

/// Fails a typed operation with a store error (see [`store_diag`]).
fn store_fail<T>(summary: &str, e: &StoreError) -> Outcome<T> {
    Err(store_diag(summary, e).into())
}

/// The rootmail provider.
#[derive(Default)]
pub struct RootmailProvider {
    shared: Shared,
}

impl RootmailProvider {
    /// A provider not yet configured.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Declared for RootmailProvider {
    fn type_name(&self) -> &'static str {
        NAME
    }

    fn schema(&self) -> Schema {
        config::schema()
    }

    async fn validate(&self, config: &Value) -> Diagnostics {
        config::validate(config)
    }
}

#[async_trait]
impl Provider for RootmailProvider {
    async fn configure(&self, ctx: &Ctx, cfg: &Value, terraform_version: &str) -> Diagnostics {
        let mut diags = config::validate(cfg);
        if diags.has_errors() {
            return diags;
        }
        if config::has_unknowns(cfg) {
            tracing::info!("provider configuration has unknown values; deferring connection");
            *self.shared.conn.write().await = Connection::Unknown;
            return diags;
        }
        let resolved =
            match StoreConfig::resolve(&config::settings(cfg), &|k| std::env::var(k).ok()) {
                Ok(r) => r,
                Err(e) => {
                    diags.push(config::config_error(&e));
                    return diags;
                }
            };
        tracing::info!(
            terraform_version,
            endpoint = %resolved.connection.endpoint,
            table = %resolved.connection.table,
            credential = ?resolved.connection.credential.kind(),
            "connecting to the alias pool"
        );
        match AliasPool::connect_with_cancellation(&resolved, ctx.cancellation().clone()) {
            Ok(pool) => {
                // One request now, so that an endpoint that is down (or a
                // name that does not resolve, a refused credential, a missing
                // table, a partition key without rows) fails the run here,
                // once, instead of in every resource after its own wait.
                if let Some(d) = config::probe(&pool, cfg).await {
                    diags.push(d);
                    return diags;
                }
                let batching = resolved.batching;
                let batcher = batching
                    .claims
                    .then(|| Arc::new(ClaimBatcher::new(pool.clone())));
                // A new coalescer per configuration: Terraform configures the
                // provider at the start of every run, so no snapshot of an
                // earlier run (a reattached provider) ever answers this one.
                let reader = batching
                    .reads
                    .then(|| Arc::new(ReadCoalescer::new(pool.clone())));
                let releases = batching.releases.then(|| {
                    Arc::new(ReleaseBatcher::with_settings(
                        pool.clone(),
                        ReleaseBatcher::PROVIDER_SETTINGS,
                    ))
                });
                *self.shared.conn.write().await =
                    Connection::Ready(Arc::new(pool), batcher, releases, reader);
                *self.shared.settings.write().await = Some(config::settings(cfg));
            }
            Err(e) => diags.push(config::config_error(&e)),
        }
        diags
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![
            Arc::new(Typed(alias::AliasResource(self.shared.clone()))),
            Arc::new(Typed(alias_account::AliasAccountResource(
                self.shared.clone(),
            ))),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        let shared = || self.shared.clone();
        vec![
            Arc::new(Typed(data_alias::AliasDataSource(shared()))),
            Arc::new(Typed(data_aliases::AliasesDataSource(shared()))),
            Arc::new(Typed(data_pool::PoolDataSource(shared()))),
            Arc::new(Typed(data_audit::AuditDataSource(shared()))),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_http_endpoint_is_refused_at_the_endpoint_attribute() {
        let settings = crate::settings::Settings {
            endpoint: Some("http://tables.example.com/acct".into()),
            sas_token: Some("sv=1&sig=s3cr3t-sig".into()),
            ..Default::default()
        };
        let err = StoreConfig::resolve(&settings, &|_| None).expect_err("plain http refused");
        let d = config::config_error(&err);
        assert_eq!(
            d.path,
            Some(crate::tfplugin::AttributePath::attr("endpoint"))
        );
        assert!(d.detail.contains("https://"), "{}", d.detail);
        assert!(!d.detail.contains("s3cr3t"), "{}", d.detail);
    }
}
