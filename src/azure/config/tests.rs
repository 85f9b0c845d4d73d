//! Tests of how settings and the environment resolve into a TableConfig; `lookup` and `from_env` serve other modules' tests too.

use super::*;
use crate::azure::credential::{CredentialKind, FederatedToken};
use crate::settings::{CLIENT_ID, CLIENT_SECRET, TENANT_ID};
use std::collections::HashMap;

/// An environment made of `vars`, for the settings readers (also used by
/// `credential`'s tests).
pub(in crate::azure) fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

/// Resolves nothing but the environment `vars`.
pub(in crate::azure) fn from_env(vars: &[(&str, &str)]) -> Result<TableConfig, ConfigError> {
    TableConfig::resolve(&Settings::default(), &lookup(vars))
}

#[test]
fn access_key_from_arm_env() {
    let cfg = from_env(&[
        ("AZURE_STORAGE_ACCOUNT", "acct"),
        ("ARM_ACCESS_KEY", "c2VjcmV0"),
    ])
    .expect("config");
    assert_eq!(cfg.account, "acct");
    assert_eq!(cfg.endpoint, "https://acct.table.core.windows.net");
    assert_eq!(cfg.table, DEFAULT_TABLE);
    assert_eq!(cfg.partition_key, DEFAULT_PARTITION_KEY);
    assert_eq!(cfg.credential.kind(), CredentialKind::SharedKey);
}

#[test]
fn explicit_credential_beats_environment() {
    let mut explicit = Settings::default();
    for (setting, value) in [
        (&STORAGE_ACCOUNT, "acct"),
        (&TENANT_ID, "t"),
        (&CLIENT_ID, "c"),
        (&CLIENT_SECRET, "s"),
    ] {
        setting.set(&mut explicit, value).expect("text");
    }
    let cfg = TableConfig::resolve(&explicit, &lookup(&[("ARM_ACCESS_KEY", "k")])).expect("config");
    assert_eq!(cfg.credential.kind(), CredentialKind::ClientSecret);
}

#[test]
fn oidc_with_token_file_and_azuread_only() {
    let cfg = from_env(&[
        ("AZURE_STORAGE_ACCOUNT", "acct"),
        ("ARM_ACCESS_KEY", "k"),
        ("ARM_USE_AZUREAD", "true"),
        ("ARM_USE_OIDC", "true"),
        ("AZURE_TENANT_ID", "t"),
        ("AZURE_CLIENT_ID", "c"),
        ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"),
    ])
    .expect("config");
    assert_eq!(
        cfg.credential,
        Credential::Federated {
            tenant_id: "t".into(),
            client_id: "c".into(),
            token: FederatedToken::File("/var/run/token".into())
        }
    );
}

#[test]
fn msi_and_cli_fallback() {
    let cfg = from_env(&[("AZURE_STORAGE_ACCOUNT", "a"), ("ARM_USE_MSI", "true")]).expect("config");
    assert_eq!(cfg.credential.kind(), CredentialKind::ManagedIdentity);
    let cfg = from_env(&[("AZURE_STORAGE_ACCOUNT", "a")]).expect("config");
    assert_eq!(cfg.credential.kind(), CredentialKind::AzureCli);
    let err = from_env(&[("AZURE_STORAGE_ACCOUNT", "a"), ("ARM_USE_CLI", "false")])
        .expect_err("no credential");
    assert!(err.to_string().contains("no credential"), "{err}");
}

#[test]
fn connection_string_gives_account_and_endpoint() {
    let cs = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5==;\
              TableEndpoint=http://127.0.0.1:1234/devstoreaccount1;";
    let cfg = from_env(&[("AZURE_STORAGE_CONNECTION_STRING", cs)]).expect("config");
    assert_eq!(cfg.account, "devstoreaccount1");
    assert_eq!(cfg.endpoint, "http://127.0.0.1:1234/devstoreaccount1");
    let cs = "AccountName=x;AccountKey=k;EndpointSuffix=core.chinacloudapi.cn";
    let cfg = from_env(&[("AZURE_STORAGE_CONNECTION_STRING", cs)]).expect("config");
    assert_eq!(cfg.endpoint, "https://x.table.core.chinacloudapi.cn");
}

