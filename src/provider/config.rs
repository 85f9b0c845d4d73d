//! The `provider "rootmail"` block: its schema, its checks, and how it turns
//! into the store's settings (explicit values win over environment variables).

use crate::store::{SecretString, StoreSettings};
use crate::tfplugin::{Attribute, Block, Diagnostic, Diagnostics, Schema, Type, Value};
use std::path::PathBuf;

/// The provider block's schema, with the Markdown docs for docs/index.md.
pub fn schema() -> Schema {
    let s = |name: &str, doc: &str| Attribute::optional(name, Type::String).description(doc);
    let b = |name: &str, doc: &str| Attribute::optional(name, Type::Bool).description(doc);
    Schema::new(
        Block::new()
            .description(
                "The rootmail provider hands out AWS root-user e-mail aliases from a pool kept in an Azure Table. \
                 Configure where the table is and exactly one way to authenticate; every setting can also come \
                 from the environment variable named in its description.",
            )
            .attribute(s("storage_account", "Name of the storage account holding the pool table. Environment: `AZURE_STORAGE_ACCOUNT`. Either this or `endpoint` (or a connection string) is needed."))
            .attribute(s("endpoint", "Full table service endpoint, for sovereign clouds, the Cosmos DB Table API or Azurite, e.g. `https://acct.table.core.windows.net` or `http://127.0.0.1:10002/devstoreaccount1`. Environment: `ROOTMAIL_TABLE_ENDPOINT`."))
            .attribute(s("table", "Name of the pool table. Defaults to `awsrootaccounts`. Environment: `ROOTMAIL_TABLE_NAME`."))
            .attribute(s("partition_key", "Partition holding the pool's rows. Defaults to `root`. Environment: `ROOTMAIL_PARTITION_KEY`."))
            .attribute(s("connection_string", "Storage connection string. Environment: `AZURE_STORAGE_CONNECTION_STRING`.").sensitive())
            .attribute(s("access_key", "Shared key of the storage account. Environment: `ARM_ACCESS_KEY` or `AZURE_STORAGE_KEY`.").sensitive())
            .attribute(s("sas_token", "SAS token for the table service with read, add, update and list permissions. Environment: `ARM_SAS_TOKEN` or `AZURE_STORAGE_SAS_TOKEN`.").sensitive())
            .attribute(b("use_azuread", "Authenticate with Azure AD (Entra ID); the identity needs the `Storage Table Data Contributor` role. Pick the method with `client_secret`, `use_oidc`, `use_msi` or `use_cli`. Environment: `ARM_USE_AZUREAD`."))
            .attribute(s("tenant_id", "Azure AD tenant id. Environment: `ARM_TENANT_ID` or `AZURE_TENANT_ID`."))
            .attribute(s("client_id", "Azure AD application (client) id, or the client id of a user-assigned managed identity. Environment: `ARM_CLIENT_ID` or `AZURE_CLIENT_ID`."))
            .attribute(s("client_secret", "Azure AD client secret. Environment: `ARM_CLIENT_SECRET` or `AZURE_CLIENT_SECRET`.").sensitive())
            .attribute(b("use_oidc", "Use a federated OIDC token (workload identity federation). The token is `oidc_token`, or read from `oidc_token_file_path`, or requested from Azure DevOps when `ado_pipeline_service_connection_id` is set, or else from GitHub Actions (the job needs `permissions: id-token: write`). A new token is requested whenever Azure AD's token is renewed. Environment: `ARM_USE_OIDC`."))
            .attribute(s("oidc_token", "The federated OIDC token itself. Environment: `ARM_OIDC_TOKEN`.").sensitive())
            .attribute(s("oidc_token_file_path", "File holding the federated OIDC token, re-read when it rotates. Environment: `ARM_OIDC_TOKEN_FILE_PATH` or `AZURE_FEDERATED_TOKEN_FILE`."))
            .attribute(s("oidc_request_url", "Where to request the OIDC token. Environment: `ARM_OIDC_REQUEST_URL`, then `ACTIONS_ID_TOKEN_REQUEST_URL` (GitHub Actions) or `SYSTEM_OIDCREQUESTURI` (Azure DevOps, when a service connection is set)."))
            .attribute(s("oidc_request_token", "Bearer token for the OIDC token request. Environment: `ARM_OIDC_REQUEST_TOKEN`, then `ACTIONS_ID_TOKEN_REQUEST_TOKEN` (GitHub Actions) or `SYSTEM_ACCESSTOKEN` (Azure DevOps, when a service connection is set).").sensitive())
            .attribute(s("ado_pipeline_service_connection_id", "Id of the Azure DevOps service connection (workload identity federation) to request the OIDC token for; implies `use_oidc`. Environment: `ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID` or `ARM_OIDC_AZURE_SERVICE_CONNECTION_ID`."))
            .attribute(s("environment", "The Azure cloud: `public` (default), `usgovernment` or `china`. Selects the Azure AD authority (override it with the `AZURE_AUTHORITY_HOST` environment variable) and the storage endpoint suffix. Environment: `ARM_ENVIRONMENT`."))
            .attribute(b("use_msi", "Use the managed identity of the machine running Terraform. Environment: `ARM_USE_MSI`."))
            .attribute(b("use_cli", "Use the account logged in with the Azure CLI (`az login`). Environment: `ARM_USE_CLI`."))
            .attribute(b("use_emulator", "Use Azurite's well-known development account (local testing only). Environment: `ROOTMAIL_USE_EMULATOR`."))
            .attribute(
                Attribute::optional("retry_timeout_seconds", Type::Number)
                    .description("How long one table operation may keep retrying throttling, server errors and dropped connections before it fails. Defaults to 60."),
            ),
    )
}

