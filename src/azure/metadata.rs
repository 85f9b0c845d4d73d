//! Custom clouds (Azure Stack Hub, sovereign clouds): the cloud's own
//! metadata document names its Azure AD authority and its storage suffix,
//! as azurerm reads it for `ARM_METADATA_HOSTNAME`.
//!
//! `GET https://<host>/metadata/endpoints?api-version=2022-09-01` answers a
//! list of clouds; the one named by `environment` (`ARM_ENVIRONMENT`) is
//! used, or the only one. Fields read: `name`,
//! `authentication.loginEndpoint`, `suffixes.storage` and
//! `microsoftGraphResourceId` (Microsoft Graph's resource, also its
//! endpoint; `graph` is the retired Azure AD Graph and is not read).

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::network::{check_credential_url, HttpClients};
use crate::settings::{ConfigError, METADATA_HOST};

const API_VERSION: &str = "2022-09-01";
const TIMEOUT: Duration = Duration::from_secs(20);

/// What a cloud's metadata says about signing in and storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomCloud {
    pub name: String,
    /// The Azure AD authority, e.g. `https://login.contoso.local`.
    pub authority_host: String,
    /// `<account>.table.<storage_suffix>`.
    pub storage_suffix: String,
    /// Microsoft Graph's resource and endpoint, when the document names one.
    pub graph: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    name: String,
    #[serde(default)]
    authentication: Authentication,
    #[serde(default)]
    suffixes: Suffixes,
    #[serde(default, rename = "microsoftGraphResourceId")]
    microsoft_graph_resource_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Authentication {
    #[serde(default)]
    login_endpoint: String,
}

#[derive(Debug, Default, Deserialize)]
struct Suffixes {
    #[serde(default)]
    storage: String,
}

/// The metadata URL for `host`: a host name (https), or a whole URL (https,
/// or http to a loopback address only: the answer decides where tokens go).
fn metadata_url(host: &str) -> Result<url::Url, String> {
    let host = host.trim().trim_end_matches('/');
    let base = if host.contains("://") {
        host.to_owned()
    } else {
        format!("https://{host}")
    };
    let mut url = check_credential_url(&base)?;
    url.set_path("/metadata/endpoints");
    url.set_query(Some(&format!("api-version={API_VERSION}")));
    Ok(url)
}

/// Picks the cloud named `environment` (any case), or the only one.
fn pick(body: &[u8], environment: Option<&str>) -> Result<CustomCloud, String> {
    let entries: Vec<Entry> = match serde_json::from_slice::<Vec<Entry>>(body) {
        Ok(list) => list,
        // Older metadata documents are a single object.
        Err(_) => vec![serde_json::from_slice::<Entry>(body)
            .map_err(|_| "its answer is not a cloud metadata document".to_owned())?],
    };
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let chosen = match environment {
        Some(name) => entries
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name.trim())),
        None if entries.len() == 1 => entries.first(),
        None => None,
    }
    .ok_or_else(|| {
        format!(
            "it describes the clouds [{}]; set environment (ARM_ENVIRONMENT) to one of them",
            names.join(", ")
        )
    })?;
    let login = chosen
        .authentication
        .login_endpoint
        .trim()
        .trim_end_matches('/');
    let suffix = chosen.suffixes.storage.trim().trim_start_matches('.');
    if login.is_empty() || suffix.is_empty() {
        return Err(format!(
            "cloud `{}` has no authentication.loginEndpoint or suffixes.storage",
            chosen.name
        ));
    }
    check_credential_url(login).map_err(|why| format!("its loginEndpoint {why}"))?;
    // Graph gets bearer tokens too, so it passes the same check.
    let graph = match chosen
        .microsoft_graph_resource_id
        .trim()
        .trim_end_matches('/')
    {
        "" => None,
        graph => {
            check_credential_url(graph)
                .map_err(|why| format!("its microsoftGraphResourceId {why}"))?;
            Some(graph.to_owned())
        }
    };
    Ok(CustomCloud {
        name: chosen.name.clone(),
        authority_host: login.to_owned(),
        storage_suffix: suffix.to_owned(),
        graph,
    })
}

