//! [`TokenSource`]: any way of getting an Azure AD token, with its tokens
//! kept per scope for the whole process until shortly before they expire
//! (the table client asks for one on every request).

use std::collections::HashMap;
use std::sync::Arc;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use time::OffsetDateTime;

use super::super::credential::CredentialKind;
use super::super::error::{error_chain, AzureError};
use crate::secret::SecretString;

/// Azure AD access tokens for any scope (storage's, Microsoft Graph's, …)
/// from one credential, cached per scope. Implements `azure_core`'s
/// [`TokenCredential`], so clients built on `azure_core` 1.x can use it.
pub struct TokenSource {
    inner: Arc<dyn TokenCredential>,
    kind: CredentialKind,
    cache: tokio::sync::Mutex<HashMap<String, CachedToken>>,
}

struct CachedToken {
    token: SecretString,
    expires_on: OffsetDateTime,
    refresh_at: OffsetDateTime,
}

impl std::fmt::Debug for TokenSource {
    // Hand-written: the cache holds bearer tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    pub(crate) fn new(inner: Arc<dyn TokenCredential>, kind: CredentialKind) -> TokenSource {
        TokenSource {
            inner,
            kind,
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The kind of credential the tokens come from (safe to print).
    pub fn kind(&self) -> CredentialKind {
        self.kind
    }

    /// A token for `scope` (e.g. `https://storage.azure.com/.default`), from
    /// the cache while it is fresh.
    pub async fn token(&self, scope: &str) -> Result<AccessToken, AzureError> {
        self.cached(&[scope])
            .await
            .map_err(|e| AzureError::Credential {
                credential: self.kind,
                message: error_chain(&e),
            })
    }

    async fn cached(&self, scopes: &[&str]) -> azure_core::Result<AccessToken> {
        let scope = scopes.join(" ");
        // One caller at a time refreshes; the others then find the new token.
        let mut cache = self.cache.lock().await;
        let now = OffsetDateTime::now_utc();
        if let Some(cached) = cache.get(&scope) {
            if now < cached.refresh_at {
                return Ok(AccessToken::new(
                    cached.token.expose().to_owned(),
                    cached.expires_on,
                ));
            }
        }
        let token = self.inner.get_token(scopes, None).await?;
        tracing::debug!(credential = %self.kind, scope, expires_on = %token.expires_on, "new Azure AD token");
        cache.insert(
            scope,
            CachedToken {
                token: SecretString::new(token.token.secret()),
                expires_on: token.expires_on,
                refresh_at: refresh_time(now, token.expires_on),
            },
        );
        Ok(token)
    }

    /// Forgets every token (the next request asks Azure AD again).
    pub async fn clear(&self) {
        self.cache.lock().await.clear();
    }
}

#[async_trait::async_trait]
impl TokenCredential for TokenSource {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        self.cached(scopes).await
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An identity for the cache: answers request `n` with a token `tok-<n>`
    /// that lives `lifetime`, or refuses as Azure AD does when there is none;
    /// remembers the scopes it was asked for.
    #[derive(Debug, Default)]
    pub(crate) struct TestIdentity {
        requests: std::sync::atomic::AtomicU32,
        lifetime: Option<time::Duration>,
        pub(crate) scopes: std::sync::Mutex<Vec<String>>,
    }

    impl TestIdentity {
        pub(crate) fn new(lifetime: Option<time::Duration>) -> Arc<TestIdentity> {
            Arc::new(TestIdentity {
                lifetime,
                ..Default::default()
            })
        }

        pub(crate) fn requests(&self) -> u32 {
            self.requests.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[async_trait::async_trait]
    impl TokenCredential for TestIdentity {
        async fn get_token(
            &self,
            scopes: &[&str],
            _options: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
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
            Ok(AccessToken::new(
                format!("tok-{n}"),
                OffsetDateTime::now_utc() + lifetime,
            ))
        }
    }

    #[tokio::test]
    async fn tokens_are_kept_per_scope_until_shortly_before_they_expire() {
        let long = TestIdentity::new(Some(time::Duration::hours(1)));
        let source = TokenSource::new(long.clone(), CredentialKind::ClientSecret);
        for _ in 0..5 {
            let t = source.token("s").await.expect("token");
            assert_eq!(t.token.secret(), "tok-0");
        }
        assert_eq!(long.requests(), 1);
        // Another scope (Microsoft Graph's) is a token of its own.
        let graph = source
            .token("https://graph.microsoft.com/.default")
            .await
            .expect("graph token");
        assert_eq!(graph.token.secret(), "tok-1");
        assert_eq!(
            source.token("s").await.expect("token").token.secret(),
            "tok-0"
        );
        assert!(!format!("{source:?}").contains("tok-0"));
        // A token about to expire is replaced before it is handed out.
        let short = TestIdentity::new(Some(time::Duration::seconds(1)));
        let source = TokenSource::new(short.clone(), CredentialKind::ClientSecret);
        source.token("s").await.expect("token");
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        let t = source.token("s").await.expect("token");
        assert_eq!(t.token.secret(), "tok-1");
        let now = OffsetDateTime::now_utc();
        assert_eq!(
            refresh_time(now, now + time::Duration::hours(1)),
            now + time::Duration::minutes(55)
        );
        let failing = TokenSource::new(TestIdentity::new(None), CredentialKind::Federated);
        let err = failing.token("x").await.expect_err("refused");
        assert!(err.to_string().contains("AADSTS700016"), "{err}");
    }
}
