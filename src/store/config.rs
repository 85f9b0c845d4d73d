//! Where the pool lives and how to authenticate: [`StoreSettings`] (what a
//! user set, all optional), resolved with environment fallbacks into a
//! [`StoreConfig`]. See the table in the module docs of [`crate::store`] for the
//! exact variables. Secrets are held in [`SecretString`], which never prints.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::cloud::check_authority_host;
pub use super::cloud::CloudEnvironment;
pub use super::credential::{Credential, CredentialKind, FederatedToken};
use super::error::StoreError;

/// The table the legacy tools use.
pub const DEFAULT_TABLE: &str = "awsrootaccounts";
/// The partition every legacy row lives in.
pub const DEFAULT_PARTITION_KEY: &str = "root";
/// Azurite's well-known account (documented publicly; not a secret).
pub const EMULATOR_ACCOUNT: &str = "devstoreaccount1";
pub(crate) const EMULATOR_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// Azurite's default table endpoint.
pub const EMULATOR_ENDPOINT: &str = "http://127.0.0.1:10002/devstoreaccount1";

/// A secret value: usable, but `Debug` and `Display` show `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> SecretString {
        SecretString(value.into())
    }
    /// The secret itself; only for handing to the client, never for messages.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        SecretString::new(s)
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        SecretString::new(s)
    }
}

/// Retry and timeout limits for every table request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBudget {
    /// Total time one operation may spend retrying throttling/5xx/network errors.
    pub total: Duration,
    /// Limit for one HTTP round trip (including reading the body).
    pub per_request: Duration,
    /// First backoff; doubles per attempt, with full jitter.
    pub initial_backoff: Duration,
    /// Largest single backoff.
    pub max_backoff: Duration,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget {
            total: Duration::from_secs(60),
            per_request: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// A fully resolved store configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Storage account name (needed for shared-key signing; informative otherwise).
    pub account: String,
    /// The table service endpoint, e.g. `https://acct.table.core.windows.net`
    /// or `http://127.0.0.1:10002/devstoreaccount1`.
    pub endpoint: String,
    pub table: String,
    pub partition_key: String,
    pub credential: Credential,
    pub retry: RetryBudget,
    /// How many free candidates one claim query fetches.
    pub claim_page_size: u32,
    /// Where Azure AD tokens come from, e.g. `https://login.microsoftonline.com`.
    pub authority_host: String,
    /// Extra CA certificates (PEM) trusted by every HTTP client (`SSL_CERT_FILE`).
    pub ca_file: Option<PathBuf>,
}

impl StoreConfig {
    /// Azurite with its well-known account at `endpoint` (e.g. the test helper's endpoint).
    pub fn emulator(endpoint: impl Into<String>, table: impl Into<String>) -> StoreConfig {
        StoreConfig {
            account: EMULATOR_ACCOUNT.to_owned(),
            endpoint: endpoint.into(),
            table: table.into(),
            partition_key: DEFAULT_PARTITION_KEY.to_owned(),
            credential: Credential::Emulator,
            retry: RetryBudget::default(),
            claim_page_size: DEFAULT_CLAIM_PAGE_SIZE,
            authority_host: CloudEnvironment::Public.authority_host().to_owned(),
            ca_file: None,
        }
    }

    /// Resolves from environment variables only.
    pub fn from_env() -> Result<StoreConfig, StoreError> {
        StoreSettings::default().resolve(&|name| std::env::var(name).ok())
    }
}

pub(crate) const DEFAULT_CLAIM_PAGE_SIZE: u32 = 50;

/// What a user configured explicitly; every field optional. Unset fields fall
/// back to the environment in [`StoreSettings::resolve`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreSettings {
    pub account: Option<String>,
    pub endpoint: Option<String>,
    pub table: Option<String>,
    pub partition_key: Option<String>,
    pub connection_string: Option<SecretString>,
    pub access_key: Option<SecretString>,
    pub sas_token: Option<SecretString>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub use_oidc: Option<bool>,
    pub oidc_token: Option<SecretString>,
    pub oidc_token_file_path: Option<PathBuf>,
    /// Where to request the OIDC token (GitHub Actions or Azure DevOps).
    pub oidc_request_url: Option<String>,
    /// The bearer token for that request.
    pub oidc_request_token: Option<SecretString>,
    /// The Azure DevOps service connection to request the OIDC token for.
    pub ado_service_connection_id: Option<String>,
    /// `public`, `usgovernment` or `china`.
    pub environment: Option<String>,
    /// Overrides the environment's Azure AD authority.
    pub authority_host: Option<String>,
    /// Extra CA certificates (PEM) for every HTTP client.
    pub ca_file: Option<PathBuf>,
    pub use_msi: Option<bool>,
    pub use_cli: Option<bool>,
    pub use_azuread: Option<bool>,
    pub use_emulator: Option<bool>,
    pub retry: Option<RetryBudget>,
    pub claim_page_size: Option<u32>,
}

