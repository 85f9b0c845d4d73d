//! Where a table is and how to authenticate to it: [`Settings`] (what a
//! user set, all optional, declared in [`crate::settings`]) resolved with
//! environment fallbacks into a [`TableConfig`].

use std::path::PathBuf;

use super::cloud::{check_authority_host, CloudEnvironment};
use super::credential::{
    Credential, Method, ParsedConnectionString, EMULATOR_ACCOUNT, EMULATOR_ENDPOINT,
};
use super::keys::{check_key, check_table_name};
use super::metadata::discover;
use super::network::is_loopback;
use crate::settings::{
    ConfigError, RetryBudget, Setting, Settings, CONNECTION_STRING, DEFAULT_PARTITION_KEY,
    DEFAULT_TABLE, ENDPOINT, ENVIRONMENT, PARTITION_KEY, STORAGE_ACCOUNT, TABLE,
};

/// A fully resolved way to reach one table partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableConfig {
    /// Storage account name (needed for shared-key signing; informative otherwise).
    pub account: String,
    /// The table service endpoint, e.g. `https://acct.table.core.windows.net`
    /// or `http://127.0.0.1:10002/devstoreaccount1`.
    pub endpoint: String,
    pub table: String,
    pub partition_key: String,
    pub credential: Credential,
    pub retry: RetryBudget,
    /// Where Azure AD tokens come from, e.g. `https://login.microsoftonline.com`.
    pub authority_host: String,
    /// Extra CA certificates (PEM) trusted by every HTTP client (`SSL_CERT_FILE`).
    pub ca_file: Option<PathBuf>,
    /// Which settings gave the endpoint and the credential, for messages
    /// that say what to check.
    pub origins: Origins,
}

/// Where the endpoint and the credential of a [`TableConfig`] came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    pub endpoint: EndpointOrigin,
    /// The setting that gave the credential, as messages name it, e.g.
    /// `` `access_key` (from ARM_ACCESS_KEY) ``; empty when not known.
    pub credential: String,
}

/// How the table endpoint was arrived at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EndpointOrigin {
    /// Made from the storage account's name (`https://<account>.table.<suffix>`).
    Account { account: String, setting: String },
    /// Given as `endpoint`; the setting as messages name it.
    Endpoint(String),
    /// The table endpoint of the connection string; the setting as messages name it.
    ConnectionString(String),
    /// Given directly (tests, tools), or the emulator's default.
    #[default]
    Given,
}

impl TableConfig {
    /// Azurite with its well-known account at `endpoint` (e.g. the test helper's endpoint).
    pub fn emulator(endpoint: impl Into<String>, table: impl Into<String>) -> TableConfig {
        TableConfig {
            account: EMULATOR_ACCOUNT.to_owned(),
            endpoint: endpoint.into(),
            table: table.into(),
            partition_key: DEFAULT_PARTITION_KEY.to_owned(),
            credential: Credential::Emulator,
            retry: RetryBudget::default(),
            authority_host: CloudEnvironment::Public.authority_host().to_owned(),
            ca_file: None,
            origins: Origins::default(),
        }
    }

    /// Fills unset fields from the environment (`lookup` is `std::env::var` in
    /// production, a map in tests) and picks one credential.
    ///
    /// Explicit settings win twice over: field by field, and a credential that
    /// the explicit settings alone define is used even if the environment
    /// defines another kind.
    pub fn resolve(
        settings: &Settings,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<TableConfig, ConfigError> {
        // The explicit settings choose the method if they define one; its
        // details may still come from the environment. Pipelines' variables
        // only complete a method, never choose one. Two methods at the same
        // level are refused, not ranked.
        let chooser = settings.without_pipeline_env(lookup)?;
        let merged = settings.with_environment(lookup)?;
        let (method, setting) = settings.one_method(&chooser)?.ok_or_else(|| {
            ConfigError::general(
                "no credential configured: set a connection string, an access key, a SAS \
                 token, or Azure AD settings (client secret, OIDC, managed identity or \
                 Azure CLI), or use the emulator",
            )
        })?;
        let credential = merged.build_credential(method)?;
        let credential_origin = match method {
            Method::Emulator => String::new(),
            Method::AzureCli if setting.origin(&merged).is_none() => {
                "no setting: with no credential configured, the Azure CLI is tried last".to_owned()
            }
            _ => setting.named_in(&merged),
        };
        into_config(merged, credential, credential_origin)
    }
}

/// How to get Azure AD tokens for an API other than the table (Microsoft
/// Graph): the same settings, credentials and network as the table's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureAdConfig {
    /// Microsoft Graph's resource in this cloud, which is also its endpoint
    /// (e.g. `https://graph.microsoft.us`); `None` when a custom cloud's
    /// metadata names none.
    pub graph: Option<String>,
    /// Where Azure AD tokens come from, e.g. `https://login.microsoftonline.com`.
    pub authority_host: String,
    /// An Azure AD credential (never a storage key, SAS or the emulator).
    pub credential: Credential,
    pub retry: RetryBudget,
    /// Extra CA certificates (PEM) trusted by every HTTP client (`SSL_CERT_FILE`).
    pub ca_file: Option<PathBuf>,
    /// The settings with the environment filled in, for the settings of
    /// the API itself (e.g. `graph_endpoint`).
    pub settings: Settings,
}

