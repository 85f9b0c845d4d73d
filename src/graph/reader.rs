//! [`GraphReader`]: GET requests to Microsoft Graph with an Azure AD token
//! for Graph's resource, `@odata.nextLink` paging, and throttling handled
//! the way Graph asks (wait `Retry-After`, else back off), all within one
//! retry budget per read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::user::{GraphUser, SELECT};
use crate::azure::is_permanent_network_error;
use crate::azure::token::TokenSource;
use crate::settings::RetryBudget;

/// Graph's error body: `{"error": {"code": …, "message": …}}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorDetail,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// A page of a listing.
#[derive(Debug, Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// Why Graph could not be read. Messages never hold the token.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// No Azure AD token for Graph.
    #[error("cannot get an Azure AD token for Microsoft Graph: {0}")]
    Token(String),
    /// Graph refused the token (401).
    #[error("Microsoft Graph refused the token ({code}: {message})")]
    Unauthorized { code: String, message: String },
    /// The identity lacks the permission (403).
    #[error("Microsoft Graph refused to read {what} ({code}: {message}); the identity needs the Microsoft Graph application permission User.Read.All, with admin consent")]
    Forbidden {
        what: String,
        code: String,
        message: String,
    },
    /// Still throttled (429/503) when the retry budget ran out.
    #[error("Microsoft Graph kept answering {status} (throttled) for {} s; try again later or allow more time", .waited.as_secs())]
    Throttled { status: u16, waited: Duration },
    /// The endpoint could not be reached in time.
    #[error("cannot reach Microsoft Graph at {endpoint}: {message}")]
    Unreachable { endpoint: String, message: String },
    /// Any other answer.
    #[error("Microsoft Graph answered {status} for {what} ({code}: {message})")]
    Service {
        what: String,
        status: u16,
        code: String,
        message: String,
    },
    /// An answer this reader cannot use.
    #[error("unexpected answer from Microsoft Graph: {0}")]
    Protocol(String),
}

/// Reads mailboxes (user objects) from Microsoft Graph.
pub struct GraphReader {
    http: reqwest::Client,
    /// `https://graph.microsoft.com/v1.0/` or the configured endpoint's.
    base: url::Url,
    /// `<Graph resource>/.default`: the Graph that is read, since each
    /// Graph (global, national clouds) accepts only its own tokens.
    scope: String,
    tokens: Arc<TokenSource>,
    budget: RetryBudget,
}

