//! The azurerm sign-in modes beyond secrets and pipeline OIDC, end to end:
//! the real terraform (1.0.3 and the modern one) and the `rootmail` CLI
//! against Azurite over HTTPS with `--oauth basic`, with the loopback Entra
//! ID of testkit/src/azure_ad.rs, which verifies every certificate assertion
//! (signature against the registered certificate, thumbprint, audience,
//! issuer/subject, lifetime, each `jti` once), accepts only federated tokens
//! it issued and that have not expired (so a token file's content is
//! checked), and answers the instance metadata protocol only with
//! `Metadata: true`.
//!
//! Each test groups its cases into few terraform runs; every run logs at
//! TRACE and no log may hold a secret, password, key or assertion. Every
//! mode runs through terraform 1.0.3 (or, for the provider attributes, the
//! modern one) and the CLI; only the modern terraform may be absent, and
//! only its runs are then left out.

use std::path::PathBuf;
use std::sync::OnceLock;

use rootmail::store::{AliasFilter, AliasPool, StoreConfig};
use testkit::azure_ad::{IdentityServer, TENANT};
use testkit::client_certificate::TestCertificate;
use testkit::terraform::TerraformDir;
use testkit::{azurite, terraform};

const OWNER: &str = "platform-team@company.com";
const MAILBOX: &str = "comp001@company.com";

fn azurite_tls() -> &'static azurite::Azurite {
    static INSTANCE: OnceLock<azurite::Azurite> = OnceLock::new();
    INSTANCE.get_or_init(|| {
        let ca = &IdentityServer::shared().ca;
        let args = [
            "--oauth".to_owned(),
            "basic".to_owned(),
            "--cert".to_owned(),
            ca.cert_file().display().to_string(),
            "--key".to_owned(),
            ca.key_file().display().to_string(),
        ];
        let azurite = azurite::Azurite::start_with(&args, "https");
        azurite.kill_at_exit();
        azurite
    })
}

fn server() -> &'static IdentityServer {
    IdentityServer::shared()
}

fn ca_file() -> PathBuf {
    server().ca.ca_file()
}

/// A seeded table of its own, read with the emulator's key.
struct Pool {
    table: String,
    pool: AliasPool,
    rt: tokio::runtime::Runtime,
}

impl Pool {
    fn seeded(prefix: &str, count: usize) -> Pool {
        let table = azurite::unique_table_name(prefix);
        let mut config = StoreConfig::emulator(azurite_tls().endpoint(), &table);
        config.connection.ca_file = Some(ca_file());
        let pool = AliasPool::connect(&config).expect("connect");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async {
            pool.ensure_table().await.expect("create table");
            pool.seed(MAILBOX, "company.com", count)
                .await
                .expect("seed");
        });
        Pool { table, pool, rt }
    }

    fn claimed(&self) -> usize {
        let rows = self
            .rt
            .block_on(self.pool.list(&AliasFilter::default()))
            .expect("list");
        rows.iter().filter(|r| r.in_use).count()
    }

    /// The provider block, with `extra` attributes.
    fn provider_block(&self, extra: &str) -> String {
        format!(
            "{}\nprovider \"rootmail\" {{\n  endpoint = \"{}\"\n  table    = \"{}\"\n{extra}}}\n",
            terraform::required_providers_block(),
            azurite_tls().endpoint(),
            self.table
        )
    }
}

fn unique_client() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `dir` set up for `pool`: the network and tenant settings every mode
/// shares, every other sign-in variable emptied, logs at TRACE.
fn prepare(mut dir: TerraformDir, pool: &Pool, provider_extra: &str, body: &str) -> TerraformDir {
    dir.write("main.tf", &(pool.provider_block(provider_extra) + body));
    dir.env("SSL_CERT_FILE", ca_file().display().to_string())
        .env("AZURE_AUTHORITY_HOST", server().authority())
        .env("ARM_TENANT_ID", TENANT)
        .env("TF_LOG", "TRACE");
    for name in [
        "ARM_CLIENT_SECRET",
        "ARM_USE_OIDC",
        "ARM_OIDC_TOKEN",
        "ARM_USE_CLI",
        "ARM_USE_MSI",
        "HTTPS_PROXY",
        "NO_PROXY",
    ] {
        dir.env(name, "");
    }
    dir
}

