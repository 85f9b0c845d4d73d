//! Azure AD end to end, as pipelines use it: the real terraform runs the
//! provider against Azurite over HTTPS with `--oauth basic` (which checks the
//! bearer token's issuer, audience and lifetime), and a loopback server
//! (testkit/src/azure_ad.rs) plays Entra ID, GitHub Actions' and Azure
//! DevOps' OIDC endpoints and App Service's managed identity endpoint, all
//! behind a test CA handed to the provider with `SSL_CERT_FILE`.
//!
//! One Azurite and one token server serve the whole file; every test has its
//! own table and its own client id, so the server's counts are per test.

use std::path::PathBuf;
use std::sync::OnceLock;

use rootmail::azure::Credential;
use rootmail::store::{AliasFilter, AliasPool, StoreConfig};
use testkit::azure_ad::{IdentityServer, ADO_SERVICE_CONNECTION, TENANT};
use testkit::terraform::TerraformDir;
use testkit::{azure_ad, azurite, terraform};

mod failures;
mod pipelines;

const OWNER: &str = "platform-team@company.com";
const MAILBOX: &str = "comp001@company.com";

/// Azurite over HTTPS with OAuth, its certificate from the token server's CA.
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

/// A table of its own, written with the emulator's key over HTTPS.
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

    /// Every row's id and ETag: any write changes the ETag.
    fn snapshot(&self) -> Vec<(String, String)> {
        let rows = self
            .rt
            .block_on(self.pool.list(&AliasFilter::default()))
            .expect("list");
        let mut out: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r.id.clone(), r.etag().to_owned()))
            .collect();
        out.sort();
        out
    }

    fn claimed(&self) -> usize {
        let rows = self
            .rt
            .block_on(self.pool.list(&AliasFilter::default()))
            .expect("list");
        rows.iter().filter(|r| r.in_use).count()
    }

    fn provider_block(&self) -> String {
        format!(
            "{}\nprovider \"rootmail\" {{\n  endpoint = \"{}\"\n  table    = \"{}\"\n}}\n",
            terraform::required_providers_block(),
            azurite_tls().endpoint(),
            self.table
        )
    }
}

fn unique_client() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A terraform directory with the network and tenant settings every mode shares.
fn tf_dir(pool: &Pool, body: &str) -> TerraformDir {
    prepare(TerraformDir::new(), pool, body)
}

fn prepare(mut dir: TerraformDir, pool: &Pool, body: &str) -> TerraformDir {
    dir.write("main.tf", &(pool.provider_block() + body));
    dir.env("SSL_CERT_FILE", ca_file().display().to_string())
        .env("AZURE_AUTHORITY_HOST", server().authority())
        .env("ARM_TENANT_ID", TENANT);
    for name in [
        "ARM_CLIENT_SECRET",
        "ARM_USE_OIDC",
        "ARM_OIDC_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "SYSTEM_OIDCREQUESTURI",
        "SYSTEM_ACCESSTOKEN",
        "ARM_USE_CLI",
        "ARM_USE_MSI",
        "HTTPS_PROXY",
        "NO_PROXY",
    ] {
        // Empty counts as unset for the provider; keeps the test's own environment out.
        dir.env(name, "");
    }
    dir
}

fn two_aliases() -> String {
    format!("resource \"rootmail_alias\" \"a\" {{\n  count = 2\n  owner = \"{OWNER}\"\n}}\n")
}

/// No secret the token server knows appears in `text`.
fn assert_no_secrets(text: &str, what: &str) {
    for secret in server().secrets() {
        assert!(
            !text.contains(&secret),
            "{what} contains a secret or token ({}…)",
            &secret[..8.min(secret.len())]
        );
    }
}

/// Apply two aliases, check them, destroy, check the pool is whole again.
fn apply_and_destroy(pool: &Pool, dir: &TerraformDir) {
    dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(pool.claimed(), 2, "two aliases claimed");
    let state = std::fs::read_to_string(dir.path().join("terraform.tfstate")).expect("state");
    assert!(
        state.contains(MAILBOX) || state.contains("company.com"),
        "{state}"
    );
    assert_no_secrets(&state, "the state");
    dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(pool.claimed(), 0, "destroy gave both back");
    assert_no_secrets(&dir.log(), "the terraform log");
}

