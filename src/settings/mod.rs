//! Every setting of the provider and the CLI, each declared once in
//! [`SETTINGS`]: its name, its environment variables (in fallback order),
//! whether it is secret, and its docs. The provider's schema, the
//! environment fallbacks, the secret lists, the CLI's flags and the docs all
//! iterate that table. [`Settings`] holds what a user set explicitly;
//! [`ConfigError`] names the setting a configuration problem is about.
//!
//! A leaf: the clients of outside systems (`crate::azure`), the pool
//! (`crate::store`), the provider and the CLI all read it, and it reads
//! none of them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::secret::SecretString;

mod retry;
mod table;
pub use retry::RetryBudget;
pub use table::*;

/// What a user configured explicitly; every field optional. Unset fields fall
/// back to the environment in [`Settings::with_environment`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub account: Option<String>,
    pub endpoint: Option<String>,
    pub table: Option<String>,
    pub partition_key: Option<String>,
    pub connection_string: Option<SecretString>,
    pub access_key: Option<SecretString>,
    pub sas_token: Option<SecretString>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub client_secret_file_path: Option<PathBuf>,
    pub client_id_file_path: Option<PathBuf>,
    pub client_certificate_path: Option<PathBuf>,
    pub client_certificate: Option<SecretString>,
    pub client_certificate_password: Option<SecretString>,
    pub use_aks_workload_identity: Option<bool>,
    pub msi_endpoint: Option<String>,
    pub use_oidc: Option<bool>,
    pub oidc_token: Option<SecretString>,
    pub oidc_token_file_path: Option<PathBuf>,
    pub oidc_request_url: Option<String>,
    pub oidc_request_token: Option<SecretString>,
    pub ado_service_connection_id: Option<String>,
    pub environment: Option<String>,
    pub metadata_host: Option<String>,
    pub authority_host: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub use_msi: Option<bool>,
    pub use_cli: Option<bool>,
    pub use_azuread: Option<bool>,
    pub use_emulator: Option<bool>,
    pub graph_endpoint: Option<String>,
    /// `aliases_only`, `prefer_aliases` or `minted_only` (checked where it is resolved).
    pub address_source: Option<String>,
    /// From `retry_timeout_seconds`, as a budget ([`RetryBudget::for_total`]).
    pub retry: Option<RetryBudget>,
    pub claim_batching: Option<bool>,
    pub read_batching: Option<bool>,
    pub release_batching: Option<bool>,
    /// The variable each setting filled from the environment came from (by
    /// setting name); a setting that is set but not listed was given
    /// explicitly. Messages say where a value came from with it.
    pub from_env: BTreeMap<&'static str, &'static str>,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Given explicitly: a provider attribute or a CLI flag.
    Explicit,
    /// Read from this environment variable.
    Env(&'static str),
}

/// How a setting's value is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    Text,
    /// Text that must never be printed, logged, or given as a CLI flag.
    Secret,
    Path,
    /// `true`/`false` (the environment also takes `1/0`, `yes/no`, `on/off`).
    Flag,
    /// A whole number of seconds, 1 to 3600 (a number in the provider).
    Seconds,
}

/// Variables a CI pipeline sets, tried after a setting's own variables:
/// Azure DevOps' when a service connection is configured, else GitHub's.
/// They complete a way of signing in that other settings chose, and never
/// choose one by themselves (Azure DevOps' tasks set them in every job).
#[derive(Debug, Clone, Copy)]
pub struct PipelineEnv {
    pub github: Option<&'static str>,
    pub azure_devops: &'static str,
}

/// One connection or authentication setting.
pub struct Setting {
    /// The provider attribute; with dashes, the CLI flag.
    pub name: &'static str,
    /// Environment variables tried, in order, when the setting is not given.
    pub env: &'static [&'static str],
    pub pipeline_env: Option<PipelineEnv>,
    /// One line, for the CLI's help.
    pub summary: &'static str,
    /// Markdown for the provider's docs; [`Setting::description`] adds the variables.
    pub doc: &'static str,
    /// The CLI's placeholder for the value (`NAME`, `URL`, …).
    pub value_name: &'static str,
    /// Read only from the environment: no provider attribute, no CLI flag.
    pub environment_only: bool,
    /// The field of [`Settings`] it fills; its type is the setting's kind.
    slot: for<'a> fn(&'a mut Settings) -> Slot<'a>,
}

