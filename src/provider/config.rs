//! The `provider "rootmail"` block: its schema, its checks, and how it turns
//! into [`Settings`] (explicit values win over environment variables). The
//! attributes are the [`SETTINGS`] that are not environment-only.

use crate::settings::Settings;
use crate::settings::{
    Setting, SettingKind, ACCESS_KEY, ADDRESS_SOURCE, ADO_SERVICE_CONNECTION_ID, CLIENT_SECRET,
    CONNECTION_STRING, ENDPOINT, ENVIRONMENT, METADATA_HOST, OIDC_REQUEST_URL, OIDC_TOKEN,
    OIDC_TOKEN_FILE_PATH, PARTITION_KEY, SAS_TOKEN, SETTINGS, TABLE, USE_AZUREAD, USE_CLI,
    USE_EMULATOR, USE_MSI, USE_OIDC,
};
use crate::store::{AddressSource, AliasPool, PartitionState, StoreError};
use crate::tfplugin::{Attribute, Block, Diagnostic, Diagnostics, Schema, Type, Value};

/// The settings a provider block can hold (the rest come only from the
/// environment).
fn attributes() -> impl Iterator<Item = &'static Setting> {
    SETTINGS.iter().copied().filter(|s| !s.environment_only)
}

/// The provider block's schema, with the Markdown docs for docs/index.md.
pub fn schema() -> Schema {
    let block = Block::new().description(
        "The rootmail provider hands out AWS root-user e-mail aliases from a pool kept in an \
         Azure Table. Configure where the table is and exactly one way to authenticate; every \
         setting can also come from the environment variable named in its description.",
    );
    let block = attributes().fold(block, |block, setting| {
        let ty = match setting.kind() {
            SettingKind::Flag => Type::Bool,
            SettingKind::Seconds => Type::Number,
            SettingKind::Text | SettingKind::Secret | SettingKind::Path => Type::String,
        };
        let attribute = Attribute::optional(setting.name, ty).description(setting.description());
        block.attribute(if setting.is_secret() {
            attribute.sensitive()
        } else {
            attribute
        })
    });
    Schema::new(block)
}

/// Attaches `d` to `setting`, unless it holds a secret: Terraform prints the
/// source line of the attribute a diagnostic points at, which would show a
/// secret written in the configuration. Those diagnostics name the attribute
/// in their text instead.
pub fn at_setting(d: Diagnostic, setting: &Setting) -> Diagnostic {
    if setting.is_secret() {
        d
    } else {
        d.at_attr(setting.name)
    }
}

/// A store error from resolving or connecting, at the setting it names.
/// Store errors never carry secrets.
pub fn config_error(e: &StoreError) -> Diagnostic {
    let d = Diagnostic::error("Invalid rootmail provider configuration", e.to_string());
    match e.setting() {
        Some(setting) if !setting.environment_only => at_setting(d, setting),
        // Not one attribute's problem (or an environment variable's): the
        // message names what to change.
        _ => d,
    }
}

/// Reads the pool's partition once (see [`AliasPool::probe`]): the error to
/// stop the run with, if the pool cannot be used. A table with no rows at all
/// is not one (a new pool; claims say it is empty), a partition key without
/// rows in a table that has others is.
pub async fn probe(pool: &AliasPool, config: &Value) -> Option<Diagnostic> {
    let error = match pool.probe().await {
        Ok(PartitionState::HasRows) => return None,
        Ok(PartitionState::Empty { others, .. }) if others.is_empty() => return None,
        Ok(PartitionState::Empty { others, more }) => pool.partition_empty(others, more),
        Err(e) => e,
    };
    let d = Diagnostic::error(super::store_summary(&error), error.to_string());
    Some(match &error {
        StoreError::PartitionEmpty { .. } if is_set(config, &PARTITION_KEY) => {
            d.at_attr(PARTITION_KEY.name)
        }
        _ => d,
    })
}

