//! Where the pool lives and how to sign in: the global flags, which mirror the
//! provider's settings, turned into a `StoreSettings` that falls back to the
//! same environment variables. Secrets are never flags (they would land in
//! shell history); they come only from the environment, and
//! [`scrub_secrets`] blanks them out of anything printed.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use rootmail::store::{AliasPool, RetryBudget, StoreSettings};

use crate::duration::parse_duration;

/// Connection flags, accepted before or after the subcommand.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connection (secrets only from environment variables)")]
pub struct ConnectionArgs {
    /// Storage account name [env: AZURE_STORAGE_ACCOUNT]
    #[arg(long, global = true, value_name = "NAME")]
    pub storage_account: Option<String>,
    /// Full table endpoint, e.g. Azurite's http://127.0.0.1:10002/devstoreaccount1 [env: ROOTMAIL_TABLE_ENDPOINT]
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Table name (default awsrootaccounts) [env: ROOTMAIL_TABLE_NAME]
    #[arg(long, global = true, value_name = "NAME")]
    pub table: Option<String>,
    /// Partition key (default root) [env: ROOTMAIL_PARTITION_KEY]
    #[arg(long, global = true, value_name = "KEY")]
    pub partition_key: Option<String>,
    /// Use the Azurite emulator's well-known account and key [env: ROOTMAIL_USE_EMULATOR]
    #[arg(long, global = true)]
    pub use_emulator: bool,
    /// Only Azure AD credentials, never keys or SAS [env: ARM_USE_AZUREAD]
    #[arg(long, global = true)]
    pub use_azuread: bool,
    /// Azure AD token from the logged-in Azure CLI [env: ARM_USE_CLI]
    #[arg(long, global = true)]
    pub use_cli: bool,
    /// Azure AD managed identity (user-assigned: with --client-id) [env: ARM_USE_MSI]
    #[arg(long, global = true)]
    pub use_msi: bool,
    /// Azure AD workload identity; token from ARM_OIDC_TOKEN, ARM_OIDC_TOKEN_FILE_PATH,
    /// Azure DevOps (with a service connection) or GitHub Actions [env: ARM_USE_OIDC]
    #[arg(long, global = true)]
    pub use_oidc: bool,
    /// Azure DevOps service connection to request the OIDC token for
    /// [env: ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID]
    #[arg(long, global = true, value_name = "ID")]
    pub ado_pipeline_service_connection_id: Option<String>,
    /// Azure cloud: public, usgovernment or china [env: ARM_ENVIRONMENT]
    #[arg(long, global = true, value_name = "NAME")]
    pub environment: Option<String>,
    /// Azure AD tenant [env: ARM_TENANT_ID]
    #[arg(long, global = true, value_name = "ID")]
    pub tenant_id: Option<String>,
    /// Azure AD application (client) id [env: ARM_CLIENT_ID]
    #[arg(long, global = true, value_name = "ID")]
    pub client_id: Option<String>,
    /// File holding the OIDC token (not the token itself) [env: ARM_OIDC_TOKEN_FILE_PATH]
    #[arg(long, global = true, value_name = "PATH")]
    pub oidc_token_file_path: Option<PathBuf>,
    /// How long to keep retrying when the table service is throttling or
    /// unreachable, e.g. 30s or 2m (default 60s)
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub retry_for: Option<Duration>,
}

impl ConnectionArgs {
    /// The explicit settings; everything left unset falls back to the
    /// environment in `StoreSettings::resolve`. Boolean flags only ever turn
    /// something on, so an absent flag leaves the environment in charge.
    pub fn settings(&self) -> StoreSettings {
        let on = |flag: bool| flag.then_some(true);
        StoreSettings {
            account: self.storage_account.clone(),
            endpoint: self.endpoint.clone(),
            table: self.table.clone(),
            partition_key: self.partition_key.clone(),
            tenant_id: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            oidc_token_file_path: self.oidc_token_file_path.clone(),
            ado_service_connection_id: self.ado_pipeline_service_connection_id.clone(),
            environment: self.environment.clone(),
            use_oidc: on(self.use_oidc),
            use_msi: on(self.use_msi),
            use_cli: on(self.use_cli),
            use_azuread: on(self.use_azuread),
            use_emulator: on(self.use_emulator),
            retry: self.retry_for.map(|total| {
                let default = RetryBudget::default();
                RetryBudget {
                    total,
                    per_request: default.per_request.min(total.max(Duration::from_secs(1))),
                    ..default
                }
            }),
            ..StoreSettings::default()
        }
    }

    /// Resolves the settings with the process environment and builds the
    /// client (no request is sent yet). Ctrl-C cancels in-flight requests.
    pub fn connect(&self) -> anyhow::Result<AliasPool> {
        let config = self
            .settings()
            .resolve(&|name| std::env::var(name).ok())
            .context("cannot tell which table to use")?;
        tracing::info!(
            endpoint = %config.endpoint,
            table = %config.table,
            partition_key = %config.partition_key,
            credential = %config.credential.kind(),
            "connecting to the alias pool"
        );
        let pool = AliasPool::connect(&config).context("cannot set up the table client")?;
        let cancel = pool.cancellation();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        });
        Ok(pool)
    }
}

