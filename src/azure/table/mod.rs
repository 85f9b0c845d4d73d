//! The table client: builds the legacy `azure_data_tables`
//! client (own retry loop instead of the SDK's, a counting transport, our user
//! agent), and offers the few raw operations the pool needs, each with a
//! bounded, jittered, cancellable retry on throttling, 5xx and network errors.
//!
//! No azure type leaves this module's crate-private API.

mod credentials;
mod outage;
mod retry;
mod transaction;

pub use outage::Waiting;

pub(crate) use transaction::BatchWrite;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use azure_core_legacy::error::ErrorKind as LegacyErrorKind;
use azure_core_legacy::{
    ClientOptions, Continuable, Etag, HttpClient, Request, Response, RetryOptions,
    TelemetryOptions, TransportOptions,
};
use azure_data_tables::prelude::{IfMatchCondition, PartitionKeyClient, TableClient};
use azure_data_tables::{Filter, Select, Top};
use azure_storage::CloudLocation;
use futures::StreamExt;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use super::config::{check_transport, Origins, TableConfig};
use super::credential::CredentialKind;
use super::error::AzureError;
use super::keys::{check_key, check_table_name};
use super::network::HttpClients;
use super::odata::escape_literal;
use crate::settings::{ConfigError, RetryBudget, ENDPOINT, PARTITION_KEY, TABLE};
use credentials::storage_credentials;

/// The user agent prefix sent with every request.
pub const USER_AGENT: &str = concat!("terraform-provider-rootmail/", env!("CARGO_PKG_VERSION"));

/// Longest time settling work ([`TableIo::detached`]) may take, so a
/// StopProvider still ends soon.
const SETTLE_BUDGET: Duration = Duration::from_secs(20);

/// One entity as JSON properties.
pub(crate) type Entity = Map<String, Value>;

/// A continuation point of a query (next partition key, next row key).
pub(crate) type Continuation = (String, Option<String>);

/// Why a raw operation did not succeed, as the pool needs to tell them apart.
#[derive(Debug)]
pub(crate) enum Fail {
    /// HTTP 412: the ETag no longer matches. `after_retry` is true when an
    /// earlier attempt of the same write may have reached the service, so the
    /// row might have been changed by this very write.
    Precondition { after_retry: bool },
    /// HTTP 404 on an entity (the table exists).
    EntityNotFound,
    /// HTTP 409 (entity or table already exists).
    Conflict,
    /// Anything else, already a final error.
    Error(AzureError),
}

impl From<AzureError> for Fail {
    fn from(e: AzureError) -> Self {
        Fail::Error(e)
    }
}

/// Counts HTTP requests (every attempt) on the way to the real HTTP client.
#[derive(Debug)]
struct CountingHttpClient {
    inner: Arc<dyn HttpClient>,
    requests: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl HttpClient for CountingHttpClient {
    async fn execute_request(&self, request: &Request) -> azure_core_legacy::Result<Response> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.inner.execute_request(request).await
    }
}

/// The table, its partition, and the request policy.
pub(crate) struct TableIo {
    table: TableClient,
    partition: PartitionKeyClient,
    pub(crate) table_name: String,
    pub(crate) partition_key: String,
    credential: CredentialKind,
    /// Where the endpoint and the credential came from, for messages.
    origins: Arc<Origins>,
    /// Whether the endpoint answers, shared by every request of this client.
    health: Arc<outage::Health>,
    budget: RetryBudget,
    requests: Arc<AtomicU64>,
    writes: Arc<WriteCount>,
    pub(crate) cancel: CancellationToken,
}

/// Writes this process started and finished, so that a snapshot of the
/// partition (see `reads.rs`) is only used while none of our own writes
/// could have changed a row in it.
#[derive(Debug, Default)]
pub(crate) struct WriteCount {
    started: AtomicU64,
    finished: AtomicU64,
}

impl WriteCount {
    /// Writes started so far, if none is in flight now.
    pub(crate) fn quiet(&self) -> Option<u64> {
        let finished = self.finished.load(Ordering::SeqCst);
        let started = self.started.load(Ordering::SeqCst);
        (started == finished).then_some(started)
    }

    /// Writes started so far (in flight or done).
    pub(crate) fn started(&self) -> u64 {
        self.started.load(Ordering::SeqCst)
    }

    fn begin(self: &Arc<Self>) -> WriteGuard {
        self.started.fetch_add(1, Ordering::SeqCst);
        WriteGuard(Arc::clone(self))
    }
}

/// Marks a write finished when dropped (also when its future is dropped).
struct WriteGuard(Arc<WriteCount>);

