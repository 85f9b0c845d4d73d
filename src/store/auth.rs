//! Turns a [`Credential`] into the legacy storage client's credentials.
//!
//! Azure AD tokens come from the maintained `azure_identity` 1.x crate. The
//! table client is frozen on `azure_core` 0.21, whose `TokenCredential` trait
//! differs from 1.x, so [`EntraTokenBridge`] implements the old trait by
//! asking a 1.x credential (which caches and refreshes tokens itself).

use std::path::PathBuf;
use std::sync::Arc;

use azure_core::credentials::TokenCredential as ModernTokenCredential;
use azure_core_legacy::auth::{AccessToken as LegacyAccessToken, Secret as LegacySecret};
use azure_core_legacy::error::{Error as LegacyError, ErrorKind as LegacyErrorKind};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertion, ClientAssertionCredential,
    ClientSecretCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId,
};
use azure_storage::StorageCredentials;

use super::config::{
    Credential, CredentialKind, FederatedToken, ParsedConnectionString, EMULATOR_KEY,
};
use super::error::StoreError;

/// Adapts an `azure_identity` 1.x credential to the legacy `TokenCredential` trait.
#[derive(Debug)]
pub(crate) struct EntraTokenBridge {
    inner: Arc<dyn ModernTokenCredential>,
    kind: CredentialKind,
}

#[async_trait::async_trait]
impl azure_core_legacy::auth::TokenCredential for EntraTokenBridge {
    async fn get_token(&self, scopes: &[&str]) -> azure_core_legacy::Result<LegacyAccessToken> {
        match self.inner.get_token(scopes, None).await {
            Ok(token) => Ok(LegacyAccessToken::new(
                LegacySecret::new(token.token.secret().to_owned()),
                token.expires_on,
            )),
            Err(e) => Err(LegacyError::with_message(
                LegacyErrorKind::Credential,
                || format!("{} failed: {}", self.kind, error_chain(&e)),
            )),
        }
    }

    async fn clear_cache(&self) -> azure_core_legacy::Result<()> {
        // The 1.x credentials own their caches and refresh before expiry.
        Ok(())
    }
}

/// A federated token handed to Entra ID as the client assertion. A file is
/// re-read on each request because workload identity rotates it.
#[derive(Debug)]
struct FederatedAssertion(FederatedToken);

#[async_trait::async_trait]
impl ClientAssertion for FederatedAssertion {
    async fn secret(
        &self,
        _options: Option<azure_core::http::ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        match &self.0 {
            FederatedToken::Value(v) => Ok(v.expose().to_owned()),
            FederatedToken::File(path) => read_token_file(path).await,
        }
    }
}

async fn read_token_file(path: &PathBuf) -> azure_core::Result<String> {
    match tokio::fs::read_to_string(path).await {
        Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
        Ok(_) => Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            format!("federated token file {} is empty", path.display()),
        )),
        Err(e) => Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            format!("cannot read federated token file {}: {e}", path.display()),
        )),
    }
}

/// Builds the storage credentials for the legacy client.
pub(crate) fn storage_credentials(
    credential: &Credential,
    account: &str,
) -> Result<StorageCredentials, StoreError> {
    let kind = credential.kind();
    let bad = |what: String| StoreError::Config(format!("{kind}: {what}"));
    let entra = |e: azure_core::Error| StoreError::Credential {
        credential: kind,
        message: error_chain(&e),
    };
    let bridge = |inner: Arc<dyn ModernTokenCredential>| {
        StorageCredentials::token_credential(Arc::new(EntraTokenBridge { inner, kind }))
    };
    Ok(match credential {
        Credential::Emulator => {
            StorageCredentials::access_key(account, LegacySecret::new(EMULATOR_KEY))
        }
        Credential::SharedKey { key } => {
            check_key(key.expose()).map_err(bad)?;
            StorageCredentials::access_key(account, LegacySecret::new(key.expose().to_owned()))
        }
        Credential::SasToken(sas) => {
            StorageCredentials::sas_token(sas.expose().trim_start_matches('?'))
                .map_err(|_| bad("the SAS token cannot be parsed as a query string".to_owned()))?
        }
        Credential::ConnectionString(cs) => {
            let parsed = ParsedConnectionString::parse(cs.expose())?;
            match (parsed.key, parsed.sas) {
                (Some(key), _) => {
                    check_key(key.expose()).map_err(bad)?;
                    let name = parsed.account.unwrap_or_else(|| account.to_owned());
                    StorageCredentials::access_key(name, LegacySecret::new(key.expose().to_owned()))
                }
                (None, Some(sas)) => {
                    StorageCredentials::sas_token(sas.expose().trim_start_matches('?'))
                        .map_err(|_| bad("its SharedAccessSignature cannot be parsed".to_owned()))?
                }
                (None, None) => {
                    return Err(bad("no key or SAS in the connection string".to_owned()))
                }
            }
        }
        Credential::ClientSecret {
            tenant_id,
            client_id,
            secret,
        } => bridge(
            ClientSecretCredential::new(
                tenant_id,
                client_id.clone(),
                azure_core::credentials::Secret::new(secret.expose().to_owned()),
                None,
            )
            .map_err(entra)?,
        ),
        Credential::Federated {
            tenant_id,
            client_id,
            token,
        } => bridge(
            ClientAssertionCredential::new(
                tenant_id.clone(),
                client_id.clone(),
                FederatedAssertion(token.clone()),
                None,
            )
            .map_err(entra)?,
        ),
        Credential::ManagedIdentity { client_id } => {
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                ..Default::default()
            };
            bridge(ManagedIdentityCredential::new(Some(options)).map_err(entra)?)
        }
        Credential::AzureCli { tenant_id } => {
            let options = AzureCliCredentialOptions {
                tenant_id: tenant_id.clone(),
                ..Default::default()
            };
            bridge(AzureCliCredential::new(Some(options)).map_err(entra)?)
        }
    })
}