/// Environment variable names, in fallback order per setting.
pub mod env {
    pub const ACCOUNT: &[&str] = &["AZURE_STORAGE_ACCOUNT", "ROOTMAIL_STORAGE_ACCOUNT"];
    pub const ENDPOINT: &[&str] = &["ROOTMAIL_TABLE_ENDPOINT"];
    pub const TABLE: &[&str] = &["ROOTMAIL_TABLE_NAME"];
    pub const PARTITION_KEY: &[&str] = &["ROOTMAIL_PARTITION_KEY"];
    pub const CONNECTION_STRING: &[&str] = &["AZURE_STORAGE_CONNECTION_STRING"];
    pub const ACCESS_KEY: &[&str] = &["ARM_ACCESS_KEY", "AZURE_STORAGE_KEY"];
    pub const SAS_TOKEN: &[&str] = &["ARM_SAS_TOKEN", "AZURE_STORAGE_SAS_TOKEN"];
    pub const TENANT_ID: &[&str] = &["ARM_TENANT_ID", "AZURE_TENANT_ID"];
    pub const CLIENT_ID: &[&str] = &["ARM_CLIENT_ID", "AZURE_CLIENT_ID"];
    pub const CLIENT_SECRET: &[&str] = &["ARM_CLIENT_SECRET", "AZURE_CLIENT_SECRET"];
    pub const USE_OIDC: &[&str] = &["ARM_USE_OIDC"];
    pub const OIDC_TOKEN: &[&str] = &["ARM_OIDC_TOKEN"];
    pub const OIDC_TOKEN_FILE_PATH: &[&str] =
        &["ARM_OIDC_TOKEN_FILE_PATH", "AZURE_FEDERATED_TOKEN_FILE"];
    /// Tried first for both pipelines; then [`GITHUB_REQUEST_URL`] or
    /// [`ADO_REQUEST_URL`] depending on whether a service connection is set.
    pub const OIDC_REQUEST_URL: &[&str] = &["ARM_OIDC_REQUEST_URL"];
    pub const OIDC_REQUEST_TOKEN: &[&str] = &["ARM_OIDC_REQUEST_TOKEN"];
    pub const GITHUB_REQUEST_URL: &[&str] = &["ACTIONS_ID_TOKEN_REQUEST_URL"];
    pub const GITHUB_REQUEST_TOKEN: &[&str] = &["ACTIONS_ID_TOKEN_REQUEST_TOKEN"];
    pub const ADO_REQUEST_URL: &[&str] = &["SYSTEM_OIDCREQUESTURI"];
    pub const ADO_REQUEST_TOKEN: &[&str] = &["SYSTEM_ACCESSTOKEN"];
    pub const ADO_SERVICE_CONNECTION_ID: &[&str] = &[
        "ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID",
        "ARM_OIDC_AZURE_SERVICE_CONNECTION_ID",
    ];
    pub const ENVIRONMENT: &[&str] = &["ARM_ENVIRONMENT"];
    pub const AUTHORITY_HOST: &[&str] = &["AZURE_AUTHORITY_HOST"];
    pub const CA_FILE: &[&str] = &["SSL_CERT_FILE"];
    pub const USE_MSI: &[&str] = &["ARM_USE_MSI"];
    pub const USE_CLI: &[&str] = &["ARM_USE_CLI"];
    pub const USE_AZUREAD: &[&str] = &["ARM_USE_AZUREAD"];
    pub const USE_EMULATOR: &[&str] = &["ROOTMAIL_USE_EMULATOR"];
}