/// Reads the metadata of `host` (through the proxy, trusting `ca_file`).
/// Settings resolve without a runtime of their own, so the request runs on
/// a thread with one; it happens once per configuration.
pub(crate) fn discover(
    host: &str,
    environment: Option<&str>,
    ca_file: Option<&Path>,
) -> Result<CustomCloud, ConfigError> {
    let fail = |why: String| {
        ConfigError::new(
            &METADATA_HOST,
            format!("the cloud metadata of metadata_host (ARM_METADATA_HOSTNAME) `{host}`: {why}"),
        )
    };
    let url = metadata_url(host).map_err(|why| fail(format!("the host {why}")))?;
    let http = HttpClients::new(ca_file).map_err(|e| fail(e.to_string()))?;
    let fetch = async move {
        let response = http
            .modern
            .get(url)
            .header("Accept", "application/json")
            .timeout(TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("cannot be read: {}", super::error::error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(format!("answered HTTP {}", response.status().as_u16()));
        }
        response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| format!("cannot be read: {e}"))
    };
    let body = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))?
            .block_on(fetch)
    })
    .join()
    .map_err(|_| "the metadata request failed".to_owned())
    .and_then(|r| r)
    .map_err(fail)?;
    pick(&body, environment).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"[{"name":"AzureStackUser","resourceManager":"https://management.local","graph":"https://graph.local/","microsoftGraphResourceId":"https://graph.contoso.local/","authentication":{"loginEndpoint":"https://login.contoso.local/","audiences":["https://management.contoso.local"]},"suffixes":{"storage":"local.azurestack.external"}},{"name":"Other","authentication":{"loginEndpoint":"https://login.other"},"suffixes":{"storage":"other.example"}}]"#;

    #[test]
    fn the_named_cloud_is_picked_from_the_document() {
        let cloud = pick(DOC.as_bytes(), Some("azurestackuser")).expect("cloud");
        assert_eq!(cloud.authority_host, "https://login.contoso.local");
        assert_eq!(cloud.storage_suffix, "local.azurestack.external");
        assert_eq!(cloud.graph.as_deref(), Some("https://graph.contoso.local"));
        assert_eq!(
            pick(DOC.as_bytes(), Some("Other")).expect("other").graph,
            None
        );
        let plain = DOC.replace("https://graph.contoso.local/", "http://graph.contoso.local");
        assert!(pick(plain.as_bytes(), Some("AzureStackUser"))
            .expect_err("http graph")
            .contains("microsoftGraphResourceId"));
        let err = pick(DOC.as_bytes(), None).expect_err("two clouds, no name");
        assert!(err.contains("AzureStackUser, Other"), "{err}");
        let single = r#"{"name":"One","authentication":{"loginEndpoint":"http://login.one"},"suffixes":{"storage":"s"}}"#;
        assert!(pick(single.as_bytes(), None)
            .expect_err("http")
            .contains("plain http"));
        assert!(pick(b"<html>", None).is_err());
    }

    #[test]
    fn the_metadata_is_fetched_over_https_or_from_loopback() {
        assert_eq!(
            metadata_url("management.local.azurestack.external").expect("url").as_str(),
            "https://management.local.azurestack.external/metadata/endpoints?api-version=2022-09-01"
        );
        assert!(metadata_url("http://metadata.example").is_err());
        // A loopback server answering the document.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = [0u8; 2048];
                let n = s.read(&mut buf).unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                assert!(request.starts_with("GET /metadata/endpoints?api-version=2022-09-01 "));
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{DOC}",
                    DOC.len()
                );
            }
        });
        let cloud =
            discover(&format!("http://127.0.0.1:{port}"), Some("Other"), None).expect("discovered");
        assert_eq!(cloud.storage_suffix, "other.example");
        let err = discover("http://127.0.0.1:9", None, None).expect_err("nothing there");
        assert_eq!(err.setting(), Some(&METADATA_HOST));
    }
}
