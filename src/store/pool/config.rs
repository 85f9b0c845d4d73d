//! The pool's configuration: how to reach its table (the Azure connection's
//! [`TableConfig`]), how many free candidates one claim query fetches,
//! which addresses claims hand out unless a request says otherwise, and
//! which coalescing the provider uses.

use super::super::error::StoreError;
use super::super::minting::AddressSource;
use crate::azure::TableConfig;
use crate::settings::{ConfigError, Settings, ADDRESS_SOURCE};

/// How many free candidates one claim query fetches unless set.
pub(crate) const DEFAULT_CLAIM_PAGE_SIZE: u32 = 50;

/// A fully resolved store configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Where the pool's table and partition are, and how to authenticate.
    pub connection: TableConfig,
    /// How many free candidates one claim query fetches (1–1000).
    pub claim_page_size: u32,
    /// Which addresses a claim hands out unless its request says (the
    /// `address_source` setting).
    pub address_source: AddressSource,
    /// Which work that arrives together is served together.
    pub batching: Batching,
}

/// Coalescing of concurrent work (the `claim_batching`, `read_batching` and
/// `release_batching` settings); all on unless turned off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    pub claims: bool,
    pub reads: bool,
    pub releases: bool,
}

impl Default for Batching {
    fn default() -> Self {
        Batching {
            claims: true,
            reads: true,
            releases: true,
        }
    }
}

impl StoreConfig {
    /// Azurite with its well-known account at `endpoint` (e.g. the test helper's endpoint).
    pub fn emulator(endpoint: impl Into<String>, table: impl Into<String>) -> StoreConfig {
        StoreConfig {
            connection: TableConfig::emulator(endpoint, table),
            claim_page_size: DEFAULT_CLAIM_PAGE_SIZE,
            address_source: AddressSource::default(),
            batching: Batching::default(),
        }
    }

    /// The settings with every unset one taken from the environment
    /// (`lookup` is `std::env::var` in production, a map in tests); see
    /// [`TableConfig::resolve`] for how the credential is chosen.
    pub fn resolve(
        settings: &Settings,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<StoreConfig, StoreError> {
        let merged = settings.with_environment(lookup)?;
        Ok(StoreConfig {
            connection: TableConfig::resolve(settings, lookup)?,
            claim_page_size: DEFAULT_CLAIM_PAGE_SIZE,
            address_source: resolve_address_source(settings, lookup)?,
            batching: Batching {
                claims: merged.claim_batching != Some(false),
                reads: merged.read_batching != Some(false),
                releases: merged.release_batching != Some(false),
            },
        })
    }

    /// Resolves from environment variables only.
    pub fn from_env() -> Result<StoreConfig, StoreError> {
        StoreConfig::resolve(&Settings::default(), &|name| std::env::var(name).ok())
    }
}

/// The `address_source` setting (or its variable), checked.
fn resolve_address_source(
    settings: &Settings,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<AddressSource, StoreError> {
    let merged = settings.with_environment(lookup)?;
    let Some(text) = merged.address_source else {
        return Ok(AddressSource::default());
    };
    AddressSource::parse(&text).ok_or_else(|| {
        let names: Vec<&str> = AddressSource::ALL.iter().map(|s| s.as_str()).collect();
        let given = if settings.address_source.is_some() {
            ADDRESS_SOURCE.name.to_owned()
        } else {
            ADDRESS_SOURCE.env.join(" or ")
        };
        ConfigError::new(
            &ADDRESS_SOURCE,
            format!("{given} is `{text}`; use one of {}", names.join(", ")),
        )
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_source_comes_from_the_setting_or_its_variable() {
        let env = |value: &'static str| {
            move |k: &str| (k == "ROOTMAIL_ADDRESS_SOURCE").then(|| value.to_owned())
        };
        let none = Settings::default();
        assert_eq!(
            resolve_address_source(&none, &|_| None).expect("default"),
            AddressSource::AliasesOnly
        );
        assert_eq!(
            resolve_address_source(&none, &env("minted_only")).expect("env"),
            AddressSource::MintedOnly
        );
        let given = Settings {
            address_source: Some("prefer_aliases".into()),
            ..Settings::default()
        };
        assert_eq!(
            resolve_address_source(&given, &env("minted_only")).expect("explicit wins"),
            AddressSource::PreferAliases
        );
        let err = resolve_address_source(&none, &env("always")).expect_err("bad value");
        assert_eq!(err.setting(), Some(&ADDRESS_SOURCE));
        assert!(
            err.to_string()
                .contains("ROOTMAIL_ADDRESS_SOURCE is `always`"),
            "{err}"
        );
    }

    #[test]
    fn batching_is_on_unless_a_setting_turns_it_off() {
        let resolve = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .chain([("ROOTMAIL_USE_EMULATOR".into(), "true".into())])
                .collect();
            StoreConfig::resolve(&Settings::default(), &move |k| {
                vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
            })
        };
        assert_eq!(resolve(&[]).expect("config").batching, Batching::default());
        let off = resolve(&[
            ("ROOTMAIL_CLAIM_BATCHING", "off"),
            ("ROOTMAIL_READ_BATCHING", "0"),
        ])
        .expect("config")
        .batching;
        assert_eq!((off.claims, off.reads, off.releases), (false, false, true));
        let err = resolve(&[("ROOTMAIL_RELEASE_BATCHING", "maybe")]).expect_err("not a flag");
        assert!(
            err.to_string().contains("ROOTMAIL_RELEASE_BATCHING"),
            "{err}"
        );
    }
}
