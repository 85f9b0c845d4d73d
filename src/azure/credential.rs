//! Which credential the settings ask for, and the kinds there are: the
//! choice among methods (first match wins, explicit settings first), the
//! details each needs (with errors that name the missing variable), and the
//! parts of a connection string.

use std::fmt;
use std::path::PathBuf;

use super::network::check_credential_url;
use crate::secret::SecretString;
use crate::settings::{
    parse_bool, ConfigError, Settings, CLIENT_ID, CONNECTION_STRING, OIDC_REQUEST_TOKEN,
    OIDC_REQUEST_URL, TENANT_ID, USE_OIDC,
};

/// Azurite's well-known account (documented publicly; not a secret).
pub const EMULATOR_ACCOUNT: &str = "devstoreaccount1";
pub(crate) const EMULATOR_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// Azurite's default table endpoint.
pub const EMULATOR_ENDPOINT: &str = "http://127.0.0.1:10002/devstoreaccount1";

/// Where a federated (OIDC) token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FederatedToken {
    /// The token itself (ARM_OIDC_TOKEN).
    Value(SecretString),
    /// A file re-read on every token request, as Kubernetes rotates it
    /// (ARM_OIDC_TOKEN_FILE_PATH / AZURE_FEDERATED_TOKEN_FILE).
    File(PathBuf),
    /// Requested from GitHub Actions' OIDC endpoint for every exchange
    /// (ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN).
    GitHubActions {
        request_url: String,
        request_token: SecretString,
    },
    /// Requested from Azure DevOps for a service connection for every
    /// exchange (SYSTEM_OIDCREQUESTURI / SYSTEM_ACCESSTOKEN).
    AzureDevOps {
        request_url: String,
        request_token: SecretString,
        service_connection_id: String,
    },
}

/// How the client authenticates. `Debug` never shows a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A storage connection string (may carry a key or a SAS, and the endpoint).
    ConnectionString(SecretString),
    /// Shared key of the storage account.
    SharedKey { key: SecretString },
    /// A SAS token (with or without the leading `?`).
    SasToken(SecretString),
    /// Azure AD service principal with a client secret.
    ClientSecret {
        tenant_id: String,
        client_id: String,
        secret: SecretString,
    },
    /// Azure AD workload identity / OIDC federated token.
    Federated {
        tenant_id: String,
        client_id: String,
        token: FederatedToken,
    },
    /// Azure AD managed identity (system-assigned, or user-assigned by client id).
    ManagedIdentity { client_id: Option<String> },
    /// Azure AD token from the logged-in Azure CLI (`az`).
    AzureCli { tenant_id: Option<String> },
    /// Azurite's well-known account and key.
    Emulator,
}

impl Credential {
    /// What kind of credential this is, for messages.
    pub fn kind(&self) -> CredentialKind {
        match self {
            Credential::ConnectionString(_) => CredentialKind::ConnectionString,
            Credential::SharedKey { .. } => CredentialKind::SharedKey,
            Credential::SasToken(_) => CredentialKind::SasToken,
            Credential::ClientSecret { .. } => CredentialKind::ClientSecret,
            Credential::Federated { token, .. } => match token {
                FederatedToken::GitHubActions { .. } => CredentialKind::GitHubOidc,
                FederatedToken::AzureDevOps { .. } => CredentialKind::AzureDevOpsOidc,
                FederatedToken::Value(_) | FederatedToken::File(_) => CredentialKind::Federated,
            },
            Credential::ManagedIdentity { .. } => CredentialKind::ManagedIdentity,
            Credential::AzureCli { .. } => CredentialKind::AzureCli,
            Credential::Emulator => CredentialKind::Emulator,
        }
    }

    /// True when this signs with the emulator's published key (nothing secret
    /// to protect), directly or through a development connection string.
    pub fn is_emulator(&self) -> bool {
        match self {
            Credential::Emulator => true,
            Credential::SharedKey { key } => key.expose() == EMULATOR_KEY,
            Credential::ConnectionString(cs) => ParsedConnectionString::parse(cs.expose())
                .is_ok_and(|p| p.key.is_some_and(|k| k.expose() == EMULATOR_KEY)),
            _ => false,
        }
    }
}