#[test]
fn client_secret_apply_and_destroy_with_trace_logs_free_of_secrets() {
    let pool = Pool::seeded("secret", 4);
    let client = unique_client();
    let secret = format!("cs~{}", uuid::Uuid::new_v4().simple());
    server().register_client(&client, &secret);
    let mut dir = tf_dir(&pool, &two_aliases());
    dir.env("ARM_CLIENT_ID", client.clone())
        .env("ARM_CLIENT_SECRET", secret.clone())
        .env("TF_LOG", "TRACE");
    apply_and_destroy(&pool, &dir);
    let counts = server().counts(&client);
    assert!(
        counts.secret_grants >= 1 && counts.refused == 0,
        "{counts:?}"
    );
    assert!(
        dir.log().contains("rootmail"),
        "the trace log has the provider's lines"
    );
}

#[test]
fn azure_cli_apply_and_destroy_with_a_fake_az() {
    let pool = Pool::seeded("cli", 4);
    let bin = tempfile::tempdir().expect("tempdir");
    let token = server().mint_access_token("cli-user", 600);
    azure_ad::fake_az(bin.path(), &token, azure_ad::now() + 600);
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut dir = tf_dir(&pool, &two_aliases());
    dir.env("ARM_USE_CLI", "true").env("PATH", path);
    apply_and_destroy(&pool, &dir);
    let calls = std::fs::read_to_string(bin.path().join("az-calls.log")).expect("az was run");
    assert!(calls.contains("account get-access-token"), "{calls}");
}

#[test]
fn managed_identity_through_the_app_service_endpoint() {
    let pool = Pool::seeded("msi", 4);
    let (_, _, msi_before) = server().pipeline_requests();
    let proxy = azure_ad::ConnectProxy::start();
    let mut dir = tf_dir(&pool, &two_aliases());
    dir.env("ARM_USE_MSI", "true")
        .env("IDENTITY_ENDPOINT", server().msi_url())
        .env("IDENTITY_HEADER", server().msi_header.clone())
        .env("HTTPS_PROXY", proxy.url());
    apply_and_destroy(&pool, &dir);
    assert!(server().pipeline_requests().2 > msi_before);
    // The managed identity endpoint is local and never proxied; the table is.
    let targets = proxy.targets();
    assert!(
        !targets.contains(&format!("127.0.0.1:{}", server().port)),
        "{targets:?}"
    );
    assert!(
        targets.contains(&format!("127.0.0.1:{}", azurite_tls().port())),
        "{targets:?}"
    );
}

#[test]
fn tokens_are_cached_per_process() {
    let pool = Pool::seeded("cache", 5);
    let client = unique_client();
    let secret = format!("cs~{}", uuid::Uuid::new_v4().simple());
    server().register_client(&client, &secret);
    let mut config = StoreConfig::emulator(azurite_tls().endpoint(), &pool.table);
    config.connection.ca_file = Some(ca_file());
    config.connection.authority_host = server().authority();
    config.connection.credential = Credential::ClientSecret {
        tenant_id: TENANT.to_owned(),
        client_id: client.clone(),
        secret: secret.as_str().into(),
    };
    let reader = AliasPool::connect(&config).expect("connect");
    pool.rt.block_on(async {
        for _ in 0..4 {
            let stats = reader.stats(None).await.expect("stats with a bearer token");
            assert_eq!(stats.all.total, 5);
        }
    });
    assert!(reader.request_count() >= 4);
    assert_eq!(
        server().counts(&client).secret_grants,
        1,
        "one token for four requests"
    );
}

fn rootmail_cli(pool: &Pool, args: &[&str], envs: &[(&str, String)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rootmail"));
    cmd.args(args)
        .args([
            "--endpoint",
            &azurite_tls().endpoint(),
            "--table",
            &pool.table,
        ])
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
    cmd.output().expect("run rootmail")
}

#[test]
fn the_cli_signs_in_with_github_actions_oidc() {
    let pool = Pool::seeded("clitool", 3);
    let client = unique_client();
    let envs = vec![
        ("ARM_CLIENT_ID", client.clone()),
        ("ARM_USE_OIDC", "true".to_owned()),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", server().github_url()),
        (
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            server().github_request_token.clone(),
        ),
    ];
    let out = rootmail_cli(&pool, &["pool", "stats"], &envs);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains('3'), "{stdout}");
    assert_no_secrets(&stdout, "the CLI's output");
    assert_no_secrets(&stderr, "the CLI's logs");
    assert!(
        stderr.contains("new Azure AD token"),
        "trace logging was on: {stderr}"
    );
    assert!(server().counts(&client).assertion_grants >= 1);

    let mut bad = envs.clone();
    bad[3].1 = format!("ghbad-{}", uuid::Uuid::new_v4().simple());
    server().register_client(&unique_client(), &bad[3].1);
    let out = rootmail_cli(&pool, &["pool", "stats"], &bad);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("GitHub Actions") && stderr.contains("HTTP 401"),
        "{stderr}"
    );
    assert_no_secrets(&stderr, "the CLI's error");
}
