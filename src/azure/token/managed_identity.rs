//! Managed identity tokens, from the endpoint of the machine we run on:
//! - a custom endpoint (`ARM_MSI_ENDPOINT`) or the VM/VMSS instance metadata
//!   service, asked with `Metadata: true`, api-version 2018-02-01 and the
//!   `resource` the token is for;
//! - App Service / Functions / Container Apps: `IDENTITY_ENDPOINT` with its
//!   `X-IDENTITY-HEADER` secret, api-version 2019-08-01.
//!
//! A user-assigned identity is picked with `client_id`. These endpoints are
//! on this host or link-local, so requests never go through a proxy.

use std::time::Duration;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::{Error as ModernError, ErrorKind as ModernErrorKind};
use time::OffsetDateTime;

use super::super::error::{error_chain, redact_secrets};
use crate::secret::SecretString;

/// App Service's endpoint and the secret header it checks (set by the platform).
pub const IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
pub const IDENTITY_HEADER: &str = "IDENTITY_HEADER";

/// The VM/VMSS instance metadata service's token endpoint.
pub const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
const IMDS_API_VERSION: &str = "2018-02-01";
const APP_SERVICE_API_VERSION: &str = "2019-08-01";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const ATTEMPTS: u32 = 3;

/// Where tokens are asked for.
#[derive(Debug)]
enum Endpoint {
    /// The instance metadata protocol (VM/VMSS, or a custom endpoint).
    Metadata(String),
    /// App Service's protocol, with the secret header it checks.
    AppService { url: String, header: SecretString },
}

/// A managed identity's tokens.
#[derive(Debug)]
pub(crate) struct ManagedIdentity {
    endpoint: Endpoint,
    client_id: Option<String>,
    http: reqwest::Client,
}

impl ManagedIdentity {
    /// `endpoint` when given (`ARM_MSI_ENDPOINT`), else App Service's when
    /// `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set (`env`), else IMDS.
    pub(crate) fn new(
        endpoint: Option<&str>,
        client_id: Option<String>,
        http: reqwest::Client,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> ManagedIdentity {
        let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let endpoint = match (endpoint, set(IDENTITY_ENDPOINT), set(IDENTITY_HEADER)) {
            (Some(url), _, _) => Endpoint::Metadata(url.to_owned()),
            (None, Some(url), Some(header)) => Endpoint::AppService {
                url,
                header: SecretString::new(header),
            },
            _ => Endpoint::Metadata(IMDS_ENDPOINT.to_owned()),
        };
        ManagedIdentity {
            endpoint,
            client_id,
            http,
        }
    }

    async fn request(&self, resource: &str) -> Result<reqwest::Response, String> {
        let (url, version) = match &self.endpoint {
            Endpoint::Metadata(url) => (url, IMDS_API_VERSION),
            Endpoint::AppService { url, .. } => (url, APP_SERVICE_API_VERSION),
        };
        let mut url = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        url.query_pairs_mut()
            .append_pair("api-version", version)
            .append_pair("resource", resource);
        if let Some(id) = &self.client_id {
            url.query_pairs_mut().append_pair("client_id", id);
        }
        let request = self.http.get(url).timeout(REQUEST_TIMEOUT);
        let request = match &self.endpoint {
            Endpoint::Metadata(_) => request.header("Metadata", "true"),
            Endpoint::AppService { header, .. } => {
                request.header("X-IDENTITY-HEADER", header.expose())
            }
        };
        request.send().await.map_err(|e| error_chain(&e))
    }

    fn describe(&self) -> String {
        match &self.endpoint {
            Endpoint::Metadata(url) if url == IMDS_ENDPOINT => {
                "the instance metadata service (no managed identity on this machine?)".to_owned()
            }
            Endpoint::Metadata(url) => format!("the managed identity endpoint {url}"),
            Endpoint::AppService { url, .. } => format!("IDENTITY_ENDPOINT {url}"),
        }
    }
}

#[async_trait::async_trait]
impl TokenCredential for ManagedIdentity {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let fail =
            |m: String| ModernError::with_message(ModernErrorKind::Credential, redact_secrets(&m));
        // One scope `<resource>/.default` names the resource the token is for.
        let resource = match scopes {
            [scope] => scope.trim_end_matches("/.default"),
            _ => {
                return Err(fail(
                    "a managed identity token is for exactly one scope".into(),
                ))
            }
        };
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            match self.request(resource).await {
                Ok(response) if response.status().is_success() => {
                    let body = response
                        .bytes()
                        .await
                        .map_err(|e| fail(format!("cannot read the answer: {e}")))?;
                    return parse_token(&body).ok_or_else(|| {
                        fail(format!(
                            "{} answered without a usable token",
                            self.describe()
                        ))
                    });
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    last = format!("{} answered HTTP {status}", self.describe());
                    if !matches!(status, 429 | 500..=599) {
                        break;
                    }
                }
                Err(e) => last = format!("cannot reach {}: {e}", self.describe()),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(Duration::from_millis(300 * u64::from(attempt))).await;
            }
        }
        Err(fail(last))
    }
}

/// `access_token` with `expires_on` (seconds since the epoch, as a string or a
/// number) or else `expires_in`.
fn parse_token(body: &[u8]) -> Option<AccessToken> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let token = json.get("access_token")?.as_str()?.to_owned();
    let number = |name: &str| match json.get(name)? {
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
        serde_json::Value::Number(n) => n.as_i64(),
        _ => None,
    };
    let expires_on = match (number("expires_on"), number("expires_in")) {
        (Some(at), _) => OffsetDateTime::from_unix_timestamp(at).ok()?,
        (None, Some(secs)) => OffsetDateTime::now_utc() + time::Duration::seconds(secs),
        (None, None) => return None,
    };
    (!token.is_empty()).then(|| AccessToken::new(token, expires_on))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_of_both_protocols_are_read() {
        let t =
            parse_token(br#"{"access_token":"a","expires_on":"1900000000","expires_in":"3599"}"#)
                .expect("imds");
        assert_eq!(t.expires_on.unix_timestamp(), 1_900_000_000);
        let t = parse_token(br#"{"access_token":"a","expires_in":60}"#).expect("expires_in");
        assert!(t.expires_on > OffsetDateTime::now_utc());
        assert!(parse_token(br#"{"access_token":"","expires_on":1}"#).is_none());
        assert!(parse_token(b"<html>").is_none());
    }

    #[test]
    fn the_endpoint_is_chosen_as_azurerm_does() {
        let http = reqwest::Client::new();
        let app_service = |name: &str| match name {
            "IDENTITY_ENDPOINT" => Some("http://127.0.0.1:41000/msi/token".to_owned()),
            "IDENTITY_HEADER" => Some("h".to_owned()),
            _ => None,
        };
        let mi = ManagedIdentity::new(None, None, http.clone(), &app_service);
        assert!(matches!(mi.endpoint, Endpoint::AppService { .. }));
        let mi = ManagedIdentity::new(Some("http://10.0.0.1/t"), None, http.clone(), &app_service);
        assert!(matches!(mi.endpoint, Endpoint::Metadata(ref u) if u == "http://10.0.0.1/t"));
        let mi = ManagedIdentity::new(None, None, http, &|_| None);
        assert!(matches!(mi.endpoint, Endpoint::Metadata(ref u) if u == IMDS_ENDPOINT));
        assert!(!format!(
            "{:?}",
            ManagedIdentity::new(None, None, reqwest::Client::new(), &app_service)
        )
        .contains("\"h\""));
    }
}