#[test]
fn plain_http_only_to_loopback_or_the_emulator() {
    let remote = |vars: &[(&str, &str)]| {
        from_env(vars)
            .map(|c| c.endpoint)
            .map_err(|e| e.to_string())
    };
    // Refused: a real credential over http to another host, however set.
    let err = remote(&[
        ("ROOTMAIL_TABLE_ENDPOINT", "http://tables.example.com/acct"),
        ("ARM_SAS_TOKEN", "sv=1&sig=abc"),
    ])
    .expect_err("http endpoint");
    assert!(err.contains("endpoint") && err.contains("https"), "{err}");
    assert!(
        err.contains("tables.example.com") && !err.contains("abc"),
        "{err}"
    );
    let err = remote(&[(
        "AZURE_STORAGE_CONNECTION_STRING",
        "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=c2VjcmV0",
    )])
    .expect_err("http protocol");
    assert!(
        err.contains("connection_string") && err.contains("DefaultEndpointsProtocol=http"),
        "{err}"
    );
    assert!(!err.contains("c2VjcmV0"), "{err}");
    let err = remote(&[
        ("ROOTMAIL_TABLE_ENDPOINT", "HTTP://10.0.0.5:10002/acct"),
        ("ARM_ACCESS_KEY", "c2VjcmV0"),
    ])
    .expect_err("private address is not loopback");
    assert!(err.contains("10.0.0.5"), "{err}");
    assert!(remote(&[
        ("ROOTMAIL_TABLE_ENDPOINT", "ftp://127.0.0.1/acct"),
        ("ARM_ACCESS_KEY", "c2VjcmV0"),
    ])
    .is_err());
    // Accepted: loopback hosts, the emulator anywhere, https anywhere.
    for host in ["127.0.0.1:10002", "127.8.0.1", "[::1]:10002", "localhost"] {
        let endpoint = format!("http://{host}/acct");
        remote(&[
            ("ROOTMAIL_TABLE_ENDPOINT", &endpoint),
            ("ARM_ACCESS_KEY", "c2VjcmV0"),
        ])
        .unwrap_or_else(|e| panic!("{host}: {e}"));
    }
    remote(&[
        (
            "ROOTMAIL_TABLE_ENDPOINT",
            "http://azurite:10002/devstoreaccount1",
        ),
        ("ROOTMAIL_USE_EMULATOR", "true"),
    ])
    .expect("emulator by name");
    remote(&[(
        "AZURE_STORAGE_CONNECTION_STRING",
        "UseDevelopmentStorage=true",
    )])
    .expect("development storage");
    remote(&[
        ("ROOTMAIL_TABLE_ENDPOINT", "https://tables.example.com/acct"),
        ("ARM_SAS_TOKEN", "sv=1&sig=abc"),
    ])
    .expect("https");
}