impl AzureAdConfig {
    /// Resolves as [`TableConfig::resolve`] does, except that only Azure AD
    /// credentials count: a storage account's key, SAS or connection
    /// string, and the emulator, sign in to nothing else.
    pub fn resolve(
        settings: &Settings,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AzureAdConfig, ConfigError> {
        let azure_ad = Settings {
            use_azuread: Some(true),
            use_emulator: Some(false),
            ..settings.clone()
        };
        let chooser = azure_ad.without_pipeline_env(lookup)?;
        let (method, _) = azure_ad.one_method(&chooser)?.ok_or_else(|| {
            ConfigError::general(
                "no Azure AD credential configured: Microsoft Graph needs one (client \
                 certificate, client secret, OIDC, managed identity or Azure CLI); a \
                 storage key, SAS token or the emulator only opens the table",
            )
        })?;
        let merged = azure_ad.with_environment(lookup)?;
        let credential = merged.build_credential(method)?;
        let Cloud {
            graph,
            authority_host,
            ..
        } = cloud_of(&merged)?;
        Ok(AzureAdConfig {
            graph,
            authority_host,
            credential,
            retry: merged.retry.unwrap_or_default(),
            ca_file: merged.ca_file.clone(),
            settings: merged,
        })
    }
}

/// The cloud the settings name (or a custom cloud's metadata describes),
/// its Azure AD authority (or the one `AZURE_AUTHORITY_HOST` names) and its
/// storage suffix.
struct Cloud {
    /// Microsoft Graph's resource: the cloud's, or the one a custom cloud's
    /// metadata names (`microsoftGraphResourceId`).
    graph: Option<String>,
    authority_host: String,
    storage_suffix: String,
}

fn cloud_of(s: &Settings) -> Result<Cloud, ConfigError> {
    let (graph, authority, storage_suffix) = match &s.metadata_host {
        Some(host) => {
            let custom = discover(host, s.environment.as_deref(), s.ca_file.as_deref())?;
            (custom.graph, custom.authority_host, custom.storage_suffix)
        }
        None => {
            let cloud = match &s.environment {
                Some(name) => CloudEnvironment::parse(name).ok_or_else(|| {
                    ConfigError::new(
                        &ENVIRONMENT,
                        format!(
                            "unknown Azure environment `{name}` (ARM_ENVIRONMENT / `environment`): \
                             use public, usgovernment or china (or set metadata_host for a custom \
                             cloud)"
                        ),
                    )
                })?,
                None => CloudEnvironment::Public,
            };
            (
                Some(cloud.graph_endpoint().to_owned()),
                cloud.authority_host().to_owned(),
                cloud.storage_suffix().to_owned(),
            )
        }
    };
    let authority_host = match &s.authority_host {
        Some(host) => check_authority_host(host)?,
        None => authority,
    };
    Ok(Cloud {
        graph,
        authority_host,
        storage_suffix,
    })
}

fn into_config(
    settings: Settings,
    credential: Credential,
    credential_origin: String,
) -> Result<TableConfig, ConfigError> {
    let s = settings;
    let Cloud {
        authority_host,
        storage_suffix,
        ..
    } = cloud_of(&s)?;
    // How messages name the settings the endpoint may come from.
    let named = |setting: &'static Setting| setting.named_in(&s);
    let endpoint_origin = if s.endpoint.is_some() {
        EndpointOrigin::Endpoint(named(&ENDPOINT))
    } else if matches!(credential, Credential::ConnectionString(_)) {
        EndpointOrigin::ConnectionString(named(&CONNECTION_STRING))
    } else {
        match &s.account {
            Some(account) => EndpointOrigin::Account {
                account: account.clone(),
                setting: named(&STORAGE_ACCOUNT),
            },
            None => EndpointOrigin::Given,
        }
    };
    // The checks the table client makes again, here tied to their setting.
    let invalid = |setting: &'static Setting| move |why: String| ConfigError::new(setting, why);
    let table = s.table.unwrap_or_else(|| DEFAULT_TABLE.to_owned());
    check_table_name(&table)
        .map_err(|why| format!("invalid value for table name: {why}"))
        .map_err(invalid(&TABLE))?;
    let partition_key = s
        .partition_key
        .unwrap_or_else(|| DEFAULT_PARTITION_KEY.to_owned());
    check_key(&partition_key)
        .map_err(|why| format!("invalid value for partition key: {why}"))
        .map_err(invalid(&PARTITION_KEY))?;

    // The connection string may name the account and the endpoint its.
    let (cs_account, cs_endpoint) = match &credential {
        Credential::ConnectionString(cs) => {
            let parsed = ParsedConnectionString::parse(cs.expose())?;
            (parsed.account, parsed.table_endpoint)
        }
        _ => (None, None),
    };
    let emulator = matches!(credential, Credential::Emulator);
    let account = s
        .account
        .or(cs_account)
        .or_else(|| emulator.then(|| EMULATOR_ACCOUNT.to_owned()));
    let from_connection_string = s.endpoint.is_none() && cs_endpoint.is_some();
    let endpoint = s.endpoint.or(cs_endpoint).or_else(|| {
        if emulator {
            Some(EMULATOR_ENDPOINT.to_owned())
        } else {
            account
                .as_ref()
                .map(|a| format!("https://{a}.table.{storage_suffix}"))
        }
    });
    let endpoint = endpoint.ok_or_else(|| {
        ConfigError::new(
            &STORAGE_ACCOUNT,
            "no storage account: set the account name (AZURE_STORAGE_ACCOUNT) or the table \
                 endpoint (ROOTMAIL_TABLE_ENDPOINT)",
        )
    })?;
    let endpoint = endpoint.trim_end_matches('/').to_owned();
    let parsed = url::Url::parse(&endpoint).map_err(|e| {
        ConfigError::new(
            &ENDPOINT,
            format!("table endpoint `{endpoint}` is not a URL: {e}"),
        )
    })?;
    if let Err(why) = check_transport(&parsed, &credential) {
        // Name the setting the endpoint came from, so the user knows what to change.
        let (setting, source) = if from_connection_string {
            (
                &CONNECTION_STRING,
                "the connection_string (AZURE_STORAGE_CONNECTION_STRING) sets \
                     DefaultEndpointsProtocol=http or an http TableEndpoint",
            )
        } else {
            (
                &ENDPOINT,
                "the endpoint setting (ROOTMAIL_TABLE_ENDPOINT, --endpoint) is an http:// URL",
            )
        };
        return Err(ConfigError::new(
            setting,
            format!(
                "{source}: {why}. Use https://, or point it at a loopback address \
                     (127.0.0.1, ::1, localhost) for a local emulator"
            ),
        ));
    }
    let account = match account {
        Some(a) => a,
        None => account_from_endpoint(&parsed).ok_or_else(|| {
            ConfigError::new(
                &STORAGE_ACCOUNT,
                format!(
                    "cannot tell the storage account name from endpoint `{endpoint}`; set it \
                         explicitly"
                ),
            )
        })?,
    };
    if matches!(credential, Credential::SharedKey { .. }) && account.is_empty() {
        return Err(ConfigError::new(
            &STORAGE_ACCOUNT,
            "a shared key needs the storage account name",
        ));
    }
    Ok(TableConfig {
        account,
        endpoint,
        table,
        partition_key,
        credential,
        retry: s.retry.unwrap_or_default(),
        authority_host,
        ca_file: s.ca_file,
        origins: Origins {
            endpoint: endpoint_origin,
            credential: credential_origin,
        },
    })
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

#[cfg(test)]
pub(super) mod tests;