/// True when any attribute of the block is still unknown (it depends on a
/// resource not created yet): then nothing can be checked or connected.
pub fn has_unknowns(config: &Value) -> bool {
    !config.is_fully_known()
}

fn text(config: &Value, setting: &Setting) -> Option<String> {
    config.attr(setting.name).as_str().map(str::to_string)
}

/// Set: a flag that is true, or any other value that is not null.
fn is_set(config: &Value, setting: &Setting) -> bool {
    match config.attr(setting.name) {
        Value::Bool(b) => *b,
        v => !v.is_null(),
    }
}

fn is_http_url(text: &str) -> bool {
    text.starts_with("https://") || text.starts_with("http://")
}

/// Checks the explicit settings against each other; environment variables
/// are not consulted here (they are in [`settings`]).
pub fn validate(config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    for setting in attributes().filter(|s| s.kind() != SettingKind::Flag) {
        let Some(v) = text(config, setting) else {
            continue;
        };
        let name = setting.name;
        let problem = if v.trim().is_empty() {
            Some(("Empty value", format!("`{name}` is set to an empty string. Remove it to use the default or the environment, or give a value.")))
        } else if v.len() > 8192 {
            let len = v.len();
            Some((
                "Value too long",
                format!("`{name}` is {len} characters long; at most 8192 are accepted."),
            ))
        } else if v.chars().any(char::is_control) {
            Some((
                "Control characters in value",
                format!("`{name}` contains control characters (such as a newline). Remove them."),
            ))
        } else {
            None
        };
        if let Some((summary, detail)) = problem {
            d.push(at_setting(Diagnostic::error(summary, detail), setting));
        }
    }
    let invalid = |setting: &Setting, summary: &str, detail: String| {
        Diagnostic::error(summary, detail).at_attr(setting.name)
    };
    if let Some(t) = text(config, &TABLE) {
        if crate::azure::keys::check_table_name(&t).is_err() {
            d.push(invalid(&TABLE, "Invalid table name", "`table` must be 3 to 63 letters and digits and start with a letter, as Azure Table storage requires.".into()));
        }
    }
    if text(config, &ENDPOINT).is_some_and(|e| !is_http_url(&e)) {
        d.push(invalid(
            &ENDPOINT,
            "Invalid endpoint",
            "`endpoint` must be a URL starting with https:// (or http:// for Azurite).".into(),
        ));
    }
    if let Some(e) = text(config, &ENVIRONMENT) {
        // With a metadata host (here or in the environment), the environment
        // names a cloud in that host's metadata, checked when it is read.
        let custom_cloud = text(config, &METADATA_HOST).is_some()
            || METADATA_HOST
                .env
                .iter()
                .any(|v| std::env::var(v).is_ok_and(|x| !x.trim().is_empty()));
        if !custom_cloud && crate::azure::CloudEnvironment::parse(&e).is_none() {
            d.push(invalid(
                &ENVIRONMENT,
                "Unknown Azure environment",
                format!("`environment` is `{e}`; use `public`, `usgovernment` or `china`."),
            ));
        }
    }
    if let Some(source) = text(config, &ADDRESS_SOURCE) {
        if AddressSource::parse(&source).is_none() {
            let names: Vec<&str> = AddressSource::ALL.iter().map(|s| s.as_str()).collect();
            d.push(invalid(
                &ADDRESS_SOURCE,
                "Unknown address source",
                format!(
                    "`address_source` is `{source}`; use {}.",
                    super::validate::code_list(&names)
                ),
            ));
        }
    }
    if text(config, &OIDC_REQUEST_URL).is_some_and(|u| !is_http_url(&u)) {
        d.push(invalid(
            &OIDC_REQUEST_URL,
            "Invalid OIDC request URL",
            "`oidc_request_url` must be a URL starting with https://.".into(),
        ));
    }
    for setting in attributes().filter(|s| s.kind() == SettingKind::Seconds) {
        let value = config.attr(setting.name);
        if value.is_null() || !value.is_fully_known() {
            continue;
        }
        let mut probe = Settings::default();
        let text = value.as_i64().map(|n| n.to_string()).unwrap_or_default();
        if let Err(e) = setting.set(&mut probe, &text) {
            d.push(invalid(setting, "Invalid number of seconds", e.to_string()));
        }
    }
    check_methods(config, &mut d);
    d
}