/// The provider attributes that hold secrets.
pub const SECRET_ATTRIBUTES: [&str; 6] = [
    "connection_string",
    "access_key",
    "sas_token",
    "client_secret",
    "oidc_token",
    "oidc_request_token",
];

/// Attaches `d` to the setting `name`, unless it holds a secret: Terraform
/// prints the source line of the attribute a diagnostic points at, which
/// would show a secret written in the configuration. Those diagnostics name
/// the attribute in their text instead.
pub fn at_setting(d: Diagnostic, name: &str) -> Diagnostic {
    if SECRET_ATTRIBUTES.contains(&name) {
        d
    } else {
        d.at_attr(name)
    }
}

trait AtNonSecret {
    fn at_non_secret<'a>(self, names: impl Iterator<Item = &'a str>) -> Diagnostic;
}

impl AtNonSecret for Diagnostic {
    /// Attaches to the first of `names` that holds no secret, if any.
    fn at_non_secret<'a>(self, mut names: impl Iterator<Item = &'a str>) -> Diagnostic {
        match names.find(|n| !SECRET_ATTRIBUTES.contains(n)) {
            Some(n) => self.at_attr(n),
            None => self,
        }
    }
}

/// True when any attribute of the block is still unknown (it depends on a
/// resource not created yet): then nothing can be checked or connected.
pub fn has_unknowns(config: &Value) -> bool {
    !config.is_fully_known()
}

fn text(config: &Value, name: &str) -> Option<String> {
    config.attr(name).as_str().map(str::to_string)
}

fn flag(config: &Value, name: &str) -> Option<bool> {
    config.attr(name).as_bool()
}

