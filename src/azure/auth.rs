//! Turns a [`Credential`] into the legacy storage client's credentials.
//!
//! Azure AD tokens come from the maintained `azure_identity` 1.x crate. The
//! table client is frozen on `azure_core` 0.21, whose `TokenCredential` trait
//! differs from 1.x, so [`EntraTokenBridge`] implements the old trait by
//! asking a 1.x credential (which caches and refreshes tokens itself).

use std::sync::Arc;

use azure_core::credentials::TokenCredential as ModernTokenCredential;
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions};
use azure_core_legacy::auth::{AccessToken as LegacyAccessToken, Secret as LegacySecret};
use azure_core_legacy::error::{Error as LegacyError, ErrorKind as LegacyErrorKind};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertionCredential,
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
};
use azure_storage::StorageCredentials;
use time::OffsetDateTime;

use super::credential::{Credential, CredentialKind, ParsedConnectionString, EMULATOR_KEY};
use super::error::{error_chain, AzureError};
use super::federation::FederatedAssertion;
use super::network::HttpClients;
use crate::secret::SecretString;
use crate::settings::{ConfigError, ACCESS_KEY, CONNECTION_STRING, SAS_TOKEN};

/// Adapts an `azure_identity` 1.x credential to the legacy `TokenCredential`
/// trait, and keeps the token for the whole process until shortly before it
/// expires (the legacy client asks for one on every request).
pub(crate) struct EntraTokenBridge {
    inner: Arc<dyn ModernTokenCredential>,
    kind: CredentialKind,
    cache: tokio::sync::Mutex<Option<CachedToken>>,
}

struct CachedToken {
    scope: String,
    token: SecretString,
    expires_on: OffsetDateTime,
    refresh_at: OffsetDateTime,
}

impl std::fmt::Debug for EntraTokenBridge {
    // Hand-written: the cache holds a bearer token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntraTokenBridge")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl EntraTokenBridge {
    pub(crate) fn new(inner: Arc<dyn ModernTokenCredential>, kind: CredentialKind) -> Self {
        EntraTokenBridge {
            inner,
            kind,
            cache: tokio::sync::Mutex::new(None),
        }
    }
}

/// When to ask for a new token: a quarter of its remaining life before it
/// expires, at most five minutes before (Azure AD's tokens live about an hour).
fn refresh_time(now: OffsetDateTime, expires_on: OffsetDateTime) -> OffsetDateTime {
    let remaining: time::Duration = expires_on - now;
    let quarter: time::Duration = remaining / 4i32;
    let margin = quarter.min(time::Duration::minutes(5));
    expires_on - margin.max(time::Duration::ZERO)
}

#[async_trait::async_trait]
impl azure_core_legacy::auth::TokenCredential for EntraTokenBridge {
    async fn get_token(&self, scopes: &[&str]) -> azure_core_legacy::Result<LegacyAccessToken> {
        let scope = scopes.join(" ");
        // One caller at a time refreshes; the others then find the new token.
        let mut cache = self.cache.lock().await;
        let now = OffsetDateTime::now_utc();
        if let Some(cached) = cache.as_ref() {
            if cached.scope == scope && now < cached.refresh_at {
                return Ok(LegacyAccessToken::new(
                    LegacySecret::new(cached.token.expose().to_owned()),
                    cached.expires_on,
                ));
            }
        }
        match self.inner.get_token(scopes, None).await {
            Ok(token) => {
                tracing::debug!(credential = %self.kind, expires_on = %token.expires_on, "new Azure AD token");
                *cache = Some(CachedToken {
                    scope,
                    token: SecretString::new(token.token.secret()),
                    expires_on: token.expires_on,
                    refresh_at: refresh_time(now, token.expires_on),
                });
                Ok(LegacyAccessToken::new(
                    LegacySecret::new(token.token.secret().to_owned()),
                    token.expires_on,
                ))
            }
            // The store names the credential kind around this message.
            Err(e) => Err(LegacyError::with_message(
                LegacyErrorKind::Credential,
                || error_chain(&e),
            )),
        }
    }

