//! The choice among credentials, from environments made of a few variables.

use super::*;
use crate::azure::config::tests::{from_env, lookup};
use crate::azure::CredentialKind;
use std::path::PathBuf;

const PIPELINE_IDS: [(&str, &str); 3] = [
    ("AZURE_STORAGE_ACCOUNT", "acct"),
    ("ARM_TENANT_ID", "t"),
    ("ARM_CLIENT_ID", "c"),
];

#[test]
fn github_actions_token_is_requested_with_use_oidc() {
    let mut vars = PIPELINE_IDS.to_vec();
    vars.extend([
        ("ARM_USE_OIDC", "true"),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "https://gh.example/t?api-version=2.0",
        ),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-secret"),
        ("SYSTEM_OIDCREQUESTURI", "https://ado.example/oidc"),
    ]);
    let cfg = from_env(&vars).expect("config");
    assert_eq!(cfg.credential.kind(), CredentialKind::GitHubOidc);
    assert_eq!(
        cfg.credential,
        Credential::Federated {
            tenant_id: "t".into(),
            client_id: "c".into(),
            token: FederatedToken::GitHubActions {
                request_url: "https://gh.example/t?api-version=2.0".into(),
                request_token: "gh-request-secret".into(),
            },
        }
    );
    assert!(!format!("{cfg:?}").contains("gh-request-secret"));
    // ARM_OIDC_REQUEST_* win over the pipeline's own variables.
    vars.push(("ARM_OIDC_REQUEST_URL", "https://override.example/t"));
    let cfg = from_env(&vars).expect("config");
    assert!(matches!(cfg.credential, Credential::Federated {
        token: FederatedToken::GitHubActions { ref request_url, .. }, ..
    } if request_url == "https://override.example/t"));
}

#[test]
fn azure_devops_token_is_requested_for_a_service_connection() {
    let mut vars = PIPELINE_IDS.to_vec();
    vars.extend([
        ("ARM_OIDC_AZURE_SERVICE_CONNECTION_ID", "sc-1"),
        ("SYSTEM_OIDCREQUESTURI", "https://ado.example/oidc"),
        ("SYSTEM_ACCESSTOKEN", "ado-secret"),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://gh.example/t"),
    ]);
    let cfg = from_env(&vars).expect("config");
    assert_eq!(cfg.credential.kind(), CredentialKind::AzureDevOpsOidc);
    assert!(matches!(cfg.credential, Credential::Federated {
        token: FederatedToken::AzureDevOps { ref request_url, ref service_connection_id, .. }, ..
    } if request_url == "https://ado.example/oidc" && service_connection_id == "sc-1"));
    vars.retain(|(k, _)| *k != "SYSTEM_ACCESSTOKEN");
    let err = from_env(&vars).expect_err("no token");
    assert!(err.to_string().contains("SYSTEM_ACCESSTOKEN"), "{err}");
}

#[test]
fn each_credential_alone_is_used_and_any_two_are_refused_naming_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("rsa");
    let cert = rcgen::CertificateParams::new(vec!["c".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    let pem = dir.path().join("client.pem");
    std::fs::write(&pem, format!("{}{}", cert.pem(), key.serialize_pem())).expect("pem");
    let pem = pem.display().to_string();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "jwt").expect("token");
    let token_file = token_file.display().to_string();
    let ways = [
        (
            ("ARM_CLIENT_CERTIFICATE_PATH", pem.as_str()),
            CredentialKind::ClientCertificate,
        ),
        (("ARM_CLIENT_SECRET", "s"), CredentialKind::ClientSecret),
        (
            ("ARM_OIDC_TOKEN_FILE_PATH", token_file.as_str()),
            CredentialKind::Federated,
        ),
        (("ARM_USE_MSI", "true"), CredentialKind::ManagedIdentity),
        (("ARM_USE_CLI", "true"), CredentialKind::AzureCli),
    ];
    for (i, (var, kind)) in ways.iter().enumerate() {
        let mut vars = PIPELINE_IDS.to_vec();
        vars.push(*var);
        assert_eq!(from_env(&vars).expect("config").credential.kind(), *kind);
        for (other, _) in &ways[i + 1..] {
            let mut both = vars.clone();
            both.push(*other);
            let err = from_env(&both).expect_err("two credentials");
            let text = err.to_string();
            assert!(
                text.contains(&format!("from {})", var.0))
                    && text.contains(&format!("from {})", other.0)),
                "{text}"
            );
        }
    }
}

