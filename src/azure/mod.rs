//! How we reach Azure: the settings resolved into a [`TableConfig`], the
//! credentials and where their tokens come from (client secret, OIDC
//! federation from GitHub Actions, Azure DevOps or a file, managed identity,
//! Azure CLI), the clouds, the network (proxy, extra CA certificates), and
//! the table client with its retry loop and OData helpers. Knows nothing of
//! aliases: the pool (`crate::store`) uses it, and readers of other
//! services that share its credentials and network settings go beside it.
//!
//! # Credentials
//! The ways to sign in, checked in this order (`credential::choice`, as
//! azurerm orders them): the emulator; the storage account's own connection
//! string, access key and SAS token (left out when `use_azuread` is true);
//! then Azure AD's client certificate, client secret, OIDC (a token, a token
//! file, AKS workload identity, Azure DevOps, GitHub Actions), managed
//! identity and Azure CLI (also the last resort unless `ARM_USE_CLI=false`,
//! as in the azurerm provider). A way set by explicit settings beats any
//! set only by the environment; two of a kind set at the same level are
//! refused, naming both. A storage credential beside an Azure AD one opens
//! the table (the Azure AD one may be for Microsoft Graph), unless it came
//! from `ARM_ACCESS_KEY` or `ARM_SAS_TOKEN`, which the azurerm state backend
//! reads too: that is refused as well. A configuration that cannot be used
//! fails with [`AzureError::Config`], whose [`crate::settings::ConfigError`]
//! names the setting to change.
//!
//! With OIDC the token is `oidc_token`, else the file, else requested from
//! Azure DevOps (service connection set) or GitHub Actions; see
//! [`token`], whose [`token::TokenSource`] gives tokens for any scope
//! (storage's, Microsoft Graph's) with the same credential. Every HTTP client (table and identity) honours
//! `HTTPS_PROXY`/`NO_PROXY` and trusts `SSL_CERT_FILE` on top of the system's
//! roots. Azure AD tokens are kept per process and renewed before they expire.
//!
//! # Requests
//! Each table request has a per-request timeout; throttling (429/503), other
//! 5xx, 408 and network errors are retried with full-jitter exponential
//! backoff within a total budget ([`crate::settings::RetryBudget`], default 60 s).
//! Cancelling the client's token stops in-flight work with
//! [`AzureError::Cancelled`].
//!
//! # Layout
//! Each module uses only those listed before it (a test keeps it so):
//! `cloud`, `keys` (table names and keys), `certificate` (client
//! certificates and the assertions they sign), `odata`, `network` (HTTP
//! clients, proxy, CA), `credential` (the credentials and the choice),
//! `error`, `metadata` (custom clouds), `token` (Azure AD tokens), `config`
//! (settings resolved), `table` (the table client).
//!
//! # Logging
//! The legacy SDK under this module logs whole requests at `debug` level,
//! including the `Authorization` header and SAS query strings. Whoever sets up
//! the tracing subscriber must combine its filter with
//! [`crate::redact::log_caps`] and write through [`crate::redact::Redacting`];
//! both binaries of this crate do.

mod certificate;
mod cloud;
pub(crate) mod config;
mod credential;
mod error;
pub(crate) mod keys;
mod metadata;
mod network;
pub mod odata;
pub(crate) mod table;
pub mod token;

pub use certificate::{CertificateError, ClientCertificate};
pub use cloud::CloudEnvironment;
pub use config::{AzureAdConfig, TableConfig};
pub use credential::{
    Credential, CredentialKind, FederatedToken, EMULATOR_ACCOUNT, EMULATOR_ENDPOINT,
};
pub use error::{AzureError, Outage, OutageCause};
pub use metadata::CustomCloud;
pub use network::HttpClients;
pub(crate) use network::{check_credential_url, is_permanent_network_error};
pub use table::{Waiting, USER_AGENT};

/// Environment variables this module reads that are not settings (nobody
/// sets them by hand), with what they do; the docs list them with the
/// settings' variables.
pub const OTHER_VARIABLES: &[(&str, &str)] = &[
    (
        token::IDENTITY_ENDPOINT,
        "App Service's managed identity endpoint, used with `use_msi` unless `msi_endpoint` is set",
    ),
    (
        token::IDENTITY_HEADER,
        "the secret header App Service's managed identity endpoint checks",
    ),
    (
        "HTTPS_PROXY",
        "proxy for every request (table, Azure AD, pipelines' OIDC endpoints), not for managed \
         identity endpoints",
    ),
    ("HTTP_PROXY", "proxy for plain http requests"),
    ("NO_PROXY", "hosts reached without the proxy"),
];

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The modules in the order of the module doc's layout.
    const LAYERS: [&str; 11] = [
        "cloud",
        "keys",
        "certificate",
        "odata",
        "network",
        "credential",
        "error",
        "metadata",
        "token",
        "config",
        "table",
    ];

    /// The modules of this folder that the code of `file` (tests left out)
    /// names through `super::` or `crate::azure::`; `path` is its module
    /// path below `azure` (`["table", "retry"]`).
    fn uses(file: &Path, path: &[String]) -> Vec<String> {
        let text = std::fs::read_to_string(file).expect("source");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let mut found = Vec::new();
        for (at, _) in code
            .match_indices("super::")
            .chain(code.match_indices("crate::azure::"))
        {
            // Only the start of a path.
            if code[..at].ends_with("super::") {
                continue;
            }
            let mut rest = &code[at..];
            let ups = match rest.strip_prefix("crate::azure::") {
                Some(after) => {
                    rest = after;
                    path.len()
                }
                None => {
                    let mut ups = 0;
                    while let Some(after) = rest.strip_prefix("super::") {
                        rest = after;
                        ups += 1;
                    }
                    ups
                }
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let target = if ups >= path.len() {
                name
            } else {
                path[0].clone()
            };
            if target != path[0] && LAYERS.contains(&target.as_str()) {
                found.push(target);
            }
        }
        found
    }

    fn files(dir: &Path, path: Vec<String>, out: &mut Vec<(std::path::PathBuf, Vec<String>)>) {
        for entry in std::fs::read_dir(dir).expect("folder").flatten() {
            let file = entry.path();
            let name = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if file.is_dir() {
                let mut inner = path.clone();
                inner.push(name);
                files(&file, inner, out);
            } else if file.extension().is_some_and(|e| e == "rs") && name != "tests" {
                let mut module = path.clone();
                if name != "mod" {
                    module.push(name);
                }
                if !module.is_empty() {
                    out.push((file, module));
                }
            }
        }
    }

    #[test]
    fn each_module_uses_only_the_ones_before_it() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/azure");
        let mut all = Vec::new();
        files(&root, Vec::new(), &mut all);
        let mut modules: Vec<&str> = all.iter().map(|(_, m)| m[0].as_str()).collect();
        modules.sort_unstable();
        modules.dedup();
        let mut listed = LAYERS.to_vec();
        listed.sort_unstable();
        assert_eq!(modules, listed, "the layout lists every module");
        let place = |m: &str| LAYERS.iter().position(|l| *l == m);
        for (file, module) in &all {
            for used in uses(file, module) {
                assert!(
                    place(&used) < place(&module[0]),
                    "{} uses `{used}`, which comes after `{}` in the layout",
                    file.display(),
                    module[0]
                );
            }
        }
    }
}