fn two_aliases() -> String {
    format!("resource \"rootmail_alias\" \"a\" {{\n  count = 2\n  owner = \"{OWNER}\"\n}}\n")
}

fn assert_no_secrets(text: &str, what: &str) {
    for secret in server().secrets() {
        assert!(
            !text.contains(&secret),
            "{what} contains a secret, key, token or assertion ({}…)",
            &secret[..8.min(secret.len())]
        );
    }
}

/// Applies two aliases and destroys them, checking the pool and the logs.
fn apply_and_destroy(pool: &Pool, dir: &TerraformDir) {
    let out = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    assert_no_secrets(&out.stdout, "terraform's output");
    assert_eq!(pool.claimed(), 2, "two aliases claimed");
    let state = std::fs::read_to_string(dir.path().join("terraform.tfstate")).expect("state");
    assert_no_secrets(&state, "the state");
    dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(pool.claimed(), 0, "destroy gave both back");
    let log = dir.log();
    assert!(log.contains("new Azure AD token"), "trace logs were on");
    assert_no_secrets(&log, "the terraform log");
}

/// `rootmail pool stats` with `envs`; stdout and stderr (trace logs).
fn rootmail_cli(pool: &Pool, envs: &[(&str, String)]) -> (bool, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rootmail"));
    cmd.args(["pool", "stats", "--endpoint", &azurite_tls().endpoint()])
        .args(["--table", &pool.table])
        .env("SSL_CERT_FILE", ca_file())
        .env("AZURE_AUTHORITY_HOST", server().authority())
        .env("ARM_TENANT_ID", TENANT)
        .env("ROOTMAIL_LOG", "trace");
    for name in [
        "ARM_CLIENT_SECRET",
        "ARM_OIDC_TOKEN",
        "HTTPS_PROXY",
        "ROOTMAIL_USE_EMULATOR",
    ] {
        cmd.env_remove(name);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run rootmail");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert_no_secrets(&stdout, "the CLI's output");
    assert_no_secrets(&stderr, "the CLI's logs");
    (out.status.success(), stdout, stderr)
}

/// A certificate registered for a fresh client; its password and key are
/// secrets for the leak checks.
fn registered_certificate() -> (String, TestCertificate) {
    let client = unique_client();
    let cert = TestCertificate::new(30);
    server().register_certificate(&client, &cert.der);
    server().add_secret(&cert.password);
    server().add_secret(&cert.pfx_base64());
    for line in cert.key_pem.lines().filter(|l| l.len() > 40) {
        server().add_secret(line);
    }
    (client, cert)
}

#[test]
fn client_certificates_as_pfx_with_a_password_base64_and_pem() {
    let pool = Pool::seeded("cert", 4);
    let files = tempfile::tempdir().expect("tempdir");

    // Terraform 1.0.3, the documented variables: a PFX file and its password.
    let (client, cert) = registered_certificate();
    let pfx = files.path().join("client.pfx");
    std::fs::write(&pfx, &cert.pfx).expect("pfx");
    let mut dir = prepare(TerraformDir::new(), &pool, "", &two_aliases());
    dir.env("ARM_CLIENT_ID", client.clone())
        .env("ARM_CLIENT_CERTIFICATE_PATH", pfx.display().to_string())
        .env("ARM_CLIENT_CERTIFICATE_PASSWORD", cert.password.clone());
    apply_and_destroy(&pool, &dir);
    let counts = server().counts(&client);
    assert!(counts.certificate_grants >= 1, "{counts:?}");
    assert_eq!(counts.refused, 0, "{counts:?}");
    let assertions = server().presented(&client);
    let distinct: std::collections::BTreeSet<&String> = assertions.iter().collect();
    assert_eq!(
        distinct.len(),
        assertions.len(),
        "an assertion was sent twice"
    );

    // The modern terraform, the provider attributes: the PFX as base64 content.
    if let Some(modern) = TerraformDir::modern() {
        let (client, cert) = registered_certificate();
        let extra = "  client_certificate          = var.certificate\n  \
                     client_certificate_password = var.password\n  client_id = var.client\n";
        let body = format!(
            "{}variable \"certificate\" {{\n  sensitive = true\n}}\nvariable \"password\" {{\n  sensitive = true\n}}\nvariable \"client\" {{}}\n",
            two_aliases()
        );
        let mut dir = prepare(modern, &pool, extra, &body);
        dir.env("TF_VAR_certificate", cert.pfx_base64())
            .env("TF_VAR_password", cert.password.clone())
            .env("TF_VAR_client", client.clone());
        apply_and_destroy(&pool, &dir);
        assert!(server().counts(&client).certificate_grants >= 1);
        assert_eq!(server().counts(&client).refused, 0);
    }

    // The CLI: PEM (certificate and key) by path, and the PFX as ARM_CLIENT_CERTIFICATE.
    let (client, cert) = registered_certificate();
    let pem = files.path().join("client.pem");
    std::fs::write(&pem, &cert.pem).expect("pem");
    let (ok, stdout, stderr) = rootmail_cli(
        &pool,
        &[
            ("ARM_CLIENT_ID", client.clone()),
            ("ARM_CLIENT_CERTIFICATE_PATH", pem.display().to_string()),
        ],
    );
    assert!(ok && stdout.contains('4'), "{stdout}\n{stderr}");
    let (ok, stdout, stderr) = rootmail_cli(
        &pool,
        &[
            ("ARM_CLIENT_ID", client.clone()),
            ("ARM_CLIENT_CERTIFICATE", cert.pfx_base64()),
            ("ARM_CLIENT_CERTIFICATE_PASSWORD", cert.password.clone()),
        ],
    );
    assert!(ok, "{stdout}\n{stderr}");
    assert_eq!(server().counts(&client).certificate_grants, 2);
}

#[test]
fn a_wrong_certificate_password_or_an_expired_or_unregistered_certificate_is_refused() {
    let pool = Pool::seeded("badcert", 2);
    let files = tempfile::tempdir().expect("tempdir");
    let (client, cert) = registered_certificate();
    let pfx = files.path().join("client.pfx");
    std::fs::write(&pfx, &cert.pfx).expect("pfx");

    // A wrong password: refused before any request, at the password setting.
    let wrong = format!("wrong-{}", uuid::Uuid::new_v4().simple());
    server().add_secret(&wrong);
    let (ok, _, stderr) = rootmail_cli(
        &pool,
        &[
            ("ARM_CLIENT_ID", client.clone()),
            ("ARM_CLIENT_CERTIFICATE_PATH", pfx.display().to_string()),
            ("ARM_CLIENT_CERTIFICATE_PASSWORD", wrong),
        ],
    );
    assert!(
        !ok && stderr.contains("client_certificate_password"),
        "{stderr}"
    );

    // An expired certificate: refused before any request, saying when it expired.
    let expired = TestCertificate::new(-1);
    server().register_certificate(&client, &expired.der);
    server().add_secret(&expired.password);
    let old = files.path().join("expired.pfx");
    std::fs::write(&old, &expired.pfx).expect("pfx");
    let (ok, _, stderr) = rootmail_cli(
        &pool,
        &[
            ("ARM_CLIENT_ID", client.clone()),
            ("ARM_CLIENT_CERTIFICATE_PATH", old.display().to_string()),
            ("ARM_CLIENT_CERTIFICATE_PASSWORD", expired.password.clone()),
        ],
    );
    assert!(!ok && stderr.contains("expired on"), "{stderr}");
    assert_eq!(
        server().counts(&client).certificate_grants,
        0,
        "nothing was sent"
    );

    // A certificate the app registration does not have: Entra ID refuses it,
    // and terraform shows that, naming the mode, without changing a row.
    let stranger = TestCertificate::new(30);
    server().add_secret(&stranger.password);
    let other = files.path().join("stranger.pfx");
    std::fs::write(&other, &stranger.pfx).expect("pfx");
    let body = format!("resource \"rootmail_alias\" \"a\" {{\n  owner = \"{OWNER}\"\n}}\n");
    let mut dir = prepare(TerraformDir::new(), &pool, "", &body);
    dir.env("ARM_CLIENT_ID", client.clone())
        .env("ARM_CLIENT_CERTIFICATE_PATH", other.display().to_string())
        .env("ARM_CLIENT_CERTIFICATE_PASSWORD", stranger.password.clone());
    let out = dir.run_err(&["apply", "-auto-approve", "-no-color"]);
    let text = terraform::flat(&out.stderr);
    assert!(
        text.contains("Azure AD client certificate") && text.contains("AADSTS700027"),
        "{}",
        out.stderr
    );
    assert_no_secrets(&out.stderr, "the diagnostic");
    assert_no_secrets(&dir.log(), "the terraform log");
    assert_eq!(pool.claimed(), 0);
    let counts = server().counts(&client);
    assert!(counts.last_refusal.contains("not registered"), "{counts:?}");
}

#[test]
fn aks_workload_identity_picks_up_a_rotated_token_file() {
    let pool = Pool::seeded("aks", 4);
    let client = unique_client();
    let tokens = tempfile::tempdir().expect("tempdir");
    let file = tokens.path().join("azure-identity-token");
    // The first token expires while the apply waits; the kubelet's rotated
    // one is written in the middle of the apply.
    let lifetime = server().token_lifetime + 2;
    std::fs::write(&file, server().mint_assertion(lifetime)).expect("token");
    let rotated = server().mint_assertion(600);
    let rotated_file = tokens.path().join("rotated");
    std::fs::write(&rotated_file, &rotated).expect("rotated token");
    let body = format!(
        "resource \"rootmail_alias\" \"first\" {{\n  owner = \"{OWNER}\"\n}}\n\
         resource \"terraform_data\" \"rotate\" {{\n  depends_on = [rootmail_alias.first]\n  \
         provisioner \"local-exec\" {{\n    command = \"cp {} {} && sleep {}\"\n  }}\n}}\n\
         resource \"rootmail_alias\" \"second\" {{\n  owner = \"{OWNER}\"\n  depends_on = [terraform_data.rotate]\n}}\n",
        rotated_file.display(),
        file.display(),
        lifetime + 4,
    );
    let webhook = |dir: &mut TerraformDir| {
        dir.env("ARM_TENANT_ID", "")
            .env("ARM_USE_AKS_WORKLOAD_IDENTITY", "true")
            .env("AZURE_CLIENT_ID", client.clone())
            .env("AZURE_TENANT_ID", TENANT)
            .env("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string());
    };
    // `terraform_data` (to rotate the file mid-apply) needs a modern
    // Terraform; only this run may be left out when it is absent.
    if let Some(modern) = TerraformDir::modern() {
        let mut dir = prepare(modern, &pool, "", &body);
        webhook(&mut dir);
        dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        assert_eq!(pool.claimed(), 2);
        let presented = server().presented(&client);
        assert!(
            presented.contains(&rotated),
            "the rotated token was read and exchanged"
        );
        assert_eq!(
            server().counts(&client).refused,
            0,
            "no expired token was sent"
        );
        dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
        assert_eq!(pool.claimed(), 0);
        assert_no_secrets(&dir.log(), "the terraform log");
    }

    // Terraform 1.0.3 and the CLI, with the webhook's variables only (and
    // a token that outlives both runs, whether or not the file rotated).
    std::fs::write(&file, &rotated).expect("token");
    let grants = server().counts(&client).assertion_grants;
    let mut dir = prepare(TerraformDir::new(), &pool, "", &two_aliases());
    webhook(&mut dir);
    apply_and_destroy(&pool, &dir);
    let (ok, stdout, stderr) = rootmail_cli(
        &pool,
        &[
            ("ARM_TENANT_ID", String::new()),
            ("ARM_USE_AKS_WORKLOAD_IDENTITY", "true".to_owned()),
            ("AZURE_CLIENT_ID", client.clone()),
            ("AZURE_TENANT_ID", TENANT.to_owned()),
            ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
        ],
    );
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        server().counts(&client).assertion_grants >= grants + 2,
        "terraform 1.0.3 and the CLI exchanged the file's token"
    );
    // A file holding a token Entra ID never issued is refused.
    std::fs::write(&file, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln").expect("bogus");
    let (ok, _, stderr) = rootmail_cli(
        &pool,
        &[
            ("ARM_USE_AKS_WORKLOAD_IDENTITY", "true".to_owned()),
            ("AZURE_CLIENT_ID", client.clone()),
            ("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()),
        ],
    );
    assert!(!ok && stderr.contains("AADSTS700211"), "{stderr}");
}

#[test]
fn managed_identity_through_a_custom_endpoint_speaking_the_vm_metadata_protocol() {
    let pool = Pool::seeded("imds", 4);
    if let Some(modern) = TerraformDir::modern() {
        let before = server().imds_requests();
        let mut dir = prepare(modern, &pool, "", &two_aliases());
        dir.env("ARM_USE_MSI", "true")
            .env("ARM_MSI_ENDPOINT", server().imds_url())
            .env("IDENTITY_ENDPOINT", server().msi_url());
        apply_and_destroy(&pool, &dir);
        assert!(
            server().imds_requests() > before,
            "ARM_MSI_ENDPOINT wins over IDENTITY_ENDPOINT"
        );
    }

    let before = server().imds_requests();
    let mut dir = prepare(
        TerraformDir::new(),
        &pool,
        &format!(
            "  use_msi = true\n  msi_endpoint = \"{}\"\n",
            server().imds_url()
        ),
        &two_aliases(),
    );
    dir.env("ARM_CLIENT_ID", "");
    apply_and_destroy(&pool, &dir);
    assert!(server().imds_requests() > before, "terraform 1.0.3");

    // The CLI, with App Service's variables set too: ARM_MSI_ENDPOINT wins.
    let (msi_before, before) = (server().pipeline_requests().2, server().imds_requests());
    let (ok, stdout, stderr) = rootmail_cli(
        &pool,
        &[
            ("ARM_USE_MSI", "true".to_owned()),
            ("ARM_MSI_ENDPOINT", server().imds_url()),
            ("IDENTITY_ENDPOINT", server().msi_url()),
            ("IDENTITY_HEADER", server().msi_header.clone()),
            ("ARM_CLIENT_ID", unique_client()),
        ],
    );
    assert!(ok, "{stdout}\n{stderr}");
    assert!(server().imds_requests() > before, "the CLI");
    assert_eq!(
        server().pipeline_requests().2,
        msi_before,
        "IDENTITY_ENDPOINT was not asked"
    );
}

#[test]
fn secrets_and_client_ids_from_files_and_the_azure_devops_task_variable() {
    let pool = Pool::seeded("files", 4);
    let client = unique_client();
    let secret = format!("cs~{}", uuid::Uuid::new_v4().simple());
    server().register_client(&client, &secret);
    let files = tempfile::tempdir().expect("tempdir");
    let (id_file, secret_file) = (files.path().join("client-id"), files.path().join("secret"));
    std::fs::write(&id_file, format!("{client}\n")).expect("id");
    std::fs::write(&secret_file, format!("{secret}\n")).expect("secret");
    let mut dir = prepare(TerraformDir::new(), &pool, "", &two_aliases());
    dir.env("ARM_CLIENT_ID_FILE_PATH", id_file.display().to_string())
        .env(
            "ARM_CLIENT_SECRET_FILE_PATH",
            secret_file.display().to_string(),
        );
    apply_and_destroy(&pool, &dir);
    assert!(server().counts(&client).secret_grants >= 1);

    if let Some(modern) = TerraformDir::modern() {
        let extra = format!(
            "  client_id_file_path     = \"{}\"\n  client_secret_file_path = \"{}\"\n",
            id_file.display(),
            secret_file.display()
        );
        let dir = prepare(modern, &pool, &extra, &two_aliases());
        apply_and_destroy(&pool, &dir);
    }

    // The CLI, with the same variables.
    let grants = server().counts(&client).secret_grants;
    let (ok, stdout, stderr) = rootmail_cli(
        &pool,
        &[
            ("ARM_CLIENT_ID_FILE_PATH", id_file.display().to_string()),
            (
                "ARM_CLIENT_SECRET_FILE_PATH",
                secret_file.display().to_string(),
            ),
        ],
    );
    assert!(ok && stdout.contains('4'), "{stdout}\n{stderr}");
    assert!(server().counts(&client).secret_grants > grants);

    // Azure DevOps' AzureCLI@2 task: its service connection variable
    // completes OIDC, with the job's access token; terraform 1.0.3 and the CLI.
    let ado_client = unique_client();
    let mut dir = prepare(TerraformDir::new(), &pool, "", &two_aliases());
    dir.env("ARM_CLIENT_ID", ado_client.clone())
        .env("ARM_USE_OIDC", "true")
        .env(
            "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
            testkit::azure_ad::ADO_SERVICE_CONNECTION,
        )
        .env("SYSTEM_OIDCREQUESTURI", server().ado_url())
        .env("SYSTEM_ACCESSTOKEN", server().ado_request_token.clone());
    apply_and_destroy(&pool, &dir);
    let grants = server().counts(&ado_client).assertion_grants;
    assert!(grants >= 1, "terraform");
    let (ok, stdout, stderr) = rootmail_cli(
        &pool,
        &[
            ("ARM_CLIENT_ID", ado_client.clone()),
            ("ARM_USE_OIDC", "true".to_owned()),
            (
                "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
                testkit::azure_ad::ADO_SERVICE_CONNECTION.to_owned(),
            ),
            ("SYSTEM_OIDCREQUESTURI", server().ado_url()),
            ("SYSTEM_ACCESSTOKEN", server().ado_request_token.clone()),
        ],
    );
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        server().counts(&ado_client).assertion_grants > grants,
        "the CLI"
    );
}

#[test]
fn a_custom_cloud_is_discovered_from_its_metadata_host() {
    let pool = Pool::seeded("stack", 4);
    let client = unique_client();
    let secret = format!("cs~{}", uuid::Uuid::new_v4().simple());
    server().register_client(&client, &secret);
    let host = format!("127.0.0.1:{}", server().port);
    let before = server().metadata_requests();
    // No AZURE_AUTHORITY_HOST: the login endpoint comes from the metadata
    // (the public cloud's would not answer here).
    let mut dir = prepare(TerraformDir::new(), &pool, "", &two_aliases());
    dir.env("AZURE_AUTHORITY_HOST", "")
        .env("ARM_METADATA_HOSTNAME", host.clone())
        .env("ARM_ENVIRONMENT", testkit::azure_ad::CUSTOM_CLOUD)
        .env("ARM_CLIENT_ID", client.clone())
        .env("ARM_CLIENT_SECRET", secret.clone());
    apply_and_destroy(&pool, &dir);
    assert!(server().metadata_requests() > before);
    assert!(server().counts(&client).secret_grants >= 1);
    // The modern terraform, with the provider's attributes.
    if let Some(modern) = TerraformDir::modern() {
        let before = server().metadata_requests();
        let extra = format!(
            "  metadata_host = \"{host}\"\n  environment   = \"{}\"\n",
            testkit::azure_ad::CUSTOM_CLOUD
        );
        let mut dir = prepare(modern, &pool, &extra, &two_aliases());
        dir.env("AZURE_AUTHORITY_HOST", "")
            .env("ARM_CLIENT_ID", client.clone())
            .env("ARM_CLIENT_SECRET", secret.clone());
        apply_and_destroy(&pool, &dir);
        assert!(
            server().metadata_requests() > before,
            "the modern terraform"
        );
    }
    let (ok, stdout, stderr) = rootmail_cli(
        &pool,
        &[
            ("AZURE_AUTHORITY_HOST", String::new()),
            ("ARM_METADATA_HOSTNAME", host.clone()),
            ("ARM_ENVIRONMENT", "azurestackrootmail".to_owned()),
            ("ARM_CLIENT_ID", client.clone()),
            ("ARM_CLIENT_SECRET", secret.clone()),
        ],
    );
    assert!(ok, "{stdout}\n{stderr}");
    // A name the metadata does not list is named with the ones it does.
    let (ok, _, stderr) = rootmail_cli(
        &pool,
        &[
            ("ARM_METADATA_HOSTNAME", host),
            ("ARM_ENVIRONMENT", "Mars".to_owned()),
            ("ARM_CLIENT_ID", client),
            ("ARM_CLIENT_SECRET", secret),
        ],
    );
    assert!(
        !ok && stderr.contains("AzureStackRootmail") && stderr.contains("metadata_host"),
        "{stderr}"
    );
}

#[test]
fn the_entra_id_stand_in_refuses_what_entra_id_refuses() {
    use rootmail::azure::ClientCertificate;
    use testkit::client_certificate::verify;
    let endpoint = format!("{}/{TENANT}/oauth2/v2.0/token", server().authority());
    let cert = TestCertificate::new(30);
    let signer = ClientCertificate::from_bytes(&cert.pfx, Some(&cert.password)).expect("pfx");
    let registered = vec![cert.der.clone()];
    let mut seen = std::collections::HashSet::new();
    let good = signer.assertion("c", &endpoint).expect("signed");
    verify(&good, "c", &endpoint, &registered, &mut seen).expect("a good assertion");
    let refused = |assertion: &str, client: &str, seen: &mut _| {
        verify(assertion, client, &endpoint, &registered, seen).expect_err("refused")
    };
    assert!(refused(&good, "c", &mut seen).contains("jti"), "used twice");
    let other_aud = signer
        .assertion("c", "https://elsewhere/token")
        .expect("signed");
    assert!(refused(&other_aud, "c", &mut seen).contains("audience"));
    let fresh = signer.assertion("c", &endpoint).expect("signed");
    assert!(refused(&fresh, "someone-else", &mut seen).contains("iss and sub"));
    // A signature that does not verify (one character of it changed).
    let fresh = signer.assertion("c", &endpoint).expect("signed");
    let mut parts: Vec<String> = fresh.split('.').map(str::to_owned).collect();
    let middle = parts[2].len() / 2;
    let flipped = if &parts[2][middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    parts[2].replace_range(middle..=middle, flipped);
    assert!(refused(&parts.join("."), "c", &mut seen).contains("signature"));
    // Signed by a certificate the client never registered.
    let stranger = TestCertificate::new(30);
    let stranger = ClientCertificate::from_bytes(stranger.pem.as_bytes(), None).expect("pem");
    let theirs = stranger.assertion("c", &endpoint).expect("signed");
    assert!(refused(&theirs, "c", &mut seen).contains("not registered"));
    // The wrong password does not open the archive.
    assert!(ClientCertificate::from_bytes(&cert.pfx, Some("wrong")).is_err());
}