impl StoreSettings {
    /// Fills unset fields from the environment (`lookup` is `std::env::var` in
    /// production, a map in tests) and picks one credential.
    ///
    /// Explicit settings win twice over: field by field, and a credential that
    /// the explicit settings alone define is used even if the environment
    /// defines another kind.
    pub fn resolve(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<StoreConfig, StoreError> {
        let from_env = |names: &[&str]| -> Option<String> {
            names
                .iter()
                .filter_map(|n| lookup(n))
                .map(|v| v.trim().to_owned())
                .find(|v| !v.is_empty())
        };
        let flag = |names: &[&str]| -> Result<Option<bool>, StoreError> {
            match from_env(names) {
                None => Ok(None),
                Some(v) => parse_bool(&v).map(Some).ok_or_else(|| {
                    StoreError::Config(format!(
                        "{} must be true or false, got `{v}`",
                        names.first().copied().unwrap_or("flag")
                    ))
                }),
            }
        };
        let ado_service_connection_id = self
            .ado_service_connection_id
            .clone()
            .or_else(|| from_env(env::ADO_SERVICE_CONNECTION_ID));
        // A service connection means Azure DevOps; otherwise GitHub Actions.
        let (pipeline_url, pipeline_token) = if ado_service_connection_id.is_some() {
            (env::ADO_REQUEST_URL, env::ADO_REQUEST_TOKEN)
        } else {
            (env::GITHUB_REQUEST_URL, env::GITHUB_REQUEST_TOKEN)
        };
        let merged = StoreSettings {
            account: self.account.clone().or_else(|| from_env(env::ACCOUNT)),
            endpoint: self.endpoint.clone().or_else(|| from_env(env::ENDPOINT)),
            table: self.table.clone().or_else(|| from_env(env::TABLE)),
            partition_key: self
                .partition_key
                .clone()
                .or_else(|| from_env(env::PARTITION_KEY)),
            connection_string: self
                .connection_string
                .clone()
                .or_else(|| from_env(env::CONNECTION_STRING).map(SecretString::new)),
            access_key: self
                .access_key
                .clone()
                .or_else(|| from_env(env::ACCESS_KEY).map(SecretString::new)),
            sas_token: self
                .sas_token
                .clone()
                .or_else(|| from_env(env::SAS_TOKEN).map(SecretString::new)),
            tenant_id: self.tenant_id.clone().or_else(|| from_env(env::TENANT_ID)),
            client_id: self.client_id.clone().or_else(|| from_env(env::CLIENT_ID)),
            client_secret: self
                .client_secret
                .clone()
                .or_else(|| from_env(env::CLIENT_SECRET).map(SecretString::new)),
            use_oidc: self.use_oidc.or(flag(env::USE_OIDC)?),
            oidc_token: self
                .oidc_token
                .clone()
                .or_else(|| from_env(env::OIDC_TOKEN).map(SecretString::new)),
            oidc_token_file_path: self
                .oidc_token_file_path
                .clone()
                .or_else(|| from_env(env::OIDC_TOKEN_FILE_PATH).map(PathBuf::from)),
            oidc_request_url: self
                .oidc_request_url
                .clone()
                .or_else(|| from_env(env::OIDC_REQUEST_URL))
                .or_else(|| from_env(pipeline_url)),
            oidc_request_token: self.oidc_request_token.clone().or_else(|| {
                from_env(env::OIDC_REQUEST_TOKEN)
                    .or_else(|| from_env(pipeline_token))
                    .map(SecretString::new)
            }),
            ado_service_connection_id,
            environment: self
                .environment
                .clone()
                .or_else(|| from_env(env::ENVIRONMENT)),
            authority_host: self
                .authority_host
                .clone()
                .or_else(|| from_env(env::AUTHORITY_HOST)),
            ca_file: self
                .ca_file
                .clone()
                .or_else(|| from_env(env::CA_FILE).map(PathBuf::from)),
            use_msi: self.use_msi.or(flag(env::USE_MSI)?),
            use_cli: self.use_cli.or(flag(env::USE_CLI)?),
            use_azuread: self.use_azuread.or(flag(env::USE_AZUREAD)?),
            use_emulator: self.use_emulator.or(flag(env::USE_EMULATOR)?),
            retry: self.retry,
            claim_page_size: self.claim_page_size,
        };
        // The explicit settings choose the method if they define one; its
        // details may still come from the environment.
        let method = match self.choose_method(false).or(merged.choose_method(true)) {
            Some(m) => m,
            None => {
                return Err(StoreError::Config(
                    "no credential configured: set a connection string, an access key, a SAS \
                     token, or Azure AD settings (client secret, OIDC, managed identity or \
                     Azure CLI), or use the emulator"
                        .to_owned(),
                ))
            }
        };
        let credential = merged.build_credential(method)?;
        merged.into_config(credential)
    }

    fn into_config(self, credential: Credential) -> Result<StoreConfig, StoreError> {
        let table = self.table.unwrap_or_else(|| DEFAULT_TABLE.to_owned());
        validate_table_name(&table)?;
        let partition_key = self
            .partition_key
            .unwrap_or_else(|| DEFAULT_PARTITION_KEY.to_owned());
        validate_key("partition key", &partition_key)?;

        // The connection string may name the account and the endpoint itself.
        let (cs_account, cs_endpoint) = match &credential {
            Credential::ConnectionString(cs) => {
                let parsed = ParsedConnectionString::parse(cs.expose())?;
                (parsed.account, parsed.table_endpoint)
            }
            _ => (None, None),
        };
        let cloud = match &self.environment {
            Some(name) => CloudEnvironment::parse(name).ok_or_else(|| {
                StoreError::Config(format!(
                    "unknown Azure environment `{name}` (ARM_ENVIRONMENT / `environment`): use \
                     public, usgovernment or china"
                ))
            })?,
            None => CloudEnvironment::Public,
        };
        let authority_host = match &self.authority_host {
            Some(host) => check_authority_host(host)?,
            None => cloud.authority_host().to_owned(),
        };
        let emulator = matches!(credential, Credential::Emulator);
        let account = self
            .account
            .or(cs_account)
            .or_else(|| emulator.then(|| EMULATOR_ACCOUNT.to_owned()));
        let from_connection_string = self.endpoint.is_none() && cs_endpoint.is_some();
        let endpoint = self.endpoint.or(cs_endpoint).or_else(|| {
            if emulator {
                Some(EMULATOR_ENDPOINT.to_owned())
            } else {
                account
                    .as_ref()
                    .map(|a| format!("https://{a}.table.{}", cloud.storage_suffix()))
            }
        });
        let endpoint = endpoint.ok_or_else(|| {
            StoreError::Config(
                "no storage account: set the account name (AZURE_STORAGE_ACCOUNT) or the table \
                 endpoint (ROOTMAIL_TABLE_ENDPOINT)"
                    .to_owned(),
            )
        })?;
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&endpoint).map_err(|e| {
            StoreError::Config(format!("table endpoint `{endpoint}` is not a URL: {e}"))
        })?;
        if let Err(why) = check_transport(&parsed, &credential) {
            // Name the setting the endpoint came from, so the user knows what to change.
            let setting = if from_connection_string {
                "the connection_string (AZURE_STORAGE_CONNECTION_STRING) sets                  DefaultEndpointsProtocol=http or an http TableEndpoint"
            } else {
                "the endpoint setting (ROOTMAIL_TABLE_ENDPOINT, --endpoint) is an http:// URL"
            };
            return Err(StoreError::Config(format!(
                "{setting}: {why}. Use https://, or point it at a loopback address \
                 (127.0.0.1, ::1, localhost) for a local emulator"
            )));
        }
        let account = match account {
            Some(a) => a,
            None => account_from_endpoint(&parsed).ok_or_else(|| {
                StoreError::Config(format!(
                    "cannot tell the storage account name from endpoint `{endpoint}`; set it \
                     explicitly"
                ))
            })?,
        };
        if matches!(credential, Credential::SharedKey { .. }) && account.is_empty() {
            return Err(StoreError::Config(
                "a shared key needs the storage account name".to_owned(),
            ));
        }
        Ok(StoreConfig {
            account,
            endpoint,
            table,
            partition_key,
            credential,
            retry: self.retry.unwrap_or_default(),
            claim_page_size: self
                .claim_page_size
                .unwrap_or(DEFAULT_CLAIM_PAGE_SIZE)
                .clamp(1, 1000),
            authority_host,
            ca_file: self.ca_file,
        })
    }
}

