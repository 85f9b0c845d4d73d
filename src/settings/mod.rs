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

use std::fmt;
use std::path::PathBuf;

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
    /// Not an environment setting: the provider and the CLI each take a
    /// total time and turn it into a budget with [`RetryBudget::for_total`].
    pub retry: Option<RetryBudget>,
    pub claim_page_size: Option<u32>,
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
        }
        Ok(())
    }

    /// Sets a flag explicitly; other kinds take its text.
    pub fn set_flag(&self, settings: &mut Settings, value: bool) {
        match (self.slot)(settings) {
            Slot::Flag(slot) => *slot = Some(value),
            Slot::Text(slot) => *slot = Some(value.to_string()),
            Slot::Secret(slot) => *slot = Some(SecretString::new(value.to_string())),
            Slot::Path(slot) => *slot = Some(PathBuf::from(value.to_string())),
        }
    }

    /// Fills the field from `value` (from the variable `variable`) unless it
    /// is set. A flag variable must read as a boolean even then.
    fn fill(
        &'static self,
        settings: &mut Settings,
        variable: &str,
        value: String,
    ) -> Result<(), ConfigError> {
        match (self.slot)(settings) {
            Slot::Text(slot) => _ = slot.get_or_insert(value),
            Slot::Secret(slot) => _ = slot.get_or_insert_with(|| SecretString::new(value)),
            Slot::Path(slot) => _ = slot.get_or_insert_with(|| PathBuf::from(value)),
            Slot::Flag(slot) => {
                let flag = parse_bool(&value).ok_or_else(|| {
                    ConfigError::new(
                        self,
                        format!("{variable} must be true or false, got `{value}`"),
                    )
                })?;
                _ = slot.get_or_insert(flag);
            }
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
