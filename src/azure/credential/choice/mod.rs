//! Which credential the settings ask for: the one method set (explicit
//! settings first; two at one level are refused, naming both) and the
//! details each needs, with errors that name the missing setting or variable.

use std::path::Path;

use super::super::certificate::ClientCertificate;
use super::super::network::check_credential_url;
use super::{Credential, FederatedToken};
use crate::secret::SecretString;
use crate::settings::{
    ConfigError, Origin, Setting, Settings, ACCESS_KEY, ADO_SERVICE_CONNECTION_ID,
    CLIENT_CERTIFICATE, CLIENT_CERTIFICATE_PASSWORD, CLIENT_CERTIFICATE_PATH, CLIENT_ID,
    CLIENT_ID_FILE_PATH, CLIENT_SECRET, CLIENT_SECRET_FILE_PATH, CONNECTION_STRING, MSI_ENDPOINT,
    OIDC_REQUEST_TOKEN, OIDC_REQUEST_URL, OIDC_TOKEN, OIDC_TOKEN_FILE_PATH, SAS_TOKEN, TENANT_ID,
    USE_AKS_WORKLOAD_IDENTITY, USE_CLI, USE_EMULATOR, USE_MSI, USE_OIDC,
};

/// The ways to authenticate, before their details are filled in, in
/// azurerm's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Emulator,
    ConnectionString,
    SharedKey,
    SasToken,
    ClientCertificate,
    ClientSecret,
    Oidc,
    ManagedIdentity,
    AzureCli,
}

impl Method {
    /// The storage account's own ways (and the emulator's), not Azure AD's.
    fn is_storage(self) -> bool {
        matches!(
            self,
            Method::Emulator | Method::ConnectionString | Method::SharedKey | Method::SasToken
        )
    }
}