/// Environment variables whose values are secrets.
const SECRET_VARIABLES: &[&str] = &[
    "AZURE_STORAGE_CONNECTION_STRING",
    "ARM_ACCESS_KEY",
    "AZURE_STORAGE_KEY",
    "ARM_SAS_TOKEN",
    "AZURE_STORAGE_SAS_TOKEN",
    "ARM_CLIENT_SECRET",
    "AZURE_CLIENT_SECRET",
    "ARM_OIDC_TOKEN",
    "ARM_OIDC_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "SYSTEM_ACCESSTOKEN",
];

/// Replaces every secret found in the environment (whole values, the key and
/// SAS parts of a connection string, a SAS signature, and their URL-encoded
/// forms) with `<redacted>`.
pub fn scrub_secrets(text: &str) -> String {
    let values: Vec<String> = SECRET_VARIABLES
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .collect();
    scrub_with(text, &values)
}

fn scrub_with(text: &str, secret_values: &[String]) -> String {
    let mut needles: Vec<String> = Vec::new();
    for value in secret_values {
        needles.push(value.clone());
        // Parts of a connection string or a SAS query: `AccountKey=…`, `sig=…`.
        for part in value.split([';', '&', '?']) {
            if let Some((name, v)) = part.split_once('=') {
                let name = name.trim();
                if matches!(name, "AccountKey" | "SharedAccessSignature" | "sig") {
                    needles.push(v.to_owned());
                }
            }
        }
    }
    let mut all: Vec<String> = Vec::new();
    for n in needles {
        let n = n.trim().to_owned();
        // Very short values would blank out ordinary words; no real key is this short.
        if n.len() < 6 {
            continue;
        }
        let encoded: String = url::form_urlencoded::byte_serialize(n.as_bytes()).collect();
        all.push(n);
        all.push(encoded);
    }
    // Longest first, so a whole value goes before a part of it.
    all.sort_by_key(|n| std::cmp::Reverse(n.len()));
    all.dedup();
    let mut out = text.to_owned();
    for n in &all {
        if out.contains(n.as_str()) {
            out = out.replace(n.as_str(), "<redacted>");
        }
    }
    redact_parameters(&out)
}

/// Blanks credential values wherever they appear (`sig=`, `AccountKey=`,
/// bearer tokens, …): URLs in error chains encode a SAS signature in ways
/// that exact matching cannot foresee.
fn redact_parameters(text: &str) -> String {
    rootmail::redact::redact_credentials(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_whole_values_parts_and_encoded_forms() {
        let secrets = vec![
            "AccountName=a;AccountKey=S3cr3t+Key/xyz==;EndpointSuffix=x".to_owned(),
            "sv=2020&sig=AbC+dEf/ghi%3D".to_owned(),
        ];
        let text = "failed: key S3cr3t+Key/xyz== and S3cr3t%2BKey%2Fxyz%3D%3D, \
                    url https://a/?sv=2020&sig=AbC+dEf/ghi%3D done";
        let out = scrub_with(text, &secrets);
        assert!(!out.contains("S3cr3t"), "{out}");
        assert!(!out.contains("AbC"), "{out}");
        assert!(out.contains("done"));
    }

    #[test]
    fn signatures_in_urls_are_blanked_however_encoded() {
        let text = "url (http://h/t()?sv=1&sig=FAKEsig+SECRET%2Fvalue%3D): refused; \
                    AccountKey=abc; sig=<redacted>";
        let out = scrub_with(text, &[]);
        assert!(!out.contains("FAKEsig") && !out.contains("abc"), "{out}");
        assert!(out.contains("sv=1&sig=<redacted>): refused"), "{out}");
        assert!(out.ends_with("sig=<redacted>"), "{out}");
    }

    #[test]
    fn short_values_are_left_alone() {
        assert_eq!(scrub_with("a b c", &["a".to_owned()]), "a b c");
    }

    #[test]
    fn flags_only_turn_things_on() {
        let args = ConnectionArgs {
            storage_account: Some("acct".into()),
            endpoint: None,
            table: None,
            partition_key: None,
            use_emulator: false,
            use_azuread: false,
            use_cli: true,
            use_msi: false,
            use_oidc: false,
            ado_pipeline_service_connection_id: None,
            environment: None,
            tenant_id: None,
            client_id: None,
            oidc_token_file_path: None,
            retry_for: Some(Duration::from_secs(5)),
        };
        let s = args.settings();
        assert_eq!(s.use_cli, Some(true));
        assert_eq!(s.use_emulator, None);
        assert_eq!(s.access_key, None);
        let retry = s.retry.expect("retry");
        assert_eq!(retry.total, Duration::from_secs(5));
        assert_eq!(retry.per_request, Duration::from_secs(5));
    }
}
