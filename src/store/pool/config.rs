//! The pool's configuration: how to reach its table (the Azure connection's
//! [`TableConfig`]) and how many free candidates one claim query fetches.

use super::super::error::StoreError;
use crate::azure::TableConfig;
use crate::settings::Settings;

/// How many free candidates one claim query fetches unless set.
pub(crate) const DEFAULT_CLAIM_PAGE_SIZE: u32 = 50;

/// A fully resolved store configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Where the pool's table and partition are, and how to authenticate.
    pub connection: TableConfig,
    /// How many free candidates one claim query fetches (1–1000).
    pub claim_page_size: u32,
}

impl StoreConfig {
    /// Azurite with its well-known account at `endpoint` (e.g. the test helper's endpoint).
    pub fn emulator(endpoint: impl Into<String>, table: impl Into<String>) -> StoreConfig {
        StoreConfig {
            connection: TableConfig::emulator(endpoint, table),
            claim_page_size: DEFAULT_CLAIM_PAGE_SIZE,
        }
    }

    /// The settings with every unset one taken from the environment
    /// (`lookup` is `std::env::var` in production, a map in tests); see
    /// [`TableConfig::resolve`] for how the credential is chosen.
    pub fn resolve(
        settings: &Settings,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<StoreConfig, StoreError> {
        Ok(StoreConfig {
            connection: TableConfig::resolve(settings, lookup)?,
            claim_page_size: settings
                .claim_page_size
                .unwrap_or(DEFAULT_CLAIM_PAGE_SIZE)
                .clamp(1, 1000),
        })
    }

    /// Resolves from environment variables only.
    pub fn from_env() -> Result<StoreConfig, StoreError> {
        StoreConfig::resolve(&Settings::default(), &|name| std::env::var(name).ok())
    }
}