impl Settings {
    /// Every way of authenticating these settings ask for, each with the
    /// setting that asks for it, in azurerm's order: the emulator, the
    /// storage account's own credentials (unless `use_azuread`), client
    /// certificate, client secret, OIDC (a token, a token file, AKS workload
    /// identity, Azure DevOps, GitHub Actions), managed identity, Azure CLI.
    /// The Azure CLI as a last resort is not among them.
    pub(crate) fn methods(&self) -> Vec<(Method, &'static Setting)> {
        let mut found = Vec::new();
        if self.use_emulator == Some(true) {
            found.push((Method::Emulator, &USE_EMULATOR));
        }
        if self.use_azuread != Some(true) {
            if self.connection_string.is_some() {
                found.push((Method::ConnectionString, &CONNECTION_STRING));
            }
            if self.access_key.is_some() {
                found.push((Method::SharedKey, &ACCESS_KEY));
            }
            if self.sas_token.is_some() {
                found.push((Method::SasToken, &SAS_TOKEN));
            }
        }
        let first_set = |candidates: &[(bool, &'static Setting)]| {
            candidates
                .iter()
                .find_map(|(set, setting)| set.then_some(*setting))
        };
        if let Some(setting) = first_set(&[
            (self.client_certificate.is_some(), &CLIENT_CERTIFICATE),
            (
                self.client_certificate_path.is_some(),
                &CLIENT_CERTIFICATE_PATH,
            ),
        ]) {
            found.push((Method::ClientCertificate, setting));
        }
        if let Some(setting) = first_set(&[
            (self.client_secret.is_some(), &CLIENT_SECRET),
            (
                self.client_secret_file_path.is_some(),
                &CLIENT_SECRET_FILE_PATH,
            ),
        ]) {
            found.push((Method::ClientSecret, setting));
        }
        let oidc_on = first_set(&[
            (self.use_oidc == Some(true), &USE_OIDC),
            (
                self.use_aks_workload_identity == Some(true),
                &USE_AKS_WORKLOAD_IDENTITY,
            ),
        ]);
        let oidc_source = first_set(&[
            (self.oidc_token.is_some(), &OIDC_TOKEN),
            (self.oidc_token_file_path.is_some(), &OIDC_TOKEN_FILE_PATH),
            (
                self.ado_service_connection_id.is_some(),
                &ADO_SERVICE_CONNECTION_ID,
            ),
        ])
        .filter(|_| self.use_oidc != Some(false));
        if let Some(setting) = oidc_on.or(oidc_source) {
            found.push((Method::Oidc, setting));
        }
        if self.use_msi == Some(true) {
            found.push((Method::ManagedIdentity, &USE_MSI));
        }
        if self.use_cli == Some(true) {
            found.push((Method::AzureCli, &USE_CLI));
        }
        found
    }

    /// The one way of authenticating to the table, with the setting that
    /// asks for it: the one these (explicit) settings ask for, else the one
    /// `chooser` (these settings with the environment, pipelines' variables
    /// left out) asks for, else the Azure CLI unless `use_cli` is false (as
    /// the azurerm provider does).
    ///
    /// Two of a kind at the same level (two storage credentials, or two
    /// Azure AD ones) are an error naming both: which one was meant is not
    /// ours to guess. A storage credential beside an Azure AD one is the
    /// table's (the Azure AD one may be for Microsoft Graph), unless it
    /// came from a variable the azurerm state backend reads as well
    /// (`ARM_ACCESS_KEY`, `ARM_SAS_TOKEN`): that is refused too.
    pub(crate) fn one_method(
        &self,
        chooser: &Settings,
    ) -> Result<Option<(Method, &'static Setting)>, ConfigError> {
        for level in [self, chooser] {
            let (storage, azure_ad): (Vec<_>, Vec<_>) = level
                .methods()
                .into_iter()
                .partition(|(m, _)| m.is_storage());
            for same_kind in [&storage, &azure_ad] {
                if let [(_, first), (_, second), ..] = same_kind.as_slice() {
                    return Err(level.two_credentials(first, second));
                }
            }
            match (storage.first(), azure_ad.first()) {
                (Some((_, key)), Some((_, other))) if level.shared_with_the_backend(key) => {
                    return Err(level.two_credentials(key, other));
                }
                (Some(chosen), _) | (None, Some(chosen)) => return Ok(Some(*chosen)),
                (None, None) => {}
            }
        }
        Ok((chooser.use_cli != Some(false)).then_some((Method::AzureCli, &USE_CLI)))
    }

    /// True when `setting` came from a variable the azurerm state backend
    /// reads for the state's own storage account.
    fn shared_with_the_backend(&self, setting: &'static Setting) -> bool {
        matches!(
            setting.origin(self),
            Some(Origin::Env("ARM_ACCESS_KEY" | "ARM_SAS_TOKEN"))
        )
    }

    fn two_credentials(&self, first: &'static Setting, second: &'static Setting) -> ConfigError {
        let mut text = format!(
            "two credentials are set, {} and {}: keep one of them",
            first.named_in(self),
            second.named_in(self)
        );
        let is_key = |s: &Setting| [&CONNECTION_STRING, &ACCESS_KEY, &SAS_TOKEN].contains(&s);
        if [first, second]
            .iter()
            .any(|s| self.shared_with_the_backend(s))
        {
            text.push_str(
                ". ARM_ACCESS_KEY and ARM_SAS_TOKEN are also what the azurerm state backend reads \
                 for the state's storage account: give the pool's key as ROOTMAIL_ACCESS_KEY (or \
                 ROOTMAIL_SAS_TOKEN) instead",
            );
        }
        if is_key(first) != is_key(second) {
            text.push_str(
                ". To use Azure AD and ignore keys, SAS tokens and connection strings, set \
                 `use_azuread` (ARM_USE_AZUREAD=true)",
            );
        }
        ConfigError::general(text)
    }

    /// The credential for `method`, or an error naming what is missing.
    /// Files named by the settings (secret, client id, certificate) are read
    /// here, so a problem with one names its setting before any request.
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
            Method::ClientCertificate => {
                let (tenant_id, client_id) = self.tenant_and_client("client certificate")?;
                Credential::ClientCertificate {
                    tenant_id,
                    client_id,
                    certificate: self.client_certificate()?,
                }
            }
            Method::ClientSecret => {
                let (tenant_id, client_id) = self.tenant_and_client("client secret")?;
                let from_file = read_value(
                    self.client_secret_file_path.as_deref(),
                    &CLIENT_SECRET_FILE_PATH,
                )?;
                let secret = agree(
                    self.client_secret.as_ref().map(|s| s.expose().to_owned()),
                    from_file,
                    &CLIENT_SECRET_FILE_PATH,
                    &CLIENT_SECRET,
                    "secret",
                )?
                .ok_or_else(|| ConfigError::general("the chosen credential has no secret"))?;
                Credential::ClientSecret {
                    tenant_id,
                    client_id,
                    secret: SecretString::new(secret),
                }
            }
            Method::Oidc => {
                let token = self.federated_token()?;
                let what = match &token {
                    FederatedToken::GitHubActions { .. } => "OIDC (GitHub Actions)",
                    FederatedToken::AzureDevOps { .. } => "OIDC (Azure DevOps)",
                    _ if self.use_aks_workload_identity == Some(true) => {
                        "AKS workload identity (AZURE_TENANT_ID, AZURE_CLIENT_ID)"
                    }
                    _ => "OIDC",
                };
                let (tenant_id, client_id) = self.tenant_and_client(what)?;
                Credential::Federated {
                    tenant_id,
                    client_id,
                    token,
                }
            }
            Method::ManagedIdentity => Credential::ManagedIdentity {
                client_id: self.client_id()?,
                endpoint: match &self.msi_endpoint {
                    Some(url) => Some(check_msi_endpoint(url)?),
                    None => None,
                },
            },
            Method::AzureCli => Credential::AzureCli {
                tenant_id: self.tenant_id.clone(),
            },
        })
    }

    /// The client certificate: base64 content, else the file, opened with
    /// the password (none when unset).
    fn client_certificate(&self) -> Result<ClientCertificate, ConfigError> {
        let password = self
            .client_certificate_password
            .as_ref()
            .map(|p| p.expose().to_owned());
        let (setting, loaded) = match (&self.client_certificate, &self.client_certificate_path) {
            (Some(content), _) => (
                &CLIENT_CERTIFICATE,
                ClientCertificate::from_base64(content.expose(), password.as_deref()),
            ),
            (None, Some(path)) => {
                let bytes = std::fs::read(path).map_err(|e| {
                    ConfigError::new(
                        &CLIENT_CERTIFICATE_PATH,
                        format!(
                            "cannot read the client certificate {} \
                             (client_certificate_path, ARM_CLIENT_CERTIFICATE_PATH): {e}",
                            path.display()
                        ),
                    )
                })?;
                (
                    &CLIENT_CERTIFICATE_PATH,
                    ClientCertificate::from_bytes(&bytes, password.as_deref()),
                )
            }
            (None, None) => return Err(ConfigError::general("no client certificate")),
        };
        loaded.map_err(|why| {
            let setting = match why {
                super::super::certificate::CertificateError::WrongPassword => {
                    &CLIENT_CERTIFICATE_PASSWORD
                }
                _ => setting,
            };
            let source = if std::ptr::eq(setting, &CLIENT_CERTIFICATE) {
                "client_certificate, ARM_CLIENT_CERTIFICATE".to_owned()
            } else {
                match &self.client_certificate_path {
                    Some(p) if self.client_certificate.is_none() => format!(
                        "{}, from client_certificate_path / ARM_CLIENT_CERTIFICATE_PATH",
                        p.display()
                    ),
                    _ => "client_certificate, ARM_CLIENT_CERTIFICATE".to_owned(),
                }
            };
            ConfigError::new(setting, format!("the client certificate ({source}) {why}"))
        })
    }

    /// The client id: given, or read from `client_id_file_path` (both must agree).
    fn client_id(&self) -> Result<Option<String>, ConfigError> {
        let from_file = read_value(self.client_id_file_path.as_deref(), &CLIENT_ID_FILE_PATH)?;
        agree(
            self.client_id.clone(),
            from_file,
            &CLIENT_ID_FILE_PATH,
            &CLIENT_ID,
            "client id",
        )
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
        if self.use_aks_workload_identity == Some(true) {
            return Err(ConfigError::new(
                &OIDC_TOKEN_FILE_PATH,
                "AKS workload identity (use_aks_workload_identity) needs the token file: \
                 AZURE_FEDERATED_TOKEN_FILE is not set (the AKS workload identity webhook sets \
                 it in pods whose service account has the azure.workload.identity/client-id \
                 annotation and label azure.workload.identity/use: \"true\"; or set \
                 ARM_OIDC_TOKEN_FILE_PATH)",
            ));
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
        match (&self.tenant_id, &self.client_id()?) {
            (Some(t), Some(c)) => Ok((t.clone(), c.clone())),
            (tenant, _) => Err(ConfigError::new(
                if tenant.is_none() {
                    &TENANT_ID
                } else {
                    &CLIENT_ID
                },
                format!(
                    "Azure AD {what} authentication needs a tenant id (ARM_TENANT_ID) and a \
                     client id (ARM_CLIENT_ID or ARM_CLIENT_ID_FILE_PATH)"
                ),
            )),
        }
    }
}

