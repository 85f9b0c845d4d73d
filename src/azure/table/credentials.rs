//! Turns a [`Credential`] into the legacy table client's credentials: the
//! storage account's own (key, SAS, connection string, the emulator's key),
//! or Azure AD tokens for storage's scope from a [`TokenSource`].
//!
//! The table client is frozen on `azure_core` 0.21, whose `TokenCredential`
//! trait differs from 1.x, so [`LegacyTokenBridge`] implements the old trait
//! by asking the token source (which caches and refreshes tokens itself).

use std::sync::Arc;

use azure_core_legacy::auth::{AccessToken as LegacyAccessToken, Secret as LegacySecret};
use azure_core_legacy::error::{Error as LegacyError, ErrorKind as LegacyErrorKind};
use azure_storage::StorageCredentials;

use super::super::credential::{Credential, ParsedConnectionString, EMULATOR_KEY};
use super::super::error::{error_chain, AzureError};
use super::super::network::HttpClients;
use super::super::token::TokenSource;
use crate::settings::{ConfigError, ACCESS_KEY, CONNECTION_STRING, SAS_TOKEN};

/// A [`TokenSource`] behind the legacy `TokenCredential` trait.
#[derive(Debug)]
pub(crate) struct LegacyTokenBridge(Arc<TokenSource>);

#[async_trait::async_trait]
impl azure_core_legacy::auth::TokenCredential for LegacyTokenBridge {
    async fn get_token(&self, scopes: &[&str]) -> azure_core_legacy::Result<LegacyAccessToken> {
        use azure_core::credentials::TokenCredential as _;
        match self.0.get_token(scopes, None).await {
            Ok(token) => Ok(LegacyAccessToken::new(
                LegacySecret::new(token.token.secret().to_owned()),
                token.expires_on,
            )),
            // The table client names the credential kind around this message.
            Err(e) => Err(LegacyError::with_message(
                LegacyErrorKind::Credential,
                || error_chain(&e),
            )),
        }
    }

    async fn clear_cache(&self) -> azure_core_legacy::Result<()> {
        self.0.clear().await;
        Ok(())
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
    if let Some(source) = TokenSource::for_credential(credential, authority_host, http)? {
        return Ok(StorageCredentials::token_credential(Arc::new(
            LegacyTokenBridge(Arc::new(source)),
        )));
    }
    Ok(match credential {
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
        // The emulator, and (unreachable) any Azure AD kind.
        _ => StorageCredentials::access_key(account, LegacySecret::new(EMULATOR_KEY)),
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
    use crate::azure::token::cached_tests::TestIdentity;
    use crate::azure::CredentialKind;
    use azure_core_legacy::auth::TokenCredential as LegacyTokenCredential;

    #[tokio::test]
    async fn the_bridge_hands_modern_tokens_to_the_legacy_client() {
        let identity = TestIdentity::new(Some(time::Duration::hours(1)));
        let bridge = LegacyTokenBridge(Arc::new(TokenSource::new(
            identity.clone(),
            CredentialKind::ClientSecret,
        )));
        let before = time::OffsetDateTime::now_utc();
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
        let failing = LegacyTokenBridge(Arc::new(TokenSource::new(
            TestIdentity::new(None),
            CredentialKind::Federated,
        )));
        let err = failing.get_token(&["x"]).await.expect_err("refused");
        assert_eq!(err.kind(), &LegacyErrorKind::Credential);
        assert!(error_chain(&err).contains("AADSTS700016"), "{err}");
    }

    #[test]
    fn azure_ad_credentials_become_token_credentials() {
        let http = HttpClients::new(None).expect("clients");
        let credential = Credential::AzureCli { tenant_id: None };
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