impl Drop for WriteGuard {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for TableIo {
    // Hand-written so no SDK internals (credentials, pipelines) are ever printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableIo")
            .field("table", &self.table_name)
            .field("partition_key", &self.partition_key)
            .field("credential", &self.credential)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl TableIo {
    pub(crate) fn new(
        config: &TableConfig,
        cancel: CancellationToken,
    ) -> Result<TableIo, AzureError> {
        check_table_name(&config.table).map_err(|why| {
            ConfigError::new(&TABLE, format!("invalid value for table name: {why}"))
        })?;
        check_key(&config.partition_key).map_err(|why| {
            ConfigError::new(
                &PARTITION_KEY,
                format!("invalid value for partition key: {why}"),
            )
        })?;
        let url = url::Url::parse(&config.endpoint).map_err(|e| {
            ConfigError::new(
                &ENDPOINT,
                format!("table endpoint `{}` is not a URL: {e}", config.endpoint),
            )
        })?;
        // Also for configs built without `StoreSettings::resolve`.
        check_transport(&url, &config.credential).map_err(|why| {
            ConfigError::new(
                &ENDPOINT,
                format!("table endpoint `{}`: {why}", config.endpoint),
            )
        })?;
        let http = HttpClients::new(config.ca_file.as_deref())?;
        let credentials = storage_credentials(
            &config.credential,
            &config.account,
            &config.authority_host,
            &http,
        )?;
        let requests = Arc::new(AtomicU64::new(0));
        let transport = TransportOptions::new(Arc::new(CountingHttpClient {
            inner: http.legacy,
            requests: Arc::clone(&requests),
        }));
        let options = ClientOptions::new(transport)
            // Our own loop retries, so the time budget is ours to bound.
            .retry(RetryOptions::none())
            .telemetry(TelemetryOptions::default().application_id(USER_AGENT.to_owned()));
        let location = CloudLocation::Custom {
            account: config.account.clone(),
            uri: config.endpoint.clone(),
        };
        let service = azure_data_tables::clients::TableServiceClientBuilder::with_location(
            location,
            credentials,
        )
        .client_options(options)
        .build();
        let table = service.table_client(config.table.clone());
        // The SDK pastes keys into `(PartitionKey='…',RowKey='…')` verbatim, so
        // they go through the one escaping function first.
        let partition = table.partition_key_client(escape_literal(&config.partition_key));
        Ok(TableIo {
            table,
            partition,
            table_name: config.table.clone(),
            partition_key: config.partition_key.clone(),
            credential: config.credential.kind(),
            origins: Arc::new(config.origins.clone()),
            health: Arc::new(outage::Health::new(
                &config.endpoint,
                config.origins.clone(),
            )),
            budget: config.retry,
            requests,
            writes: Arc::default(),
            cancel,
        })
    }

    /// The same table with a token nobody cancels and a short budget, for
    /// the little work that must finish after a cancellation: reading back
    /// a write whose answer was lost, giving back a claim nobody received.
    pub(crate) fn detached(&self) -> TableIo {
        TableIo {
            table: self.table.clone(),
            partition: self.partition.clone(),
            table_name: self.table_name.clone(),
            partition_key: self.partition_key.clone(),
            credential: self.credential,
            origins: Arc::clone(&self.origins),
            health: Arc::clone(&self.health),
            budget: RetryBudget {
                total: self.budget.total.min(SETTLE_BUDGET),
                per_request: self.budget.per_request.min(SETTLE_BUDGET / 2),
                ..self.budget
            },
            requests: Arc::clone(&self.requests),
            writes: Arc::clone(&self.writes),
            cancel: CancellationToken::new(),
        }
    }

    /// HTTP requests sent so far (every attempt counts).
    pub(crate) fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests waiting to try again, as they go (for a progress display).
    pub(crate) fn waiting(&self) -> tokio::sync::watch::Receiver<Option<Waiting>> {
        self.health.waiting()
    }

    /// This process's writes to the table (with every clone and detached copy).
    pub(crate) fn writes(&self) -> &WriteCount {
        &self.writes
    }

    /// Creates the table; `Ok(false)` when it already existed.
    pub(crate) async fn create_table(&self) -> Result<bool, AzureError> {
        match self
            .run("create table", || self.table.create().into_future())
            .await
        {
            Ok(_) => Ok(true),
            Err(Fail::Conflict) => Ok(false),
            Err(other) => Err(into_error(other, "create table")),
        }
    }

    /// Point read by row key; `None` when the row does not exist.
    pub(crate) async fn get(&self, row_key: &str) -> Result<Option<(Entity, String)>, AzureError> {
        let client = self.partition.entity_client(escape_literal(row_key));
        match self
            .run("read alias", || client.get::<Entity>().into_future())
            .await
        {
            Ok(resp) => Ok(Some((resp.entity, resp.etag.to_string()))),
            Err(Fail::EntityNotFound) => Ok(None),
            Err(other) => Err(into_error(other, "read alias")),
        }
    }

    /// One page of a query. Returns the entities (each with `odata.etag`) and
    /// where the next page starts.
    pub(crate) async fn query_page(
        &self,
        filter: &str,
        select: Option<&str>,
        top: Option<u32>,
        from: Option<&Continuation>,
    ) -> Result<(Vec<Entity>, Option<Continuation>), AzureError> {
        let make = || {
            let mut q = self.table.query().filter(Filter::new(filter.to_owned()));
            if let Some(s) = select {
                q = q.select(Select::new(s.to_owned()));
            }
            if let Some(t) = top {
                q = q.top(Top::new(t));
            }
            if let Some((pk, rk)) = from {
                q = q.initial_partition_key(pk.clone());
                if let Some(rk) = rk {
                    q = q.initial_row_key(rk.clone());
                }
            }
            async move {
                match q.into_stream::<Entity>().next().await {
                    Some(page) => page,
                    None => Err(azure_core_legacy::Error::message(
                        LegacyErrorKind::DataConversion,
                        "query returned no page",
                    )),
                }
            }
        };
        match self.run("query aliases", make).await {
            Ok(page) => {
                let next = page.continuation();
                Ok((page.entities, next))
            }
            Err(other) => Err(into_error(other, "query aliases")),
        }
    }

    /// All pages of a query.
    pub(crate) async fn query_all(
        &self,
        filter: &str,
        select: Option<&str>,
    ) -> Result<Vec<Entity>, AzureError> {
        let mut out = Vec::new();
        let mut from: Option<Continuation> = None;
        loop {
            let (mut page, next) = self.query_page(filter, select, None, from.as_ref()).await?;
            out.append(&mut page);
            match next {
                Some(n) => from = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// The one place a row is written in place: always on a real ETag.
    pub(crate) async fn write_if_match(
        &self,
        row_key: &str,
        body: &Entity,
        etag: &str,
        write: Write,
    ) -> Result<String, Fail> {
        let operation = match write {
            Write::Merge => "merge alias",
            Write::Replace => "replace alias",
        };
        if etag.is_empty() || etag == "*" {
            return Err(AzureError::Protocol {
                operation,
                message: "refusing an unconditional write".to_owned(),
            }
            .into());
        }
        let client = self.partition.entity_client(escape_literal(row_key));
        let condition = IfMatchCondition::Etag(Etag::from(etag.to_owned()));
        let resp = self
            .run_write(operation, || {
                let c = match write {
                    Write::Merge => client.merge(body, condition.clone()),
                    Write::Replace => client.update(body, condition.clone()),
                };
                async move { c?.into_future().await }
            })
            .await?;
        Ok(resp.etag.to_string())
    }

    /// Deletes the row `row_key` of partition `partition_key` (any partition
    /// of the table, e.g. one beside the pool's) if its ETag still matches.
    pub(crate) async fn delete_if_match_in(
        &self,
        partition_key: &str,
        row_key: &str,
        etag: &str,
    ) -> Result<(), Fail> {
        if etag.is_empty() || etag == "*" {
            return Err(AzureError::Protocol {
                operation: "delete row",
                message: "refusing an unconditional delete".to_owned(),
            }
            .into());
        }
        let client = self
            .table
            .partition_key_client(escape_literal(partition_key))
            .entity_client(escape_literal(row_key));
        let condition = IfMatchCondition::Etag(Etag::from(etag.to_owned()));
        self.run_write("delete row", || {
            client.delete().if_match(condition.clone()).into_future()
        })
        .await?;
        Ok(())
    }

    /// Inserts a new row; fails with `Fail::Conflict` when the key exists.
    pub(crate) async fn insert(&self, body: &Entity) -> Result<String, Fail> {
        let resp = self
            .run_write("insert alias", || {
                let b = self.table.insert::<&Entity, Entity>(body);
                async move { b?.into_future().await }
            })
            .await?;
        Ok(resp.etag.to_string())
    }
}

/// How [`TableIo::write_if_match`] writes a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    Merge,
    Replace,
}

/// Turns a raw failure the caller did not handle into a final error.
pub(crate) fn into_error(fail: Fail, operation: &'static str) -> AzureError {
    match fail {
        Fail::Error(e) => e,
        Fail::Precondition { .. } => AzureError::Http {
            operation,
            status: 412,
            error_code: Some("UpdateConditionNotSatisfied".to_owned()),
        },
        Fail::EntityNotFound => AzureError::Http {
            operation,
            status: 404,
            error_code: Some("ResourceNotFound".to_owned()),
        },
        Fail::Conflict => AzureError::Http {
            operation,
            status: 409,
            error_code: Some("EntityAlreadyExists".to_owned()),
        },
    }
}
