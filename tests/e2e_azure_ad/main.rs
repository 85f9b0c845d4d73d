//! Azure AD end to end, as pipelines use it: the real terraform runs the
//! provider against Azurite over HTTPS with `--oauth basic` (which checks the
//! bearer token's issuer, audience and lifetime), and a loopback server
//! (testkit/src/azure_ad.rs) plays Entra ID, GitHub Actions' and Azure
//! DevOps' OIDC endpoints and App Service's managed identity endpoint, all
//! behind a test CA handed to the provider with `SSL_CERT_FILE`.
//!
//! One Azurite and one token server serve the whole file; every test has its
//! own table and its own client id, so the server's counts are per test.

use rootmail::azure::Credential;
use rootmail::store::{AliasPool, StoreConfig};
use testkit::azure_ad::{self, ADO_SERVICE_CONNECTION, TENANT};
use testkit::oauth_pool::{
    assert_no_secrets, azurite_tls, ca_file, prepare, rootmail_cli, server, two_aliases,
    unique_client, OAuthPool,
};
use testkit::pool::{MAILBOX, OWNER};
use testkit::terraform::{self, TerraformDir};

mod failures;
mod pipelines;

/// A terraform directory with the network and tenant settings every mode shares.
fn tf_dir(pool: &OAuthPool, body: &str) -> TerraformDir {
    prepare(TerraformDir::new(), pool, "", body)
}

/// Apply two aliases, check them, destroy, check the pool is whole again.
fn apply_and_destroy(pool: &OAuthPool, dir: &TerraformDir) {
    let applied = testkit::oauth_pool::apply_and_destroy(pool, dir);
    assert!(
        applied.state.contains(MAILBOX) || applied.state.contains("company.com"),
        "{}",
        applied.state
    );
}

#[test]
fn client_secret_apply_and_destroy_with_trace_logs_free_of_secrets() {
    let pool = OAuthPool::seeded("secret", 4);
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
    let pool = OAuthPool::seeded("cli", 4);
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
    let pool = OAuthPool::seeded("msi", 4);
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
    let pool = OAuthPool::seeded("cache", 5);
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

#[test]
fn the_cli_signs_in_with_github_actions_oidc() {
    let pool = OAuthPool::seeded("clitool", 3);
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
