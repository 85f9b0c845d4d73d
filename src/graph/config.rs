//! A [`GraphReader`] from the provider's settings: the Azure connection's
//! Azure AD credential, cloud, proxy, CA and retry budget, and Graph's
//! endpoint (the cloud's, or `graph_endpoint`). Tokens are asked for the
//! Graph that is read: a Graph accepts only tokens issued for itself.

use std::sync::Arc;

use super::reader::GraphReader;
use crate::azure::token::TokenSource;
use crate::azure::{AzureAdConfig, AzureError, HttpClients};
use crate::settings::{ConfigError, Settings, GRAPH_ENDPOINT, METADATA_HOST};

/// Why no reader could be set up.
#[derive(Debug, thiserror::Error)]
pub enum GraphSetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Azure(#[from] AzureError),
}

impl GraphReader {
    /// Resolves `settings` with the environment (`lookup`) and builds the
    /// reader; nothing is requested yet.
    pub fn from_settings(
        settings: &Settings,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<GraphReader, GraphSetupError> {
        let config = AzureAdConfig::resolve(settings, lookup)?;
        let (endpoint, resource) = match config.settings.graph_endpoint.as_deref() {
            Some(endpoint) => check_endpoint(endpoint)?,
            None => {
                let graph = config.graph.clone().ok_or_else(|| {
                    ConfigError::new(
                        &METADATA_HOST,
                        "the custom cloud's metadata (metadata_host, ARM_METADATA_HOSTNAME) names                          no Microsoft Graph (microsoftGraphResourceId): set graph_endpoint                          (ROOTMAIL_GRAPH_ENDPOINT) to the cloud's Graph",
                    )
                })?;
                (graph.clone(), graph)
            }
        };
        let http = HttpClients::new(config.ca_file.as_deref())?;
        let tokens =
            TokenSource::for_credential(&config.credential, &config.authority_host, &http)?
                .ok_or_else(|| {
                    ConfigError::general("Microsoft Graph needs an Azure AD credential")
                })?;
        GraphReader::new(
            http.modern.clone(),
            &endpoint,
            &resource,
            Arc::new(tokens),
            config.retry,
        )
        .map_err(|e| ConfigError::new(&GRAPH_ENDPOINT, e.to_string()).into())
    }
}

/// Bearer tokens go to it: https, or plain http to loopback only. Returns
/// the endpoint and the resource its tokens are for, its origin (e.g.
/// `https://dod-graph.microsoft.us`).
fn check_endpoint(endpoint: &str) -> Result<(String, String), ConfigError> {
    let url = crate::azure::check_credential_url(endpoint).map_err(|why| {
        ConfigError::new(
            &GRAPH_ENDPOINT,
            format!(
                "graph_endpoint (ROOTMAIL_GRAPH_ENDPOINT) `{}` {why}",
                endpoint.trim()
            ),
        )
    })?;
    let resource = url.origin().ascii_serialization();
    Ok((url.as_str().trim_end_matches('/').to_owned(), resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_for_the_graph_the_endpoint_names() {
        let (endpoint, resource) =
            check_endpoint("https://dod-graph.microsoft.us/").expect("https");
        assert_eq!(endpoint, "https://dod-graph.microsoft.us");
        assert_eq!(resource, "https://dod-graph.microsoft.us");
        let (_, resource) = check_endpoint("https://127.0.0.1:8443/graph").expect("loopback");
        assert_eq!(resource, "https://127.0.0.1:8443");
        assert!(check_endpoint("http://graph.example").is_err());
    }
}