/// The trimmed content of the file a setting names, if it names one.
fn read_value(
    path: Option<&Path>,
    setting: &'static Setting,
) -> Result<Option<String>, ConfigError> {
    let Some(path) = path else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            setting,
            format!("cannot read {} ({}): {e}", path.display(), setting.name),
        )
    })?;
    let value = text.trim();
    if value.is_empty() {
        return Err(ConfigError::new(
            setting,
            format!("{} ({}) is empty", path.display(), setting.name),
        ));
    }
    Ok(Some(value.to_owned()))
}

/// A value given both directly and in a file must be the same (as azurerm
/// requires); the message never shows either.
fn agree(
    given: Option<String>,
    from_file: Option<String>,
    file_setting: &'static Setting,
    setting: &'static Setting,
    what: &str,
) -> Result<Option<String>, ConfigError> {
    match (given, from_file) {
        (Some(a), Some(b)) if a != b => Err(ConfigError::new(
            file_setting,
            format!(
                "the {what} in {} differs from {}; set only one of them",
                file_setting.name, setting.name
            ),
        )),
        (given, from_file) => Ok(given.or(from_file)),
    }
}

/// `ARM_MSI_ENDPOINT`: an http(s) URL (the metadata endpoint is plain http
/// on a link-local or loopback address; no credential is sent to it).
fn check_msi_endpoint(url: &str) -> Result<String, ConfigError> {
    match url::Url::parse(url.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Ok(url.trim().to_owned())
        }
        _ => Err(ConfigError::new(
            &MSI_ENDPOINT,
            format!(
                "msi_endpoint (ARM_MSI_ENDPOINT) `{}` is not an http(s) URL",
                url.trim()
            ),
        )),
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

#[cfg(test)]
mod tests;