#[test]
fn secrets_never_in_debug() {
    let settings = Settings {
        access_key: Some("KEY-123".into()),
        sas_token: Some("sig=SAS-456".into()),
        client_secret: Some("CS-789".into()),
        oidc_token: Some("OIDC-000".into()),
        connection_string: Some("AccountKey=CONN-111".into()),
        ..Default::default()
    };
    let text = format!("{settings:?}");
    for secret in ["KEY-123", "SAS-456", "CS-789", "OIDC-000", "CONN-111"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let env = lookup(&[("AZURE_STORAGE_ACCOUNT", "a")]);
    let err = TableConfig::resolve(&settings, &env).expect_err("five credentials");
    let text = err.to_string();
    assert!(
        text.contains("`connection_string`") && text.contains("`access_key`"),
        "{text}"
    );
    for secret in ["KEY-123", "SAS-456", "CS-789", "OIDC-000", "CONN-111"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let one = Settings {
        connection_string: settings.connection_string.clone(),
        ..Default::default()
    };
    let cfg = TableConfig::resolve(&one, &env).expect("config");
    assert!(!format!("{cfg:?}").contains("CONN-111"));
}

#[test]
fn two_credentials_are_refused_naming_both_and_where_they_came_from() {
    let err = from_env(&[
        ("AZURE_STORAGE_ACCOUNT", "acct"),
        ("ARM_ACCESS_KEY", "c2VjcmV0"),
        ("ARM_SAS_TOKEN", "sv=1&sig=abc"),
    ])
    .expect_err("key and SAS");
    let text = err.to_string();
    assert!(
        text.contains("`access_key` (from ARM_ACCESS_KEY)")
            && text.contains("`sas_token` (from ARM_SAS_TOKEN)")
            && text.contains("ROOTMAIL_ACCESS_KEY"),
        "{text}"
    );
    assert!(
        !text.contains("c2VjcmV0") && !text.contains("sig=abc"),
        "{text}"
    );
    // The state backend's key beside the pool's Azure AD settings.
    let err = from_env(&[
        ("AZURE_STORAGE_ACCOUNT", "acct"),
        ("ARM_ACCESS_KEY", "c2VjcmV0"),
        ("ARM_USE_MSI", "true"),
    ])
    .expect_err("key and managed identity");
    assert!(err.to_string().contains("ARM_USE_AZUREAD"), "{err}");
    // The pool's own key beside Azure AD settings (for Microsoft Graph):
    // the key is the table's.
    let cfg = from_env(&[
        ("AZURE_STORAGE_ACCOUNT", "acct"),
        ("ROOTMAIL_ACCESS_KEY", "cG9vbA=="),
        ("ARM_USE_MSI", "true"),
    ])
    .expect("the pool's key");
    assert_eq!(cfg.credential.kind(), CredentialKind::SharedKey);
    // Resolved: the pool's own key first, or Azure AD only.
    let cfg = from_env(&[
        ("AZURE_STORAGE_ACCOUNT", "acct"),
        ("ROOTMAIL_ACCESS_KEY", "cG9vbA=="),
        ("ARM_ACCESS_KEY", "c2VjcmV0"),
    ])
    .expect("the pool's key");
    assert_eq!(
        cfg.credential,
        Credential::SharedKey {
            key: "cG9vbA==".into()
        }
    );
    assert_eq!(
        cfg.origins.credential,
        "`access_key` (from ROOTMAIL_ACCESS_KEY)"
    );
    let cfg = from_env(&[
        ("AZURE_STORAGE_ACCOUNT", "acct"),
        ("ARM_ACCESS_KEY", "c2VjcmV0"),
        ("ARM_USE_AZUREAD", "true"),
        ("ARM_USE_MSI", "true"),
    ])
    .expect("Azure AD only");
    assert_eq!(cfg.credential.kind(), CredentialKind::ManagedIdentity);
    assert_eq!(
        cfg.origins.endpoint,
        EndpointOrigin::Account {
            account: "acct".into(),
            setting: "`storage_account` (from AZURE_STORAGE_ACCOUNT)".into()
        }
    );
}

#[test]
fn endpoint_account_and_bad_inputs() {
    let settings = Settings {
        endpoint: Some("https://acct.table.cosmos.azure.com/".into()),
        sas_token: Some("sv=x&sig=y".into()),
        ..Default::default()
    };
    let cfg = TableConfig::resolve(&settings, &lookup(&[])).expect("config");
    assert_eq!(cfg.account, "acct");
    assert_eq!(cfg.endpoint, "https://acct.table.cosmos.azure.com");
    let settings = Settings {
        account: Some("a".into()),
        access_key: Some("k".into()),
        table: Some("bad-name".into()),
        ..Default::default()
    };
    let err = TableConfig::resolve(&settings, &lookup(&[])).expect_err("bad table");
    assert!(err.to_string().contains("bad-name"));
    let err = from_env(&[("ARM_USE_MSI", "maybe")]).expect_err("bad flag");
    assert!(err.to_string().contains("ARM_USE_MSI"));
}