/// The kind of credential in use (safe to print).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    ConnectionString,
    SharedKey,
    SasToken,
    ClientSecret,
    Federated,
    GitHubOidc,
    AzureDevOpsOidc,
    ManagedIdentity,
    AzureCli,
    Emulator,
}

impl CredentialKind {
    /// True for the Azure AD (Entra ID) kinds.
    pub fn is_azure_ad(self) -> bool {
        matches!(
            self,
            CredentialKind::ClientSecret
                | CredentialKind::Federated
                | CredentialKind::GitHubOidc
                | CredentialKind::AzureDevOpsOidc
                | CredentialKind::ManagedIdentity
                | CredentialKind::AzureCli
        )
    }

    /// Which permission a refused request needed, for a 403 message.
    pub(crate) fn permission_hint(self) -> &'static str {
        match self {
            CredentialKind::SasToken => {
                "the SAS token needs the table service (ss=t), object/container resource types and \
                 read, add, update, query (r,a,u,l) permissions, and must not be expired"
            }
            k if k.is_azure_ad() => {
                "the identity needs the `Storage Table Data Contributor` role on the storage \
                 account or table (data-plane role; `Contributor` is not enough)"
            }
            _ => "check that the account name and key belong together and the key was not rotated",
        }
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CredentialKind::ConnectionString => "a storage connection string",
            CredentialKind::SharedKey => "a storage account shared key",
            CredentialKind::SasToken => "a SAS token",
            CredentialKind::ClientSecret => "Azure AD client secret",
            CredentialKind::Federated => "Azure AD workload identity (OIDC federated token)",
            CredentialKind::GitHubOidc => {
                "Azure AD OIDC with a token requested from GitHub Actions"
            }
            CredentialKind::AzureDevOpsOidc => {
                "Azure AD OIDC with a token requested from an Azure DevOps service connection"
            }
            CredentialKind::ManagedIdentity => "Azure AD managed identity",
            CredentialKind::AzureCli => "Azure AD token from the Azure CLI",
            CredentialKind::Emulator => "the Azurite emulator's well-known key",
        })
    }
}

/// The ways to authenticate, before their details are filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Emulator,
    ConnectionString,
    SharedKey,
    SasToken,
    Oidc,
    ClientSecret,
    ManagedIdentity,
    AzureCli,
}

impl Settings {
    /// Which way of authenticating these settings ask for, first match wins.
    /// With `last_resort`, the Azure CLI is used when nothing else is set and
    /// `use_cli` is not false (as the azurerm provider does).
    pub(crate) fn choose_method(&self, last_resort: bool) -> Option<Method> {
        if self.use_emulator == Some(true) {
            return Some(Method::Emulator);
        }
        if self.use_azuread != Some(true) {
            if self.connection_string.is_some() {
                return Some(Method::ConnectionString);
            }
            if self.access_key.is_some() {
                return Some(Method::SharedKey);
            }
            if self.sas_token.is_some() {
                return Some(Method::SasToken);
            }
        }
        let oidc_source = self.oidc_token.is_some()
            || self.oidc_token_file_path.is_some()
            || self.ado_service_connection_id.is_some();
        if self.use_oidc == Some(true) || (oidc_source && self.use_oidc != Some(false)) {
            return Some(Method::Oidc);
        }
        if self.client_secret.is_some() {
            return Some(Method::ClientSecret);
        }
        if self.use_msi == Some(true) {
            return Some(Method::ManagedIdentity);
        }
        if self.use_cli == Some(true) || (last_resort && self.use_cli != Some(false)) {
            return Some(Method::AzureCli);
        }
        None
    }