    async fn clear_cache(&self) -> azure_core_legacy::Result<()> {
        *self.cache.lock().await = None;
        Ok(())
    }
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

/// Builds the storage credentials for the legacy client.
pub(crate) fn storage_credentials(
    credential: &Credential,
    account: &str,
    authority_host: &str,
    http: &HttpClients,
) -> Result<StorageCredentials, AzureError> {
    let kind = credential.kind();
    // Only the three secrets below can be malformed here.
    let setting = match credential {
        Credential::SasToken(_) => &SAS_TOKEN,
        Credential::ConnectionString(_) => &CONNECTION_STRING,
        _ => &ACCESS_KEY,
    };
    let bad = |what: String| AzureError::from(ConfigError::new(setting, format!("{kind}: {what}")));
    let entra = |e: azure_core::Error| AzureError::Credential {
        credential: kind,
        message: error_chain(&e),
    };
    let bridge = |inner: Arc<dyn ModernTokenCredential>| {
        StorageCredentials::token_credential(Arc::new(EntraTokenBridge::new(inner, kind)))
    };
    let client_options = || identity_options(http, authority_host);
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
                Some(ClientSecretCredentialOptions {
                    client_options: client_options(),
                }),
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
                FederatedAssertion {
                    token: token.clone(),
                    http: http.modern.clone(),
                },
                Some(ClientAssertionCredentialOptions {
                    client_options: client_options(),
                }),
            )
            .map_err(entra)?,
        ),
        Credential::ManagedIdentity { client_id } => {
            // Managed identity endpoints are local: never through a proxy.
            let mut client_options = client_options();
            client_options.transport = Some(http.managed_identity_transport());
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                client_options,
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

#[cfg(test)]
mod tests {
    use super::*;

    use azure_core_legacy::auth::TokenCredential as LegacyTokenCredential;

    /// An identity for the bridge: answers request `n` with a token `tok-<n>`
    /// that lives `lifetime`, or refuses as Azure AD does when there is none;
    /// remembers the scopes it was asked for.
    #[derive(Debug, Default)]
    struct TestIdentity {
        requests: std::sync::atomic::AtomicU32,
        lifetime: Option<time::Duration>,
        scopes: std::sync::Mutex<Vec<String>>,
    }

    impl TestIdentity {
        fn new(lifetime: Option<time::Duration>) -> Arc<TestIdentity> {
            Arc::new(TestIdentity {
                lifetime,
                ..Default::default()
            })
        }

        fn requests(&self) -> u32 {
            self.requests.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[async_trait::async_trait]
    impl ModernTokenCredential for TestIdentity {
        async fn get_token(
            &self,
            scopes: &[&str],
            _options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
        ) -> azure_core::Result<azure_core::credentials::AccessToken> {
            if let Ok(mut seen) = self.scopes.lock() {
                seen.extend(scopes.iter().map(|s| s.to_string()));
            }
            let n = self
                .requests
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let Some(lifetime) = self.lifetime else {
                return Err(azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Credential,
                    "AADSTS700016: application not found",
                ));
            };
            Ok(azure_core::credentials::AccessToken::new(
                format!("tok-{n}"),
                OffsetDateTime::now_utc() + lifetime,
            ))
        }
    }

    #[tokio::test]
    async fn bridge_hands_modern_tokens_to_the_legacy_client() {
        let identity = TestIdentity::new(Some(time::Duration::hours(1)));
        let bridge = EntraTokenBridge::new(identity.clone(), CredentialKind::ClientSecret);
        let before = OffsetDateTime::now_utc();
        let token = bridge
            .get_token(&["https://storage.azure.com/.default"])
            .await
            .expect("token");
        assert_eq!(token.token.secret(), "tok-0");
        let lifetime = token.expires_on - before;
        assert!(
            lifetime > time::Duration::minutes(59) && lifetime < time::Duration::minutes(61),
            "{lifetime}"
        );
        assert_eq!(
            *identity.scopes.lock().expect("scopes"),
            ["https://storage.azure.com/.default"]
        );
        let failing = EntraTokenBridge::new(TestIdentity::new(None), CredentialKind::Federated);
        let err = failing.get_token(&["x"]).await.expect_err("refused");
        assert_eq!(err.kind(), &LegacyErrorKind::Credential);
        assert!(error_chain(&err).contains("AADSTS700016"), "{err}");
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
                token: crate::azure::FederatedToken::Value("jwt".into()),
            },
            Credential::ManagedIdentity { client_id: None },
            Credential::AzureCli { tenant_id: None },
        ] {
            let http = HttpClients::new(None).expect("clients");
            let creds = storage_credentials(
                &credential,
                "acct",
                "https://login.microsoftonline.com",
                &http,
            )
            .expect("credentials");
            assert!(format!("{creds:?}").contains("TokenCredential"));
        }
    }

    #[tokio::test]
    async fn bridge_keeps_a_token_until_shortly_before_it_expires() {
        let long = TestIdentity::new(Some(time::Duration::hours(1)));
        let bridge = EntraTokenBridge::new(long.clone(), CredentialKind::ClientSecret);
        for _ in 0..5 {
            let t = bridge.get_token(&["s"]).await.expect("token");
            assert_eq!(t.token.secret(), "tok-0");
        }
        assert_eq!(long.requests(), 1);
        assert!(!format!("{bridge:?}").contains("tok-0"));
        // A token about to expire is replaced before it is handed out.
        let short = TestIdentity::new(Some(time::Duration::seconds(1)));
        let bridge = EntraTokenBridge::new(short.clone(), CredentialKind::ClientSecret);
        bridge.get_token(&["s"]).await.expect("token");
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        let t = bridge.get_token(&["s"]).await.expect("token");
        assert_eq!(t.token.secret(), "tok-1");
        let now = OffsetDateTime::now_utc();
        assert_eq!(
            refresh_time(now, now + time::Duration::hours(1)),
            now + time::Duration::minutes(55)
        );
    }
}