#[test]
fn ids_and_secrets_from_files_must_agree_with_the_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.display().to_string()
    };
    let (id, secret) = (write("id", "c-from-file\n"), write("secret", " s3cr3t \n"));
    let vars = [
        ("AZURE_STORAGE_ACCOUNT", "acct"),
        ("ARM_TENANT_ID", "t"),
        ("ARM_CLIENT_ID_FILE_PATH", id.as_str()),
        ("ARM_CLIENT_SECRET_FILE_PATH", secret.as_str()),
    ];
    let cfg = from_env(&vars).expect("config");
    assert_eq!(
        cfg.credential,
        Credential::ClientSecret {
            tenant_id: "t".into(),
            client_id: "c-from-file".into(),
            secret: "s3cr3t".into(),
        }
    );
    let mut clash = vars.to_vec();
    clash.push(("ARM_CLIENT_SECRET", "another"));
    let err = from_env(&clash).expect_err("two secrets");
    assert_eq!(err.setting(), Some(&CLIENT_SECRET_FILE_PATH));
    assert!(!err.to_string().contains("s3cr3t") && !err.to_string().contains("another"));
    let mut missing = vars.to_vec();
    missing[3].1 = "/nonexistent/secret";
    let err = from_env(&missing).expect_err("no file");
    assert_eq!(err.setting(), Some(&CLIENT_SECRET_FILE_PATH), "{err}");
}

#[test]
fn aks_workload_identity_reads_what_the_webhook_injects() {
    let vars = [
        ("AZURE_STORAGE_ACCOUNT", "acct"),
        ("ARM_USE_AKS_WORKLOAD_IDENTITY", "true"),
        ("AZURE_TENANT_ID", "t"),
        ("AZURE_CLIENT_ID", "c"),
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            "/var/run/secrets/azure/tokens/azure-identity-token",
        ),
        ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us/"),
    ];
    let cfg = from_env(&vars).expect("config");
    assert_eq!(
        cfg.credential,
        Credential::Federated {
            tenant_id: "t".into(),
            client_id: "c".into(),
            token: FederatedToken::File(
                "/var/run/secrets/azure/tokens/azure-identity-token".into()
            ),
        }
    );
    assert_eq!(cfg.authority_host, "https://login.microsoftonline.us");
    let err = from_env(&vars[..5]).map(drop);
    assert!(err.is_ok());
    let err = from_env(&vars[..4]).expect_err("no token file");
    assert_eq!(err.setting(), Some(&OIDC_TOKEN_FILE_PATH));
    assert!(
        err.to_string().contains("AZURE_FEDERATED_TOKEN_FILE"),
        "{err}"
    );
}

#[test]
fn the_ado_task_variable_completes_oidc_but_never_turns_it_on() {
    let mut vars = PIPELINE_IDS.to_vec();
    vars.extend([
        ("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID", "sc-task"),
        ("SYSTEM_OIDCREQUESTURI", "https://ado.example/oidc"),
        ("SYSTEM_ACCESSTOKEN", "ado-secret"),
        ("ARM_CLIENT_SECRET", "s"),
    ]);
    // AzureCLI@2 sets it in every job: a client secret stays the choice.
    assert_eq!(
        from_env(&vars).expect("config").credential.kind(),
        CredentialKind::ClientSecret
    );
    vars.pop();
    vars.push(("ARM_USE_OIDC", "true"));
    let cfg = from_env(&vars).expect("config");
    assert!(
        matches!(cfg.credential, Credential::Federated {
        token: FederatedToken::AzureDevOps { ref service_connection_id, .. }, ..
    } if service_connection_id == "sc-task"),
        "{:?}",
        cfg.credential
    );
    // The ARM_ variable wins over the task's.
    vars.push(("ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID", "sc-arm"));
    let cfg = from_env(&vars).expect("config");
    assert!(matches!(cfg.credential, Credential::Federated {
        token: FederatedToken::AzureDevOps { ref service_connection_id, .. }, ..
    } if service_connection_id == "sc-arm"));
}

