//! The OIDC token Azure AD accepts as a client assertion (workload identity
//! federation): given, read from a file, or requested from the pipeline
//! that runs Terraform, the way the azurerm provider requests it.
//!
//! - GitHub Actions: `GET <ACTIONS_ID_TOKEN_REQUEST_URL>&audience=api://AzureADTokenExchange`
//!   with `Authorization: Bearer <ACTIONS_ID_TOKEN_REQUEST_TOKEN>`; the answer is
//!   `{"value": "<jwt>"}`.
//! - Azure DevOps: `POST <SYSTEM_OIDCREQUESTURI>?api-version=7.1&serviceConnectionId=<id>`
//!   with `Authorization: Bearer <SYSTEM_ACCESSTOKEN>`; the answer is
//!   `{"oidcToken": "<jwt>"}`.
//!
//! A new token is requested for every exchange at Azure AD, so an assertion
//! that expired during a long apply is never sent again. Nothing here puts a
//! token or a request token into an error message or a log.

use std::path::Path;
use std::time::Duration;

use azure_core::error::{Error as ModernError, ErrorKind as ModernErrorKind};
use azure_identity::ClientAssertion;

use super::super::credential::FederatedToken;
use super::super::error::{error_chain, redact_secrets};
use super::super::network::check_credential_url;

/// The audience Azure AD expects in federated tokens.
pub const AZURE_AD_AUDIENCE: &str = "api://AzureADTokenExchange";
/// The Azure DevOps REST API version of the OIDC token request.
const ADO_API_VERSION: &str = "7.1";
/// One token request may take this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A [`FederatedToken`] source with the HTTP client to request it with.
#[derive(Debug)]
pub(crate) struct FederatedAssertion {
    pub token: FederatedToken,
    pub http: reqwest::Client,
}

#[async_trait::async_trait]
impl ClientAssertion for FederatedAssertion {
    async fn secret(
        &self,
        _options: Option<azure_core::http::ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        match &self.token {
            FederatedToken::Value(v) => Ok(v.expose().to_owned()),
            FederatedToken::File(path) => read_token_file(path).await,
            FederatedToken::GitHubActions {
                request_url,
                request_token,
            } => {
                let mut url = parse_url(request_url, "the GitHub Actions OIDC request URL")?;
                url.query_pairs_mut()
                    .append_pair("audience", AZURE_AD_AUDIENCE);
                let request = self
                    .http
                    .get(url)
                    .bearer_auth(request_token.expose())
                    .header("Accept", "application/json");
                let body = send(request, "GitHub Actions' OIDC endpoint", GITHUB_HINT).await?;
                token_field(&body, "value", "GitHub Actions' OIDC endpoint")
            }
            FederatedToken::AzureDevOps {
                request_url,
                request_token,
                service_connection_id,
            } => {
                let mut url = parse_url(request_url, "the Azure DevOps OIDC request URL")?;
                url.query_pairs_mut()
                    .append_pair("api-version", ADO_API_VERSION)
                    .append_pair("serviceConnectionId", service_connection_id);
                let request = self
                    .http
                    .post(url)
                    .bearer_auth(request_token.expose())
                    .header("Accept", "application/json")
                    .header("Content-Type", "application/json")
                    // Without it Azure DevOps answers a bad token with a sign-in redirect.
                    .header("X-TFS-FedAuthRedirect", "Suppress")
                    .body(Vec::new());
                let body = send(request, "Azure DevOps' OIDC endpoint", ADO_HINT).await?;
                token_field(&body, "oidcToken", "Azure DevOps' OIDC endpoint")
            }
        }
    }
}

const GITHUB_HINT: &str = "check that the job has `permissions: id-token: write` and that \
                           ACTIONS_ID_TOKEN_REQUEST_TOKEN (or ARM_OIDC_REQUEST_TOKEN) belongs to \
                           this run";
const ADO_HINT: &str = "check the service connection id (ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID), \
                        that it uses workload identity federation and that SYSTEM_ACCESSTOKEN \
                        (or ARM_OIDC_REQUEST_TOKEN) is this job's $(System.AccessToken)";

fn credential_error(message: String) -> ModernError {
    ModernError::with_message(ModernErrorKind::Credential, redact_secrets(&message))
}

fn parse_url(text: &str, what: &str) -> azure_core::Result<url::Url> {
    check_credential_url(text).map_err(|why| credential_error(format!("{what} {why}")))
}

/// Sends one token request; the body of a 200 answer, or an error that says
/// who refused and what to check (never the answer's body, which may echo input).
async fn send(
    request: reqwest::RequestBuilder,
    endpoint: &str,
    hint: &str,
) -> azure_core::Result<Vec<u8>> {
    let response =
        request.timeout(REQUEST_TIMEOUT).send().await.map_err(|e| {
            credential_error(format!("cannot reach {endpoint}: {}", error_chain(&e)))
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(credential_error(format!(
            "{endpoint} refused the token request with HTTP {}; {hint}",
            status.as_u16()
        )));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| credential_error(format!("cannot read the answer of {endpoint}: {e}")))?;
    Ok(body.to_vec())
}

fn token_field(body: &[u8], field: &str, endpoint: &str) -> azure_core::Result<String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get(field).and_then(|t| t.as_str()).map(str::to_owned))
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            credential_error(format!(
                "{endpoint} answered without a token (no `{field}` in its JSON)"
            ))
        })
}

async fn read_token_file(path: &Path) -> azure_core::Result<String> {
    match tokio::fs::read_to_string(path).await {
        Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
        Ok(_) => Err(credential_error(format!(
            "federated token file {} is empty",
            path.display()
        ))),
        Err(e) => Err(credential_error(format!(
            "cannot read federated token file {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn federated_token_file_is_read_on_each_request() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").expect("write");
        let assertion = FederatedAssertion {
            token: FederatedToken::File(path.clone()),
            http: reqwest::Client::new(),
        };
        assert_eq!(assertion.secret(None).await.expect("read"), "first");
        std::fs::write(&path, "rotated").expect("write");
        assert_eq!(assertion.secret(None).await.expect("read"), "rotated");
        std::fs::write(&path, "  ").expect("write");
        assert!(assertion.secret(None).await.is_err());
    }

    #[test]
    fn answers_without_a_token_are_errors() {
        assert_eq!(
            token_field(br#"{"value":"jwt"}"#, "value", "x").expect("token"),
            "jwt"
        );
        assert!(token_field(br#"{"value":""}"#, "value", "x").is_err());
        assert!(token_field(b"<html>", "oidcToken", "x").is_err());
        assert!(parse_url("ftp://x", "u").is_err());
        assert!(parse_url("http://pipelines.example/t", "u").is_err());
    }
}
