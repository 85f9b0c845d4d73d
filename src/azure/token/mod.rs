//! Azure AD access tokens, for any scope: one way to get a token per file
//! (`client_certificate`: assertions signed with the certificate; `federated`: OIDC from a
//! pipeline or a file; `managed_identity`: IMDS, a custom endpoint or App
//! Service; the client secret and the Azure CLI come from `azure_identity`),
//! chosen in one place
//! ([`TokenSource::for_credential`]) and cached by one wrapper
//! ([`TokenSource`]). Knows nothing of the services the tokens are for: the
//! table client asks for storage's scope, other readers for their own.

mod cached;
mod client_certificate;
mod federated;
mod managed_identity;

#[cfg(test)]
pub(crate) use cached::tests as cached_tests;

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertionCredential,
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
};

pub use cached::TokenSource;
pub use federated::AZURE_AD_AUDIENCE;
pub use managed_identity::{IDENTITY_ENDPOINT, IDENTITY_HEADER, IMDS_ENDPOINT};

use super::credential::Credential;
use super::error::{error_chain, AzureError};
use super::network::HttpClients;
use client_certificate::CertificateAssertion;
use federated::FederatedAssertion;
use managed_identity::ManagedIdentity;

/// The scope of Azure Storage's data plane.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

impl TokenSource {
    /// The token source for an Azure AD credential; `None` for the storage
    /// account's own credentials (keys, SAS, the emulator), which need none.
    /// `authority_host` is the cloud's Azure AD (e.g.
    /// `https://login.microsoftonline.com`); every request goes through `http`.
    pub fn for_credential(
        credential: &Credential,
        authority_host: &str,
        http: &HttpClients,
    ) -> Result<Option<TokenSource>, AzureError> {
        let kind = credential.kind();
        let entra = |e: azure_core::Error| AzureError::Credential {
            credential: kind,
            message: error_chain(&e),
        };
        let client_options = || identity_options(http, authority_host);
        let inner: Arc<dyn TokenCredential> = match credential {
            Credential::Emulator
            | Credential::SharedKey { .. }
            | Credential::SasToken(_)
            | Credential::ConnectionString(_) => return Ok(None),
            Credential::ClientSecret {
                tenant_id,
                client_id,
                secret,
            } => ClientSecretCredential::new(
                tenant_id,
                client_id.clone(),
                azure_core::credentials::Secret::new(secret.expose().to_owned()),
                Some(ClientSecretCredentialOptions {
                    client_options: client_options(),
                }),
            )
            .map_err(entra)?,
            Credential::Federated {
                tenant_id,
                client_id,
                token,
            } => ClientAssertionCredential::new(
                tenant_id.clone(),
                client_id.clone(),
                FederatedAssertion {
                    token: token.clone(),
                    http: http.modern.clone(),
                },
                Some(ClientAssertionCredentialOptions {
                    client_options: client_options(),
                }),
            )
            .map_err(entra)?,
            Credential::ClientCertificate {
                tenant_id,
                client_id,
                certificate,
            } => ClientAssertionCredential::new(
                tenant_id.clone(),
                client_id.clone(),
                CertificateAssertion {
                    certificate: certificate.clone(),
                    client_id: client_id.clone(),
                    token_endpoint: token_endpoint(authority_host, tenant_id)?,
                },
                Some(ClientAssertionCredentialOptions {
                    client_options: client_options(),
                }),
            )
            .map_err(entra)?,
            // Managed identity endpoints are local: never through a proxy.
            Credential::ManagedIdentity {
                client_id,
                endpoint,
            } => Arc::new(ManagedIdentity::new(
                endpoint.as_deref(),
                client_id.clone(),
                http.direct.clone(),
                &|name| std::env::var(name).ok(),
            )),
            Credential::AzureCli { tenant_id } => {
                let options = AzureCliCredentialOptions {
                    tenant_id: tenant_id.clone(),
                    ..Default::default()
                };
                AzureCliCredential::new(Some(options)).map_err(entra)?
            }
        };
        Ok(Some(TokenSource::new(inner, kind)))
    }
}

/// The token endpoint of `tenant` at `authority_host`: where assertions are
/// exchanged, and so their audience.
fn token_endpoint(authority_host: &str, tenant: &str) -> Result<String, AzureError> {
    url::Url::parse(authority_host)
        .and_then(|u| u.join(&format!("/{tenant}/oauth2/v2.0/token")))
        .map(String::from)
        .map_err(|e| AzureError::Credential {
            credential: super::CredentialKind::ClientCertificate,
            message: format!("no token endpoint for tenant `{tenant}` at {authority_host}: {e}"),
        })
}

/// The identity crate's pipeline options: our HTTP client, the authority of
/// the configured cloud, and a retry budget short enough that an unreachable
/// authority fails in seconds, not minutes.
fn identity_options(http: &HttpClients, authority_host: &str) -> ClientOptions {
    let mut cloud = azure_core::cloud::CustomConfiguration::default();
    cloud.authority_host = authority_host.to_owned();
    ClientOptions {
        transport: Some(http.identity_transport()),
        retry: RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: time::Duration::milliseconds(200),
            max_retries: 3,
            max_total_elapsed: time::Duration::seconds(15),
            max_delay: time::Duration::seconds(2),
        }),
        cloud: Some(Arc::new(azure_core::cloud::CloudConfiguration::Custom(
            cloud,
        ))),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::FederatedToken;

    #[test]
    fn azure_ad_credentials_build_without_network() {
        let http = HttpClients::new(None).expect("clients");
        for credential in [
            Credential::ClientSecret {
                tenant_id: "00000000-0000-0000-0000-000000000001".into(),
                client_id: "c".into(),
                secret: "s".into(),
            },
            Credential::Federated {
                tenant_id: "00000000-0000-0000-0000-000000000001".into(),
                client_id: "c".into(),
                token: FederatedToken::Value("jwt".into()),
            },
            Credential::ManagedIdentity {
                client_id: None,
                endpoint: None,
            },
            Credential::AzureCli { tenant_id: None },
        ] {
            let source = TokenSource::for_credential(
                &credential,
                "https://login.microsoftonline.com",
                &http,
            )
            .expect("builds")
            .expect("an Azure AD credential");
            assert_eq!(source.kind(), credential.kind());
        }
        let key = Credential::SharedKey { key: "a2V5".into() };
        assert!(TokenSource::for_credential(&key, "https://x", &http)
            .expect("builds")
            .is_none());
    }
}
