//! A [`GraphReader`] from the provider's settings: the Azure connection's
//! Azure AD credential, cloud, proxy, CA and retry budget, and Graph's
//! endpoint (the cloud's, or `graph_endpoint`).

use std::sync::Arc;

use super::reader::GraphReader;
use crate::azure::token::TokenSource;
use crate::azure::{AzureAdConfig, AzureError, HttpClients};
use crate::settings::{ConfigError, Settings, GRAPH_ENDPOINT};

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
        let resource = config.cloud.graph_endpoint();
        let endpoint = match config.settings.graph_endpoint.as_deref() {
            Some(endpoint) => check_endpoint(endpoint)?,
            None => resource.to_owned(),
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
            resource,
            Arc::new(tokens),
            config.retry,
        )
        .map_err(|e| ConfigError::new(&GRAPH_ENDPOINT, e.to_string()).into())
    }
}

/// Bearer tokens go to it: https, or plain http to loopback only.
fn check_endpoint(endpoint: &str) -> Result<String, ConfigError> {
    let url = crate::azure::check_credential_url(endpoint).map_err(|why| {
        ConfigError::new(
            &GRAPH_ENDPOINT,
            format!(
                "graph_endpoint (ROOTMAIL_GRAPH_ENDPOINT) `{}` {why}",
                endpoint.trim()
            ),
        )
    })?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}