#[test]
fn a_plain_http_oidc_request_url_is_refused_at_its_setting() {
    for (url_var, token_var, extra) in [
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            None,
        ),
        (
            "SYSTEM_OIDCREQUESTURI",
            "SYSTEM_ACCESSTOKEN",
            Some(("ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID", "sc-1")),
        ),
        ("ARM_OIDC_REQUEST_URL", "ARM_OIDC_REQUEST_TOKEN", None),
    ] {
        for host in ["pipelines.example", "x.localhost"] {
            let mut vars = PIPELINE_IDS.to_vec();
            let url = format!("http://{host}/oidc?api-version=2.0");
            vars.extend([
                ("ARM_USE_OIDC", "true"),
                (url_var, &url),
                (token_var, "req-secret"),
            ]);
            vars.extend(extra);
            let err = from_env(&vars).expect_err("plain http");
            assert_eq!(err.setting(), Some(&OIDC_REQUEST_URL), "{url_var}: {err}");
            let text = err.to_string();
            assert!(text.contains("https") && text.contains(host), "{text}");
            assert!(!text.contains("req-secret"), "{text}");
        }
        // Loopback is fine (a local stand-in).
        let mut vars = PIPELINE_IDS.to_vec();
        vars.extend([
            ("ARM_USE_OIDC", "true"),
            (url_var, "http://127.0.0.1:8080/oidc"),
            (token_var, "req-secret"),
        ]);
        vars.extend(extra);
        from_env(&vars).expect("loopback");
    }
}

#[test]
fn missing_pipeline_variables_are_named() {
    let mut vars = PIPELINE_IDS.to_vec();
    vars.push(("ARM_USE_OIDC", "true"));
    let err = from_env(&vars).expect_err("none");
    assert!(err.to_string().contains("id-token: write"), "{err}");
    vars.push(("ACTIONS_ID_TOKEN_REQUEST_URL", "https://gh.example/t"));
    let err = from_env(&vars).expect_err("no token");
    assert!(
        err.to_string().contains("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        "{err}"
    );
    // Explicit `use_oidc` takes the tenant and client from the environment.
    let explicit = Settings {
        use_oidc: Some(true),
        oidc_token: Some("jwt".into()),
        ..Default::default()
    };
    let cfg =
        crate::azure::TableConfig::resolve(&explicit, &lookup(&PIPELINE_IDS)).expect("config");
    assert_eq!(cfg.credential.kind(), CredentialKind::Federated);
}

#[test]
fn clouds_pick_authority_and_suffix() {
    let mut vars = vec![("AZURE_STORAGE_ACCOUNT", "acct"), ("ARM_USE_CLI", "true")];
    let cfg = from_env(&vars).expect("config");
    assert_eq!(cfg.authority_host, "https://login.microsoftonline.com");
    vars.push(("ARM_ENVIRONMENT", "usgovernment"));
    let cfg = from_env(&vars).expect("config");
    assert_eq!(cfg.endpoint, "https://acct.table.core.usgovcloudapi.net");
    assert_eq!(cfg.authority_host, "https://login.microsoftonline.us");
    vars.push(("AZURE_AUTHORITY_HOST", "https://127.0.0.1:8443/"));
    vars.push(("SSL_CERT_FILE", "/etc/corp-ca.pem"));
    let cfg = from_env(&vars).expect("config");
    assert_eq!(cfg.authority_host, "https://127.0.0.1:8443");
    assert_eq!(cfg.ca_file, Some(PathBuf::from("/etc/corp-ca.pem")));
    vars.push(("ARM_ENVIRONMENT", "mars"));
    let err = from_env(&[
        ("ARM_ENVIRONMENT", "mars"),
        ("ARM_USE_CLI", "true"),
        ("AZURE_STORAGE_ACCOUNT", "a"),
    ])
    .expect_err("unknown cloud");
    assert!(err.to_string().contains("ARM_ENVIRONMENT"), "{err}");
}