/// Checks the explicit settings against each other; environment variables
/// are not consulted here (they are in [`settings`]).
pub fn validate(config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    for name in [
        "storage_account",
        "endpoint",
        "table",
        "partition_key",
        "connection_string",
        "access_key",
        "sas_token",
        "tenant_id",
        "client_id",
        "client_secret",
        "oidc_token",
        "oidc_token_file_path",
        "oidc_request_url",
        "oidc_request_token",
        "ado_pipeline_service_connection_id",
        "environment",
    ] {
        if let Some(v) = text(config, name) {
            if v.trim().is_empty() {
                d.push(at_setting(Diagnostic::error("Empty value", format!("`{name}` is set to an empty string. Remove it to use the default or the environment, or give a value.")), name));
            } else if v.len() > 8192 {
                d.push(at_setting(
                    Diagnostic::error(
                        "Value too long",
                        format!(
                            "`{name}` is {} characters long; at most 8192 are accepted.",
                            v.len()
                        ),
                    ),
                    name,
                ));
            } else if v.chars().any(char::is_control) {
                d.push(at_setting(Diagnostic::error("Control characters in value", format!("`{name}` contains control characters (such as a newline). Remove them.")), name));
            }
        }
    }
    if let Some(t) = text(config, "table") {
        let ok = (3..=63).contains(&t.len())
            && t.chars().all(|c| c.is_ascii_alphanumeric())
            && t.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        if !ok {
            d.push(Diagnostic::error("Invalid table name", "`table` must be 3 to 63 letters and digits and start with a letter, as Azure Table storage requires.").at_attr("table"));
        }
    }
    if let Some(e) = text(config, "endpoint") {
        if !(e.starts_with("https://") || e.starts_with("http://")) {
            d.push(
                Diagnostic::error(
                    "Invalid endpoint",
                    "`endpoint` must be a URL starting with https:// (or http:// for Azurite).",
                )
                .at_attr("endpoint"),
            );
        }
    }
    if let Some(e) = text(config, "environment") {
        if crate::store::CloudEnvironment::parse(&e).is_none() {
            d.push(
                Diagnostic::error(
                    "Unknown Azure environment",
                    format!("`environment` is `{e}`; use `public`, `usgovernment` or `china`."),
                )
                .at_attr("environment"),
            );
        }
    }
    if let Some(u) = text(config, "oidc_request_url") {
        if !(u.starts_with("https://") || u.starts_with("http://")) {
            d.push(
                Diagnostic::error(
                    "Invalid OIDC request URL",
                    "`oidc_request_url` must be a URL starting with https://.",
                )
                .at_attr("oidc_request_url"),
            );
        }
    }
    if let Some(secs) = config.attr("retry_timeout_seconds").as_i64() {
        if !(1..=3600).contains(&secs) {
            d.push(
                Diagnostic::error(
                    "Invalid retry timeout",
                    "`retry_timeout_seconds` must be between 1 and 3600.",
                )
                .at_attr("retry_timeout_seconds"),
            );
        }
    }
    // Exactly one way to authenticate, among those written explicitly. Any
    // Azure AD method implies `use_azuread`, as in the azurerm provider.
    let set = |n: &str| match config.attr(n) {
        Value::Bool(b) => *b,
        v => !v.is_null(),
    };
    let ad_methods: Vec<&str> = [
        "client_secret",
        "use_oidc",
        "ado_pipeline_service_connection_id",
        "use_msi",
        "use_cli",
    ]
    .into_iter()
    .filter(|n| set(n))
    .collect();
    let mut methods: Vec<&str> = ["connection_string", "access_key", "sas_token"]
        .into_iter()
        .filter(|n| set(n))
        .collect();
    if set("use_azuread") || !ad_methods.is_empty() {
        methods.push(if set("use_azuread") {
            "use_azuread"
        } else {
            ad_methods[0]
        });
    }
    if set("use_emulator") {
        methods.push("use_emulator");
    }
    if methods.len() > 1 {
        let listed = super::validate::code_list(&methods);
        d.push(
            Diagnostic::error(
                "Conflicting authentication settings",
                format!("Exactly one way to authenticate may be set, but {listed} are. Keep one of them."),
            )
            .at_non_secret(methods.iter().rev().copied()),
        );
    }
    if ad_methods.len() > 1 {
        let listed = super::validate::code_list(&ad_methods);
        d.push(
            Diagnostic::error(
                "Conflicting Azure AD settings",
                format!("Pick one Azure AD method; {listed} are all set."),
            )
            .at_attr(ad_methods[ad_methods.len() - 1]),
        );
    }
    if flag(config, "use_azuread") == Some(false) {
        if let Some(m) = ad_methods.first() {
            d.push(
                at_setting(Diagnostic::error("Azure AD method without Azure AD", format!("`{m}` is an Azure AD method, but `use_azuread` is false. Remove one of them.")), m),
            );
        }
    }
    let sources: Vec<&str> = [
        "oidc_token",
        "oidc_token_file_path",
        "ado_pipeline_service_connection_id",
    ]
    .into_iter()
    .filter(|n| text(config, n).is_some())
    .collect();
    if sources.len() > 1 {
        let listed = super::validate::code_list(&sources);
        d.push(
            Diagnostic::error(
                "Conflicting OIDC token settings",
                format!("Give the OIDC token one way only; {listed} are all set."),
            )
            .at_non_secret(sources.iter().rev().copied()),
        );
    }
    d
}

/// The explicit settings for the store; unset ones fall back to the
/// environment in `StoreSettings::resolve`.
pub fn settings(config: &Value) -> StoreSettings {
    let secret = |n: &str| text(config, n).map(SecretString::new);
    StoreSettings {
        account: text(config, "storage_account"),
        endpoint: text(config, "endpoint"),
        table: text(config, "table"),
        partition_key: text(config, "partition_key"),
        connection_string: secret("connection_string"),
        access_key: secret("access_key"),
        sas_token: secret("sas_token"),
        tenant_id: text(config, "tenant_id"),
        client_id: text(config, "client_id"),
        client_secret: secret("client_secret"),
        use_oidc: flag(config, "use_oidc"),
        oidc_token: secret("oidc_token"),
        oidc_token_file_path: text(config, "oidc_token_file_path").map(PathBuf::from),
        oidc_request_url: text(config, "oidc_request_url"),
        oidc_request_token: secret("oidc_request_token"),
        ado_service_connection_id: text(config, "ado_pipeline_service_connection_id"),
        environment: text(config, "environment"),
        authority_host: None,
        ca_file: None,
        use_msi: flag(config, "use_msi"),
        use_cli: flag(config, "use_cli"),
        use_azuread: flag(config, "use_azuread"),
        use_emulator: flag(config, "use_emulator"),
        retry: None,
        claim_page_size: None,
    }
}