/// Exactly one way to authenticate, among those written explicitly. Any
/// Azure AD method implies `use_azuread`, as in the azurerm provider.
fn check_methods(config: &Value, d: &mut Diagnostics) {
    let set = |settings: &[&'static Setting]| -> Vec<&'static Setting> {
        settings
            .iter()
            .copied()
            .filter(|s| is_set(config, s))
            .collect()
    };
    let ad_methods = set(&[
        &CLIENT_SECRET,
        &USE_OIDC,
        &ADO_SERVICE_CONNECTION_ID,
        &USE_MSI,
        &USE_CLI,
    ]);
    let mut methods = set(&[&CONNECTION_STRING, &ACCESS_KEY, &SAS_TOKEN]);
    if is_set(config, &USE_AZUREAD) {
        methods.push(&USE_AZUREAD);
    } else if let Some(first) = ad_methods.first() {
        methods.push(first);
    }
    methods.extend(set(&[&USE_EMULATOR]));
    if methods.len() > 1 {
        d.push(conflict(
            "Conflicting authentication settings",
            |listed| format!("Exactly one way to authenticate may be set, but {listed} are. Keep one of them."),
            &methods,
        ));
    }
    if ad_methods.len() > 1 {
        d.push(conflict(
            "Conflicting Azure AD settings",
            |listed| format!("Pick one Azure AD method; {listed} are all set."),
            &ad_methods,
        ));
    }
    if config.attr(USE_AZUREAD.name).as_bool() == Some(false) {
        if let Some(m) = ad_methods.first() {
            let name = m.name;
            d.push(at_setting(Diagnostic::error("Azure AD method without Azure AD", format!("`{name}` is an Azure AD method, but `use_azuread` is false. Remove one of them.")), m));
        }
    }
    let sources: Vec<&'static Setting> = [
        &OIDC_TOKEN,
        &OIDC_TOKEN_FILE_PATH,
        &ADO_SERVICE_CONNECTION_ID,
    ]
    .into_iter()
    .filter(|s| text(config, s).is_some())
    .collect();
    if sources.len() > 1 {
        d.push(conflict(
            "Conflicting OIDC token settings",
            |listed| format!("Give the OIDC token one way only; {listed} are all set."),
            &sources,
        ));
    }
}

/// An error about settings that exclude each other, at the last of them
/// that holds no secret.
fn conflict(
    summary: &str,
    detail: impl FnOnce(&str) -> String,
    settings: &[&'static Setting],
) -> Diagnostic {
    let names: Vec<&str> = settings.iter().map(|s| s.name).collect();
    let d = Diagnostic::error(summary, detail(&super::validate::code_list(&names)));
    match settings.iter().rev().find(|s| !s.is_secret()) {
        Some(s) => d.at_attr(s.name),
        None => d,
    }
}

/// The explicit settings; unset ones fall back to the environment in
/// [`crate::store::StoreConfig::resolve`].
pub fn settings(config: &Value) -> Settings {
    let mut settings = Settings::default();
    for setting in attributes() {
        match config.attr(setting.name) {
            Value::Bool(b) => setting.set_flag(&mut settings, *b),
            v => {
                let number = v.as_i64().map(|n| n.to_string());
                if let Some(text) = v.as_str().or(number.as_deref()) {
                    // `validate` refused what does not parse.
                    let _ = setting.set(&mut settings, text);
                }
            }
        }
    }
    settings
}