/// Plain http sends the credential (a SAS signature in every URL, a shared
/// key's signature or a bearer token in every header) readable by anyone on
/// the path, so it is accepted only where nobody else is on the path: a
/// loopback host, or the emulator's well-known (public) key.
pub(crate) fn check_transport(url: &url::Url, credential: &Credential) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) || credential.is_emulator() => Ok(()),
        "http" => Err(format!(
            "plain http to `{}` would send {} in clear text",
            url.host_str().unwrap_or_default(),
            credential.kind()
        )),
        other => Err(format!(
            "the table endpoint must be an https:// URL, not {other}://"
        )),
    }
}

/// 127.0.0.0/8, ::1 and `localhost` (and its subdomains, which resolve to
/// loopback by RFC 6761).
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => false,
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The first DNS label of `acct.table.core.windows.net`, or the first path
/// segment of a path-style (emulator) endpoint.
fn account_from_endpoint(url: &url::Url) -> Option<String> {
    let host = url.host_str()?;
    let is_ip_or_local = host.parse::<std::net::IpAddr>().is_ok() || host == "localhost";
    if is_ip_or_local {
        return url
            .path_segments()
            .and_then(|mut s| s.next())
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
    }
    host.split('.').next().map(str::to_owned)
}

/// Table names: 3–63 letters and digits, starting with a letter.
pub(crate) fn validate_table_name(name: &str) -> Result<(), StoreError> {
    let ok = (3..=63).contains(&name.len())
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidInput {
            field: "table name",
            reason: format!(
                "`{name}` is not a valid table name (3-63 letters and digits, starting with a \
                 letter)"
            ),
        })
    }
}