    /// The credential for `method`, or an error naming what is missing.
    pub(crate) fn build_credential(&self, method: Method) -> Result<Credential, ConfigError> {
        // The method was chosen because its secret is there.
        let secret = |value: &Option<SecretString>| {
            value
                .clone()
                .ok_or_else(|| ConfigError::general("the chosen credential has no secret"))
        };
        Ok(match method {
            Method::Emulator => Credential::Emulator,
            Method::ConnectionString => {
                Credential::ConnectionString(secret(&self.connection_string)?)
            }
            Method::SharedKey => Credential::SharedKey {
                key: secret(&self.access_key)?,
            },
            Method::SasToken => Credential::SasToken(secret(&self.sas_token)?),
            Method::Oidc => {
                let token = self.federated_token()?;
                let what = match &token {
                    FederatedToken::GitHubActions { .. } => "OIDC (GitHub Actions)",
                    FederatedToken::AzureDevOps { .. } => "OIDC (Azure DevOps)",
                    _ => "OIDC",
                };
                let (tenant_id, client_id) = self.tenant_and_client(what)?;
                Credential::Federated {
                    tenant_id,
                    client_id,
                    token,
                }
            }
            Method::ClientSecret => {
                let (tenant_id, client_id) = self.tenant_and_client("client secret")?;
                Credential::ClientSecret {
                    tenant_id,
                    client_id,
                    secret: secret(&self.client_secret)?,
                }
            }
            Method::ManagedIdentity => Credential::ManagedIdentity {
                client_id: self.client_id.clone(),
            },
            Method::AzureCli => Credential::AzureCli {
                tenant_id: self.tenant_id.clone(),
            },
        })
    }

    /// Where the OIDC token comes from: given, a file, or requested from
    /// Azure DevOps (a service connection is set) or GitHub Actions.
    fn federated_token(&self) -> Result<FederatedToken, ConfigError> {
        if let Some(t) = &self.oidc_token {
            return Ok(FederatedToken::Value(t.clone()));
        }
        if let Some(p) = &self.oidc_token_file_path {
            return Ok(FederatedToken::File(p.clone()));
        }
        let (url, token) = (&self.oidc_request_url, &self.oidc_request_token);
        if let Some(id) = &self.ado_service_connection_id {
            let request_url = url.clone().ok_or_else(|| {
                ConfigError::new(
                    &OIDC_REQUEST_URL,
                    format!(
                        "Azure DevOps OIDC (service connection `{id}`) needs the OIDC request \
                         URL: SYSTEM_OIDCREQUESTURI is not set (Azure Pipelines sets it in every \
                         job; outside a pipeline set ARM_OIDC_REQUEST_URL)"
                    ),
                )
            })?;
            let request_token = token.clone().ok_or_else(|| {
                ConfigError::new(
                    &OIDC_REQUEST_TOKEN,
                    format!(
                        "Azure DevOps OIDC (service connection `{id}`) needs the job's access \
                         token: SYSTEM_ACCESSTOKEN is not set (map it in the step: \
                         `env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)`, or set \
                         ARM_OIDC_REQUEST_TOKEN)"
                    ),
                )
            })?;
            check_request_url(&request_url)?;
            return Ok(FederatedToken::AzureDevOps {
                request_url: request_url.trim().to_owned(),
                request_token,
                service_connection_id: id.clone(),
            });
        }
        let (setting, message) = match (url, token) {
            (Some(url), Some(token)) => {
                check_request_url(url)?;
                return Ok(FederatedToken::GitHubActions {
                    request_url: url.trim().to_owned(),
                    request_token: token.clone(),
                });
            }
            (Some(_), None) => (
                &OIDC_REQUEST_TOKEN,
                "GitHub Actions OIDC needs the request token: ACTIONS_ID_TOKEN_REQUEST_TOKEN is \
                 not set (give the job `permissions: id-token: write`, or set \
                 ARM_OIDC_REQUEST_TOKEN)",
            ),
            (None, Some(_)) => (
                &OIDC_REQUEST_URL,
                "GitHub Actions OIDC needs the request URL: ACTIONS_ID_TOKEN_REQUEST_URL is not \
                 set (give the job `permissions: id-token: write`, or set ARM_OIDC_REQUEST_URL)",
            ),
            (None, None) => (
                &USE_OIDC,
                "OIDC is enabled but there is no token: set ARM_OIDC_TOKEN or \
                 ARM_OIDC_TOKEN_FILE_PATH (or AZURE_FEDERATED_TOKEN_FILE); in GitHub Actions give \
                 the job `permissions: id-token: write` so ACTIONS_ID_TOKEN_REQUEST_URL and \
                 ACTIONS_ID_TOKEN_REQUEST_TOKEN are set; in Azure DevOps set \
                 ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID and SYSTEM_ACCESSTOKEN",
            ),
        };
        Err(ConfigError::new(setting, message))
    }