/// A field of [`Settings`], typed.
enum Slot<'a> {
    Text(&'a mut Option<String>),
    Secret(&'a mut Option<SecretString>),
    Path(&'a mut Option<PathBuf>),
    Flag(&'a mut Option<bool>),
    /// Seconds, kept as the retry budget they make.
    Seconds(&'a mut Option<RetryBudget>),
}

/// The longest retry budget a user may ask for.
const MAX_SECONDS: u64 = 3600;

/// Whole seconds from 1 to an hour.
fn parse_seconds(v: &str) -> Option<u64> {
    v.trim()
        .parse::<u64>()
        .ok()
        .filter(|s| (1..=MAX_SECONDS).contains(s))
}

impl fmt::Debug for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for Setting {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Setting {}

impl Setting {
    /// Its kind, read off the field it fills (so the two cannot disagree).
    pub fn kind(&self) -> SettingKind {
        match (self.slot)(&mut Settings::default()) {
            Slot::Text(_) => SettingKind::Text,
            Slot::Secret(_) => SettingKind::Secret,
            Slot::Path(_) => SettingKind::Path,
            Slot::Flag(_) => SettingKind::Flag,
            Slot::Seconds(_) => SettingKind::Seconds,
        }
    }

    /// Where its value in `settings` came from; `None` when it is not set.
    pub fn origin(&'static self, settings: &Settings) -> Option<Origin> {
        let mut copy = settings.clone();
        let set = match (self.slot)(&mut copy) {
            Slot::Text(v) => v.is_some(),
            Slot::Secret(v) => v.is_some(),
            Slot::Path(v) => v.is_some(),
            Slot::Flag(v) => v.is_some(),
            Slot::Seconds(v) => v.is_some(),
        };
        set.then(|| match settings.from_env.get(self.name) {
            Some(variable) => Origin::Env(variable),
            None => Origin::Explicit,
        })
    }

    /// The setting as a message names it: `` `access_key` (from ARM_ACCESS_KEY) ``,
    /// or just its name when it was given explicitly or is not set.
    pub fn named_in(&'static self, settings: &Settings) -> String {
        match self.origin(settings) {
            Some(Origin::Env(variable)) => format!("`{}` (from {variable})", self.name),
            _ => format!("`{}`", self.name),
        }
    }

    pub fn is_secret(&self) -> bool {
        self.kind() == SettingKind::Secret
    }

    /// Every variable it may be read from, pipelines' included.
    pub fn all_env(&self) -> impl Iterator<Item = &'static str> {
        let pipeline = self
            .pipeline_env
            .into_iter()
            .flat_map(|p| p.github.into_iter().chain([p.azure_devops]));
        self.env.iter().copied().chain(pipeline)
    }

    /// The provider docs' description: [`Setting::doc`] and where the value
    /// comes from when it is not set.
    pub fn description(&self) -> String {
        let names: Vec<String> = self.env.iter().map(|n| format!("`{n}`")).collect();
        let mut text = format!("{} Environment: {}", self.doc, names.join(" or "));
        match self.pipeline_env {
            Some(PipelineEnv {
                github: Some(github),
                azure_devops,
            }) => text.push_str(&format!(
                ", then `{github}` (GitHub Actions) or `{azure_devops}` (Azure DevOps, when a \
                 service connection is set)"
            )),
            Some(PipelineEnv {
                github: None,
                azure_devops,
            }) => text.push_str(&format!(
                ", then `{azure_devops}` (set by Azure DevOps' tasks; never turns a way of \
                 signing in on by itself)"
            )),
            None => {}
        }
        text.push('.');
        text
    }

    /// Sets the value explicitly (a flag as text must read as a boolean).
    pub fn set(&'static self, settings: &mut Settings, value: &str) -> Result<(), ConfigError> {
        match (self.slot)(settings) {
            Slot::Text(slot) => *slot = Some(value.to_owned()),
            Slot::Secret(slot) => *slot = Some(SecretString::new(value)),
            Slot::Path(slot) => *slot = Some(PathBuf::from(value)),
            Slot::Flag(slot) => {
                *slot = Some(parse_bool(value).ok_or_else(|| {
                    ConfigError::new(self, format!("{} must be true or false", self.name))
                })?)
            }
            Slot::Seconds(slot) => *slot = Some(self.seconds(self.name, value)?),
        }
        Ok(())
    }

    /// The budget for `value` seconds (from `source`, for the message).
    fn seconds(&'static self, source: &str, value: &str) -> Result<RetryBudget, ConfigError> {
        let secs = parse_seconds(value).ok_or_else(|| {
            ConfigError::new(
                self,
                format!(
                    "{source} must be a whole number of seconds from 1 to {MAX_SECONDS}, got \
                     `{value}`"
                ),
            )
        })?;
        Ok(RetryBudget::for_total(Duration::from_secs(secs)))
    }

    /// Sets a flag explicitly; other kinds take its text.
    pub fn set_flag(&self, settings: &mut Settings, value: bool) {
        match (self.slot)(settings) {
            Slot::Flag(slot) => *slot = Some(value),
            Slot::Text(slot) => *slot = Some(value.to_string()),
            Slot::Secret(slot) => *slot = Some(SecretString::new(value.to_string())),
            Slot::Path(slot) => *slot = Some(PathBuf::from(value.to_string())),
            Slot::Seconds(slot) => *slot = Some(RetryBudget::default()),
        }
    }

    /// Fills the field from `value` (from the variable `variable`) unless it
    /// is set, and notes where it came from. A flag or a number of seconds
    /// must read as one even when the field is set.
    fn fill(
        &'static self,
        settings: &mut Settings,
        variable: &'static str,
        value: String,
    ) -> Result<(), ConfigError> {
        let filled = match (self.slot)(settings) {
            Slot::Text(slot) => slot.is_none().then(|| *slot = Some(value)).is_some(),
            Slot::Secret(slot) => slot
                .is_none()
                .then(|| *slot = Some(SecretString::new(value)))
                .is_some(),
            Slot::Path(slot) => slot
                .is_none()
                .then(|| *slot = Some(PathBuf::from(value)))
                .is_some(),
            Slot::Flag(slot) => {
                let flag = parse_bool(&value).ok_or_else(|| {
                    ConfigError::new(
                        self,
                        format!("{variable} must be true or false, got `{value}`"),
                    )
                })?;
                slot.is_none().then(|| *slot = Some(flag)).is_some()
            }
            Slot::Seconds(slot) => {
                let budget = self.seconds(variable, &value)?;
                slot.is_none().then(|| *slot = Some(budget)).is_some()
            }
        };
        if filled {
            settings.from_env.insert(self.name, variable);
        }
        Ok(())
    }
}

impl Settings {
    /// These settings with every unset one taken from the environment
    /// (`lookup` is `std::env::var` in production, a map in tests),
    /// pipelines' variables included.
    pub(crate) fn with_environment(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        self.merged(lookup, true)
    }

    /// Like [`Settings::with_environment`] without the pipelines'
    /// variables: what chooses the way of signing in.
    pub(crate) fn without_pipeline_env(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        self.merged(lookup, false)
    }

    fn merged(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
        pipelines: bool,
    ) -> Result<Settings, ConfigError> {
        let from_env = |names: &[&'static str]| {
            names.iter().find_map(|&name| {
                let value = lookup(name)?.trim().to_owned();
                (!value.is_empty()).then_some((name, value))
            })
        };
        let mut merged = self.clone();
        for setting in SETTINGS {
            if let Some((variable, value)) = from_env(setting.env) {
                setting.fill(&mut merged, variable, value)?;
            }
        }
        if !pipelines {
            return Ok(merged);
        }
        // A pipeline's variables come last: first those only Azure DevOps
        // sets (the service connection), then, once it is known whether this
        // is Azure DevOps, the others.
        for setting in SETTINGS {
            if let Some(p) = setting.pipeline_env.filter(|p| p.github.is_none()) {
                if let Some((variable, value)) = from_env(&[p.azure_devops]) {
                    setting.fill(&mut merged, variable, value)?;
                }
            }
        }
        let azure_devops = merged.ado_service_connection_id.is_some();
        for setting in SETTINGS {
            if let Some(PipelineEnv {
                github: Some(github),
                azure_devops: ado,
            }) = setting.pipeline_env
            {
                let name = if azure_devops { ado } else { github };
                if let Some((variable, value)) = from_env(&[name]) {
                    setting.fill(&mut merged, variable, value)?;
                }
            }
        }
        Ok(merged)
    }
}

pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// A configuration that cannot be used, and the setting to change (none when
/// the problem is not one setting's, e.g. no credential at all).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    setting: Option<&'static Setting>,
    message: String,
}

impl ConfigError {
    pub fn new(setting: &'static Setting, message: impl Into<String>) -> ConfigError {
        ConfigError {
            setting: Some(setting),
            message: message.into(),
        }
    }

    /// A problem of the configuration as a whole.
    pub fn general(message: impl Into<String>) -> ConfigError {
        ConfigError {
            setting: None,
            message: message.into(),
        }
    }

    /// The setting to change.
    pub fn setting(&self) -> Option<&'static Setting> {
        self.setting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_variables_are_unique() {
        let mut names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        let mut vars: Vec<&str> = SETTINGS.iter().flat_map(|s| s.all_env()).collect();
        let (n, v) = (names.len(), vars.len());
        names.sort_unstable();
        names.dedup();
        vars.sort_unstable();
        vars.dedup();
        assert_eq!((names.len(), vars.len()), (n, v));
    }

    #[test]
    fn every_setting_fills_its_own_field() {
        // Each setting, set alone, changes the settings; no two change the same field.
        let mut seen: Vec<Settings> = Vec::new();
        for setting in SETTINGS {
            let mut s = Settings::default();
            setting.set_flag(&mut s, true);
            assert_ne!(s, Settings::default(), "{setting:?}");
            assert!(!seen.contains(&s), "{setting:?} shares a field");
            seen.push(s);
        }
    }

    #[test]
    fn every_setting_has_an_environment_variable() {
        for setting in SETTINGS {
            assert!(!setting.env.is_empty(), "{setting:?} has no variable");
        }
        assert_eq!(RETRY_TIMEOUT.kind(), SettingKind::Seconds);
        assert_eq!(CLAIM_BATCHING.kind(), SettingKind::Flag);
    }

    #[test]
    fn seconds_from_the_environment_and_where_they_came_from() {
        let env = |value: &'static str| {
            move |k: &str| (k == "ROOTMAIL_RETRY_TIMEOUT_SECONDS").then(|| value.to_owned())
        };
        let merged = Settings::default()
            .with_environment(&env("5"))
            .expect("seconds");
        assert_eq!(
            merged.retry,
            Some(RetryBudget::for_total(Duration::from_secs(5)))
        );
        assert_eq!(
            RETRY_TIMEOUT.origin(&merged),
            Some(Origin::Env("ROOTMAIL_RETRY_TIMEOUT_SECONDS"))
        );
        assert_eq!(
            RETRY_TIMEOUT.named_in(&merged),
            "`retry_timeout_seconds` (from ROOTMAIL_RETRY_TIMEOUT_SECONDS)"
        );
        for bad in ["5m", "0", "3601", "-1"] {
            let err = Settings::default()
                .with_environment(&env(bad))
                .expect_err(bad);
            assert!(
                err.to_string().contains("ROOTMAIL_RETRY_TIMEOUT_SECONDS")
                    && err.setting() == Some(&RETRY_TIMEOUT),
                "{err}"
            );
        }
        // Given explicitly, the variable is not used and not named.
        let mut explicit = Settings::default();
        RETRY_TIMEOUT.set(&mut explicit, "7").expect("seconds");
        let merged = explicit.with_environment(&env("5")).expect("seconds");
        assert_eq!(RETRY_TIMEOUT.origin(&merged), Some(Origin::Explicit));
        assert_eq!(merged.retry, explicit.retry);
    }

    #[test]
    fn descriptions_name_every_variable() {
        assert_eq!(
            OIDC_REQUEST_TOKEN.description(),
            "Bearer token for the OIDC token request. Environment: `ARM_OIDC_REQUEST_TOKEN`, \
             then `ACTIONS_ID_TOKEN_REQUEST_TOKEN` (GitHub Actions) or `SYSTEM_ACCESSTOKEN` \
             (Azure DevOps, when a service connection is set)."
        );
        assert!(TENANT_ID
            .description()
            .ends_with("Environment: `ARM_TENANT_ID` or `AZURE_TENANT_ID`."));
        assert_eq!(USE_MSI.kind(), SettingKind::Flag);
        assert!(CLIENT_SECRET.is_secret() && !CLIENT_ID.is_secret());
    }
}