/// PartitionKey/RowKey values: the characters Azure forbids in keys are refused.
pub(crate) fn validate_key(field: &'static str, value: &str) -> Result<(), StoreError> {
    let bad = value.is_empty()
        || value.len() > 512
        || value
            .chars()
            .any(|c| matches!(c, '/' | '\\' | '#' | '?') || c.is_control());
    if bad {
        Err(StoreError::InvalidInput {
            field,
            reason: "must be 1-512 characters without / \\ # ? or control characters".to_owned(),
        })
    } else {
        Ok(())
    }
}

/// The parts of a connection string the store uses.
pub(crate) struct ParsedConnectionString {
    pub account: Option<String>,
    pub key: Option<SecretString>,
    pub sas: Option<SecretString>,
    pub table_endpoint: Option<String>,
    pub use_development_storage: bool,
}

impl ParsedConnectionString {
    pub(crate) fn parse(text: &str) -> Result<ParsedConnectionString, StoreError> {
        let mut out = ParsedConnectionString {
            account: None,
            key: None,
            sas: None,
            table_endpoint: None,
            use_development_storage: false,
        };
        let mut protocol = "https".to_owned();
        let mut suffix = "core.windows.net".to_owned();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            // Values (keys, SAS) may contain '=', so split at the first one only.
            let (name, value) = part.split_once('=').ok_or_else(|| {
                StoreError::Config("connection string has a part without `=`".to_owned())
            })?;
            match name.trim() {
                "AccountName" => out.account = Some(value.to_owned()),
                "AccountKey" => out.key = Some(SecretString::new(value)),
                "SharedAccessSignature" => out.sas = Some(SecretString::new(value)),
                "TableEndpoint" => {
                    out.table_endpoint = Some(value.trim_end_matches('/').to_owned())
                }
                "DefaultEndpointsProtocol" => protocol = value.to_owned(),
                "EndpointSuffix" => suffix = value.to_owned(),
                "UseDevelopmentStorage" => {
                    out.use_development_storage = parse_bool(value).unwrap_or(false)
                }
                _ => {}
            }
        }
        if out.use_development_storage {
            out.account
                .get_or_insert_with(|| EMULATOR_ACCOUNT.to_owned());
            out.key
                .get_or_insert_with(|| SecretString::new(EMULATOR_KEY));
            out.table_endpoint
                .get_or_insert_with(|| EMULATOR_ENDPOINT.to_owned());
        }
        if out.table_endpoint.is_none() {
            if let Some(a) = &out.account {
                out.table_endpoint = Some(format!("{protocol}://{a}.table.{suffix}"));
            }
        }
        if out.key.is_none() && out.sas.is_none() {
            return Err(StoreError::Config(
                "connection string has neither AccountKey nor SharedAccessSignature".to_owned(),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// An environment made of `vars`, for the settings readers (also used by
    /// `credential`'s tests).
    pub(in crate::store) fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn access_key_from_arm_env() {
        let cfg = StoreSettings::default()
            .resolve(&lookup(&[
                ("AZURE_STORAGE_ACCOUNT", "acct"),
                ("ARM_ACCESS_KEY", "c2VjcmV0"),
            ]))
            .expect("config");
        assert_eq!(cfg.account, "acct");
        assert_eq!(cfg.endpoint, "https://acct.table.core.windows.net");
        assert_eq!(cfg.table, DEFAULT_TABLE);
        assert_eq!(cfg.partition_key, DEFAULT_PARTITION_KEY);
        assert_eq!(cfg.credential.kind(), CredentialKind::SharedKey);
    }

    #[test]
    fn explicit_credential_beats_environment() {
        let explicit = StoreSettings {
            account: Some("acct".into()),
            tenant_id: Some("t".into()),
            client_id: Some("c".into()),
            client_secret: Some("s".into()),
            ..Default::default()
        };
        let cfg = explicit
            .resolve(&lookup(&[("ARM_ACCESS_KEY", "k")]))
            .expect("config");
        assert_eq!(cfg.credential.kind(), CredentialKind::ClientSecret);
    }

    #[test]
    fn oidc_with_token_file_and_azuread_only() {
        let cfg = StoreSettings::default()
            .resolve(&lookup(&[
                ("AZURE_STORAGE_ACCOUNT", "acct"),
                ("ARM_ACCESS_KEY", "k"),
                ("ARM_USE_AZUREAD", "true"),
                ("ARM_USE_OIDC", "true"),
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"),
            ]))
            .expect("config");
        assert_eq!(
            cfg.credential,
            Credential::Federated {
                tenant_id: "t".into(),
                client_id: "c".into(),
                token: FederatedToken::File("/var/run/token".into())
            }
        );
    }

    #[test]
    fn msi_and_cli_fallback() {
        let cfg = StoreSettings::default()
            .resolve(&lookup(&[
                ("AZURE_STORAGE_ACCOUNT", "a"),
                ("ARM_USE_MSI", "true"),
            ]))
            .expect("config");
        assert_eq!(cfg.credential.kind(), CredentialKind::ManagedIdentity);
        let cfg = StoreSettings::default()
            .resolve(&lookup(&[("AZURE_STORAGE_ACCOUNT", "a")]))
            .expect("config");
        assert_eq!(cfg.credential.kind(), CredentialKind::AzureCli);
        let err = StoreSettings::default()
            .resolve(&lookup(&[
                ("AZURE_STORAGE_ACCOUNT", "a"),
                ("ARM_USE_CLI", "false"),
            ]))
            .expect_err("no credential");
        assert!(err.to_string().contains("no credential"), "{err}");
    }

    #[test]
    fn connection_string_gives_account_and_endpoint() {
        let cs = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5==;\
                  TableEndpoint=http://127.0.0.1:1234/devstoreaccount1;";
        let cfg = StoreSettings::default()
            .resolve(&lookup(&[("AZURE_STORAGE_CONNECTION_STRING", cs)]))
            .expect("config");
        assert_eq!(cfg.account, "devstoreaccount1");
        assert_eq!(cfg.endpoint, "http://127.0.0.1:1234/devstoreaccount1");
        let cs = "AccountName=x;AccountKey=k;EndpointSuffix=core.chinacloudapi.cn";
        let cfg = StoreSettings::default()
            .resolve(&lookup(&[("AZURE_STORAGE_CONNECTION_STRING", cs)]))
            .expect("config");
        assert_eq!(cfg.endpoint, "https://x.table.core.chinacloudapi.cn");
    }

    #[test]
    fn plain_http_only_to_loopback_or_the_emulator() {
        let remote = |vars: &[(&str, &str)]| {
            StoreSettings::default()
                .resolve(&lookup(vars))
                .map(|c| c.endpoint)
                .map_err(|e| e.to_string())
        };
        // Refused: a real credential over http to another host, however set.
        let err = remote(&[
            ("ROOTMAIL_TABLE_ENDPOINT", "http://tables.example.com/acct"),
            ("ARM_SAS_TOKEN", "sv=1&sig=abc"),
        ])
        .expect_err("http endpoint");
        assert!(err.contains("endpoint") && err.contains("https"), "{err}");
        assert!(
            err.contains("tables.example.com") && !err.contains("abc"),
            "{err}"
        );
        let err = remote(&[(
            "AZURE_STORAGE_CONNECTION_STRING",
            "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=c2VjcmV0",
        )])
        .expect_err("http protocol");
        assert!(
            err.contains("connection_string") && err.contains("DefaultEndpointsProtocol=http"),
            "{err}"
        );
        assert!(!err.contains("c2VjcmV0"), "{err}");
        let err = remote(&[
            ("ROOTMAIL_TABLE_ENDPOINT", "HTTP://10.0.0.5:10002/acct"),
            ("ARM_ACCESS_KEY", "c2VjcmV0"),
        ])
        .expect_err("private address is not loopback");
        assert!(err.contains("10.0.0.5"), "{err}");
        assert!(remote(&[
            ("ROOTMAIL_TABLE_ENDPOINT", "ftp://127.0.0.1/acct"),
            ("ARM_ACCESS_KEY", "c2VjcmV0"),
        ])
        .is_err());
        // Accepted: loopback hosts, the emulator anywhere, https anywhere.
        for host in [
            "127.0.0.1:10002",
            "127.8.0.1",
            "[::1]:10002",
            "localhost",
            "x.localhost",
        ] {
            let endpoint = format!("http://{host}/acct");
            remote(&[
                ("ROOTMAIL_TABLE_ENDPOINT", &endpoint),
                ("ARM_ACCESS_KEY", "c2VjcmV0"),
            ])
            .unwrap_or_else(|e| panic!("{host}: {e}"));
        }
        remote(&[
            (
                "ROOTMAIL_TABLE_ENDPOINT",
                "http://azurite:10002/devstoreaccount1",
            ),
            ("ROOTMAIL_USE_EMULATOR", "true"),
        ])
        .expect("emulator by name");
        remote(&[(
            "AZURE_STORAGE_CONNECTION_STRING",
            "UseDevelopmentStorage=true",
        )])
        .expect("development storage");
        remote(&[
            ("ROOTMAIL_TABLE_ENDPOINT", "https://tables.example.com/acct"),
            ("ARM_SAS_TOKEN", "sv=1&sig=abc"),
        ])
        .expect("https");
    }

    #[test]
    fn secrets_never_in_debug() {
        let settings = StoreSettings {
            access_key: Some("KEY-123".into()),
            sas_token: Some("sig=SAS-456".into()),
            client_secret: Some("CS-789".into()),
            oidc_token: Some("OIDC-000".into()),
            connection_string: Some("AccountKey=CONN-111".into()),
            ..Default::default()
        };
        let text = format!("{settings:?}");
        for secret in ["KEY-123", "SAS-456", "CS-789", "OIDC-000", "CONN-111"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        let cfg = settings
            .resolve(&lookup(&[("AZURE_STORAGE_ACCOUNT", "a")]))
            .expect("config");
        assert!(!format!("{cfg:?}").contains("CONN-111"));
    }

    #[test]
    fn endpoint_account_and_bad_inputs() {
        let cfg = StoreSettings {
            endpoint: Some("https://acct.table.cosmos.azure.com/".into()),
            sas_token: Some("sv=x&sig=y".into()),
            ..Default::default()
        }
        .resolve(&lookup(&[]))
        .expect("config");
        assert_eq!(cfg.account, "acct");
        assert_eq!(cfg.endpoint, "https://acct.table.cosmos.azure.com");
        let err = StoreSettings {
            account: Some("a".into()),
            access_key: Some("k".into()),
            table: Some("bad-name".into()),
            ..Default::default()
        }
        .resolve(&lookup(&[]))
        .expect_err("bad table");
        assert!(err.to_string().contains("bad-name"));
        let err = StoreSettings::default()
            .resolve(&lookup(&[("ARM_USE_MSI", "maybe")]))
            .expect_err("bad flag");
        assert!(err.to_string().contains("ARM_USE_MSI"));
    }
}
