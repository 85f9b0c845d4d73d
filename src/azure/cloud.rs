//! The Azure clouds: which Azure AD authority issues tokens, which DNS
//! suffix storage accounts live under and where Microsoft Graph answers
//! (`ARM_ENVIRONMENT`, as in azurerm).

use crate::settings::{ConfigError, AUTHORITY_HOST};

/// An Azure cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CloudEnvironment {
    #[default]
    Public,
    UsGovernment,
    China,
}

impl CloudEnvironment {
    /// `public`, `usgovernment` or `china` (any case), as azurerm spells them.
    pub fn parse(name: &str) -> Option<CloudEnvironment> {
        match name.trim().to_ascii_lowercase().as_str() {
            "public" | "azurepubliccloud" => Some(CloudEnvironment::Public),
            "usgovernment" | "azureusgovernmentcloud" => Some(CloudEnvironment::UsGovernment),
            "china" | "azurechinacloud" => Some(CloudEnvironment::China),
            _ => None,
        }
    }

    /// The Azure AD authority of this cloud.
    pub fn authority_host(self) -> &'static str {
        match self {
            CloudEnvironment::Public => "https://login.microsoftonline.com",
            CloudEnvironment::UsGovernment => "https://login.microsoftonline.us",
            CloudEnvironment::China => "https://login.chinacloudapi.cn",
        }
    }

    /// Microsoft Graph's endpoint, which is also the resource its tokens
    /// are asked for (`<endpoint>/.default`).
    pub fn graph_endpoint(self) -> &'static str {
        match self {
            CloudEnvironment::Public => "https://graph.microsoft.com",
            CloudEnvironment::UsGovernment => "https://graph.microsoft.us",
            CloudEnvironment::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The DNS suffix of storage endpoints (`<account>.table.<suffix>`).
    pub fn storage_suffix(self) -> &'static str {
        match self {
            CloudEnvironment::Public => "core.windows.net",
            CloudEnvironment::UsGovernment => "core.usgovcloudapi.net",
            CloudEnvironment::China => "core.chinacloudapi.cn",
        }
    }
}

/// `AZURE_AUTHORITY_HOST` must be an https URL (tokens travel over it).
pub(crate) fn check_authority_host(host: &str) -> Result<String, ConfigError> {
    let host = host.trim().trim_end_matches('/');
    match url::Url::parse(host) {
        Ok(url) if url.scheme() == "https" && url.host_str().is_some() => Ok(host.to_owned()),
        _ => Err(ConfigError::new(
            &AUTHORITY_HOST,
            format!(
                "AZURE_AUTHORITY_HOST `{host}` is not an https URL (e.g. \
                 https://login.microsoftonline.us)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clouds_by_name() {
        assert_eq!(
            CloudEnvironment::parse("USGovernment"),
            Some(CloudEnvironment::UsGovernment)
        );
        assert_eq!(
            CloudEnvironment::parse("china").map(CloudEnvironment::storage_suffix),
            Some("core.chinacloudapi.cn")
        );
        assert_eq!(CloudEnvironment::parse("german"), None);
        assert!(check_authority_host("http://login.example").is_err());
        assert_eq!(
            check_authority_host("https://127.0.0.1:8443/").expect("https"),
            "https://127.0.0.1:8443"
        );
    }
}
