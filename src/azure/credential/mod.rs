//! The credentials there are and their kinds; `choice` picks one from the
//! settings, `connection_string` reads a storage connection string.

mod choice;
mod connection_string;

use std::fmt;
use std::path::PathBuf;

pub(crate) use choice::Method;
pub(crate) use connection_string::ParsedConnectionString;

use super::certificate::ClientCertificate;
use crate::secret::SecretString;

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
    /// Azure AD service principal with a client certificate (signed assertions).
    ClientCertificate {
        tenant_id: String,
        client_id: String,
        certificate: ClientCertificate,
    },
    /// Azure AD workload identity / OIDC federated token.
    Federated {
        tenant_id: String,
        client_id: String,
        token: FederatedToken,
    },
    /// Azure AD managed identity (system-assigned, or user-assigned by client
    /// id), from `endpoint` (the VM metadata protocol) when given, else App
    /// Service's `IDENTITY_ENDPOINT`, else the VM/VMSS metadata service.
    ManagedIdentity {
        client_id: Option<String>,
        endpoint: Option<String>,
    },
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
            Credential::ClientCertificate { .. } => CredentialKind::ClientCertificate,
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
    ClientCertificate,
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
                | CredentialKind::ClientCertificate
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
            CredentialKind::ClientCertificate => "Azure AD client certificate",
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