impl std::fmt::Debug for GraphReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphReader")
            .field("base", &self.base.as_str())
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl GraphReader {
    /// A reader of `endpoint` (e.g. `https://graph.microsoft.com`) with
    /// tokens for `resource` (that Graph's resource, normally the
    /// endpoint's origin) from `tokens`.
    pub fn new(
        http: reqwest::Client,
        endpoint: &str,
        resource: &str,
        tokens: Arc<TokenSource>,
        budget: RetryBudget,
    ) -> Result<GraphReader, GraphError> {
        let base = url::Url::parse(&format!("{}/v1.0/", endpoint.trim_end_matches('/')))
            .map_err(|e| GraphError::Protocol(format!("endpoint `{endpoint}`: {e}")))?;
        Ok(GraphReader {
            http,
            base,
            scope: format!("{}/.default", resource.trim_end_matches('/')),
            tokens,
            budget,
        })
    }

    /// The user object with this id or user principal name; `None` when
    /// Graph has none (404 `Request_ResourceNotFound`).
    pub async fn user(&self, id_or_upn: &str) -> Result<Option<GraphUser>, GraphError> {
        let mut url = self.base.join("users").map_err(protocol)?;
        url.path_segments_mut()
            .map_err(|_| GraphError::Protocol("endpoint cannot take a path".into()))?
            .push(id_or_upn);
        url.query_pairs_mut().append_pair("$select", SELECT);
        self.get(url, &format!("user `{id_or_upn}`")).await
    }

    /// Every user object with `address` among its proxy addresses (Graph
    /// compares without regard to case, `smtp:` matching `SMTP:` too), all pages.
    pub async fn users_with_address(&self, address: &str) -> Result<Vec<GraphUser>, GraphError> {
        let mut url = self.base.join("users").map_err(protocol)?;
        let filter = format!(
            "proxyAddresses/any(p:p eq {})",
            crate::azure::odata::quote(&format!("smtp:{address}"))
        );
        url.query_pairs_mut()
            .append_pair("$filter", &filter)
            .append_pair("$select", SELECT)
            .append_pair("$top", "999");
        let what = format!("the users with address `{address}`");
        let mut users = Vec::new();
        let mut next = Some(url);
        while let Some(url) = next.take() {
            let page: Page<GraphUser> = self
                .get(url, &what)
                .await?
                .ok_or_else(|| GraphError::Protocol(format!("{what}: the listing is gone")))?;
            users.extend(page.value);
            next = match page.next_link {
                Some(link) => Some(self.same_origin(&link)?),
                None => None,
            };
        }
        Ok(users)
    }

    /// The mailbox with this address, object id or user principal name:
    /// first as a user principal name or id, then by its proxy addresses.
    pub async fn mailbox(&self, address_or_id: &str) -> Result<Option<GraphUser>, GraphError> {
        if let Some(user) = self.user(address_or_id).await? {
            return Ok(Some(user));
        }
        if !address_or_id.contains('@') {
            return Ok(None);
        }
        let mut found = self.users_with_address(address_or_id).await?;
        found.retain(|u| u.has_address(address_or_id));
        Ok(found.into_iter().next())
    }

    /// A `@odata.nextLink`, refused unless it points where the token may go.
    fn same_origin(&self, link: &str) -> Result<url::Url, GraphError> {
        let url = url::Url::parse(link).map_err(protocol)?;
        if url.origin() != self.base.origin() {
            return Err(GraphError::Protocol(format!(
                "a next page link points to another host ({})",
                url.host_str().unwrap_or_default()
            )));
        }
        Ok(url)
    }

    async fn bearer(&self) -> Result<String, GraphError> {
        let token = self
            .tokens
            .token(&self.scope)
            .await
            .map_err(|e| GraphError::Token(e.to_string()))?;
        Ok(token.token.secret().to_owned())
    }

    /// One GET with retries: `Ok(None)` for a resource Graph says does not exist.
    async fn get<T: DeserializeOwned>(
        &self,
        url: url::Url,
        what: &str,
    ) -> Result<Option<T>, GraphError> {
        let started = Instant::now();
        let deadline = started + self.budget.total;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let token = self.bearer().await?;
            let sent = self
                .http
                .get(url.clone())
                .bearer_auth(token)
                .header(reqwest::header::ACCEPT, "application/json")
                .timeout(self.budget.per_request)
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e)
                    if (e.is_timeout() || e.is_connect() || e.is_request())
                        && !is_permanent_network_error(&e) =>
                {
                    let wait = self.budget.backoff(attempt);
                    if Instant::now() + wait >= deadline {
                        return Err(GraphError::Unreachable {
                            endpoint: self.base.origin().ascii_serialization(),
                            message: crate::redact::error_line(&e),
                        });
                    }
                    tracing::debug!(attempt, "Microsoft Graph unreachable, retrying: {e}");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(e) => {
                    return Err(GraphError::Unreachable {
                        endpoint: self.base.origin().ascii_serialization(),
                        message: crate::redact::error_line(&e),
                    })
                }
            };
            let status = response.status().as_u16();
            if status == 200 {
                let body = response.bytes().await.map_err(protocol)?;
                return serde_json::from_slice(&body)
                    .map(Some)
                    .map_err(|e| GraphError::Protocol(format!("{what}: {e}")));
            }
            if matches!(status, 429 | 503 | 504) {
                let wait = retry_after(&response).unwrap_or_else(|| self.budget.backoff(attempt));
                if Instant::now() + wait >= deadline {
                    return Err(GraphError::Throttled {
                        status,
                        waited: started.elapsed(),
                    });
                }
                tracing::info!(
                    attempt,
                    status,
                    wait_ms = wait.as_millis() as u64,
                    "Microsoft Graph is throttling; waiting as asked"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            let body: ErrorBody = match response.bytes().await {
                Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
                Err(_) => ErrorBody::default(),
            };
            let ErrorDetail { code, message } = body.error;
            return match status {
                404 if code.ends_with("ResourceNotFound") => Ok(None),
                401 => Err(GraphError::Unauthorized { code, message }),
                403 => Err(GraphError::Forbidden {
                    what: what.to_owned(),
                    code,
                    message,
                }),
                _ => Err(GraphError::Service {
                    what: what.to_owned(),
                    status,
                    code,
                    message,
                }),
            };
        }
    }
}

/// `Retry-After` in seconds (Graph does not send the date form).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn protocol(e: impl std::fmt::Display) -> GraphError {
    GraphError::Protocol(e.to_string())
}