/// Shared keys are base64; say so up front instead of failing at signing time.
/// The message never contains the key.
fn check_key(key: &str) -> Result<(), String> {
    use base64::Engine as _;
    match base64::engine::general_purpose::STANDARD.decode(key.trim()) {
        Ok(bytes) if !bytes.is_empty() => Ok(()),
        _ => Err(
            "the access key is not valid base64 (copy it again from the storage account's \
                  Access keys page)"
                .to_owned(),
        ),
    }
}

/// An error and its sources on one line (no secrets are ever part of these).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    redact_secrets(&text)
}

/// Query and connection-string parameters whose values are secrets. HTTP
/// errors quote the request URL, and a SAS signature travels in it.
const SECRET_MARKERS: [&str; 5] = [
    "sig=",
    "AccountKey=",
    "SharedAccessSignature=",
    "client_secret=",
    "client_assertion=",
];

/// Blanks the values of [`SECRET_MARKERS`] in a message bound for users or logs.
pub(crate) fn redact_secrets(text: &str) -> String {
    let mut out = text.to_owned();
    for marker in SECRET_MARKERS {
        let mut from = 0;
        while let Some(found) = out[from..].find(marker) {
            let start = from + found + marker.len();
            let end = out[start..]
                .find(|c: char| {
                    matches!(c, '&' | ';' | ')' | '"' | '\'' | '>') || c.is_whitespace()
                })
                .map_or(out.len(), |n| start + n);
            out.replace_range(start..end, "<redacted>");
            from = start + "<redacted>".len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_keys_are_blanked_in_messages() {
        let msg = "error sending request for url (http://127.0.0.1:9/t()?sv=2019&se=2030&sig=FAKEsig+SECRET%2Fvalue%3D): client error (Connect)";
        let red = redact_secrets(msg);
        assert!(!red.contains("FAKEsig"), "{red}");
        assert!(red.contains("sig=<redacted>): client error"), "{red}");
        let cs = "bad: DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0;EndpointSuffix=x and sig=a sig=b";
        let red = redact_secrets(cs);
        assert!(
            !red.contains("c2VjcmV0") && red.contains("AccountKey=<redacted>;EndpointSuffix"),
            "{red}"
        );
        assert_eq!(red.matches("sig=<redacted>").count(), 2, "{red}");
    }
    use azure_core_legacy::auth::TokenCredential as LegacyTokenCredential;

    #[derive(Debug)]
    struct FixedToken;

    #[async_trait::async_trait]
    impl ModernTokenCredential for FixedToken {
        async fn get_token(
            &self,
            scopes: &[&str],
            _options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
        ) -> azure_core::Result<azure_core::credentials::AccessToken> {
            assert_eq!(scopes, ["https://storage.azure.com/.default"]);
            Ok(azure_core::credentials::AccessToken::new(
                "tok-123",
                time::OffsetDateTime::UNIX_EPOCH + time::Duration::hours(1),
            ))
        }
    }

    #[derive(Debug)]
    struct Refusing;

    #[async_trait::async_trait]
    impl ModernTokenCredential for Refusing {
        async fn get_token(
            &self,
            _scopes: &[&str],
            _options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
        ) -> azure_core::Result<azure_core::credentials::AccessToken> {
            Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                "AADSTS700016: application not found",
            ))
        }
    }

    #[tokio::test]
    async fn bridge_hands_modern_tokens_to_the_legacy_client() {
        let bridge = EntraTokenBridge {
            inner: Arc::new(FixedToken),
            kind: CredentialKind::ClientSecret,
        };
        let token = bridge
            .get_token(&["https://storage.azure.com/.default"])
            .await
            .expect("token");
        assert_eq!(token.token.secret(), "tok-123");
        assert_eq!(
            token.expires_on,
            time::OffsetDateTime::UNIX_EPOCH + time::Duration::hours(1)
        );
        let failing = EntraTokenBridge {
            inner: Arc::new(Refusing),
            kind: CredentialKind::Federated,
        };
        let err = failing.get_token(&["x"]).await.expect_err("refused");
        assert_eq!(err.kind(), &LegacyErrorKind::Credential);
        assert!(error_chain(&err).contains("AADSTS700016"), "{err}");
    }

    #[tokio::test]
    async fn federated_token_file_is_read_on_each_request() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").expect("write");
        let assertion = FederatedAssertion(FederatedToken::File(path.clone()));
        assert_eq!(assertion.secret(None).await.expect("read"), "first");
        std::fs::write(&path, "rotated").expect("write");
        assert_eq!(assertion.secret(None).await.expect("read"), "rotated");
        std::fs::write(&path, "  ").expect("write");
        assert!(assertion.secret(None).await.is_err());
    }

    #[test]
    fn azure_ad_credentials_build_without_network() {
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
            Credential::ManagedIdentity { client_id: None },
            Credential::AzureCli { tenant_id: None },
        ] {
            let creds = storage_credentials(&credential, "acct").expect("credentials");
            assert!(format!("{creds:?}").contains("TokenCredential"));
        }
    }
}