    /// Both ids, or an error at the one missing (the tenant when both are).
    fn tenant_and_client(&self, what: &str) -> Result<(String, String), ConfigError> {
        match (&self.tenant_id, &self.client_id) {
            (Some(t), Some(c)) => Ok((t.clone(), c.clone())),
            (tenant, _) => Err(ConfigError::new(
                if tenant.is_none() {
                    &TENANT_ID
                } else {
                    &CLIENT_ID
                },
                format!(
                    "Azure AD {what} authentication needs a tenant id (ARM_TENANT_ID) and a \
                     client id (ARM_CLIENT_ID)"
                ),
            )),
        }
    }
}

/// The OIDC request URL carries the pipeline's request token: https only,
/// except to loopback (checked here so the error names the setting).
fn check_request_url(url: &str) -> Result<(), ConfigError> {
    check_credential_url(url).map(drop).map_err(|why| {
        ConfigError::new(
            &OIDC_REQUEST_URL,
            format!(
                "the OIDC request URL (oidc_request_url, from ARM_OIDC_REQUEST_URL, \
                 ACTIONS_ID_TOKEN_REQUEST_URL or SYSTEM_OIDCREQUESTURI) {why}"
            ),
        )
    })
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
    pub(crate) fn parse(text: &str) -> Result<ParsedConnectionString, ConfigError> {
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
                ConfigError::new(
                    &CONNECTION_STRING,
                    "connection string has a part without `=`",
                )
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
            return Err(ConfigError::new(
                &CONNECTION_STRING,
                "connection string has neither AccountKey nor SharedAccessSignature",
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::config::tests::{from_env, lookup};

    const PIPELINE_IDS: [(&str, &str); 3] = [
        ("AZURE_STORAGE_ACCOUNT", "acct"),
        ("ARM_TENANT_ID", "t"),
        ("ARM_CLIENT_ID", "c"),
    ];

    #[test]
    fn github_actions_token_is_requested_with_use_oidc() {
        let mut vars = PIPELINE_IDS.to_vec();
        vars.extend([
            ("ARM_USE_OIDC", "true"),
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                "https://gh.example/t?api-version=2.0",
            ),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-secret"),
            ("SYSTEM_OIDCREQUESTURI", "https://ado.example/oidc"),
        ]);
        let cfg = from_env(&vars).expect("config");
        assert_eq!(cfg.credential.kind(), CredentialKind::GitHubOidc);
        assert_eq!(
            cfg.credential,
            Credential::Federated {
                tenant_id: "t".into(),
                client_id: "c".into(),
                token: FederatedToken::GitHubActions {
                    request_url: "https://gh.example/t?api-version=2.0".into(),
                    request_token: "gh-request-secret".into(),
                },
            }
        );
        assert!(!format!("{cfg:?}").contains("gh-request-secret"));
        // ARM_OIDC_REQUEST_* win over the pipeline's own variables.
        vars.push(("ARM_OIDC_REQUEST_URL", "https://override.example/t"));
        let cfg = from_env(&vars).expect("config");
        assert!(matches!(cfg.credential, Credential::Federated {
            token: FederatedToken::GitHubActions { ref request_url, .. }, ..
        } if request_url == "https://override.example/t"));
    }

    #[test]
    fn azure_devops_token_is_requested_for_a_service_connection() {
        let mut vars = PIPELINE_IDS.to_vec();
        vars.extend([
            ("ARM_OIDC_AZURE_SERVICE_CONNECTION_ID", "sc-1"),
            ("SYSTEM_OIDCREQUESTURI", "https://ado.example/oidc"),
            ("SYSTEM_ACCESSTOKEN", "ado-secret"),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://gh.example/t"),
        ]);
        let cfg = from_env(&vars).expect("config");
        assert_eq!(cfg.credential.kind(), CredentialKind::AzureDevOpsOidc);
        assert!(matches!(cfg.credential, Credential::Federated {
            token: FederatedToken::AzureDevOps { ref request_url, ref service_connection_id, .. }, ..
        } if request_url == "https://ado.example/oidc" && service_connection_id == "sc-1"));
        vars.retain(|(k, _)| *k != "SYSTEM_ACCESSTOKEN");
        let err = from_env(&vars).expect_err("no token");
        assert!(err.to_string().contains("SYSTEM_ACCESSTOKEN"), "{err}");
    }

    #[test]
    fn a_plain_http_oidc_request_url_is_refused_at_its_setting() {
        for (url_var, token_var, extra) in [
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                None,
            ),
            (
                "SYSTEM_OIDCREQUESTURI",
                "SYSTEM_ACCESSTOKEN",
                Some(("ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID", "sc-1")),
            ),
            ("ARM_OIDC_REQUEST_URL", "ARM_OIDC_REQUEST_TOKEN", None),
        ] {
            for host in ["pipelines.example", "x.localhost"] {
                let mut vars = PIPELINE_IDS.to_vec();
                let url = format!("http://{host}/oidc?api-version=2.0");
                vars.extend([
                    ("ARM_USE_OIDC", "true"),
                    (url_var, &url),
                    (token_var, "req-secret"),
                ]);
                vars.extend(extra);
                let err = from_env(&vars).expect_err("plain http");
                assert_eq!(err.setting(), Some(&OIDC_REQUEST_URL), "{url_var}: {err}");
                let text = err.to_string();
                assert!(text.contains("https") && text.contains(host), "{text}");
                assert!(!text.contains("req-secret"), "{text}");
            }
            // Loopback is fine (a local stand-in).
            let mut vars = PIPELINE_IDS.to_vec();
            vars.extend([
                ("ARM_USE_OIDC", "true"),
                (url_var, "http://127.0.0.1:8080/oidc"),
                (token_var, "req-secret"),
            ]);
            vars.extend(extra);
            from_env(&vars).expect("loopback");
        }
    }

    #[test]
    fn missing_pipeline_variables_are_named() {
        let mut vars = PIPELINE_IDS.to_vec();
        vars.push(("ARM_USE_OIDC", "true"));
        let err = from_env(&vars).expect_err("none");
        assert!(err.to_string().contains("id-token: write"), "{err}");
        vars.push(("ACTIONS_ID_TOKEN_REQUEST_URL", "https://gh.example/t"));
        let err = from_env(&vars).expect_err("no token");
        assert!(
            err.to_string().contains("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
            "{err}"
        );
        // Explicit `use_oidc` takes the tenant and client from the environment.
        let explicit = Settings {
            use_oidc: Some(true),
            oidc_token: Some("jwt".into()),
            ..Default::default()
        };
        let cfg =
            crate::azure::TableConfig::resolve(&explicit, &lookup(&PIPELINE_IDS)).expect("config");
        assert_eq!(cfg.credential.kind(), CredentialKind::Federated);
    }

    #[test]
    fn clouds_pick_authority_and_suffix() {
        let mut vars = vec![("AZURE_STORAGE_ACCOUNT", "acct"), ("ARM_USE_CLI", "true")];
        let cfg = from_env(&vars).expect("config");
        assert_eq!(cfg.authority_host, "https://login.microsoftonline.com");
        vars.push(("ARM_ENVIRONMENT", "usgovernment"));
        let cfg = from_env(&vars).expect("config");
        assert_eq!(cfg.endpoint, "https://acct.table.core.usgovcloudapi.net");
        assert_eq!(cfg.authority_host, "https://login.microsoftonline.us");
        vars.push(("AZURE_AUTHORITY_HOST", "https://127.0.0.1:8443/"));
        vars.push(("SSL_CERT_FILE", "/etc/corp-ca.pem"));
        let cfg = from_env(&vars).expect("config");
        assert_eq!(cfg.authority_host, "https://127.0.0.1:8443");
        assert_eq!(cfg.ca_file, Some(PathBuf::from("/etc/corp-ca.pem")));
        vars.push(("ARM_ENVIRONMENT", "mars"));
        let err = from_env(&[
            ("ARM_ENVIRONMENT", "mars"),
            ("ARM_USE_CLI", "true"),
            ("AZURE_STORAGE_ACCOUNT", "a"),
        ])
        .expect_err("unknown cloud");
        assert!(err.to_string().contains("ARM_ENVIRONMENT"), "{err}");
    }
}
