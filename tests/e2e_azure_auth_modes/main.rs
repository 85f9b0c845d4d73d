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

use testkit::azure_ad::TENANT;
use testkit::client_certificate::TestCertificate;
use testkit::oauth_pool::{assert_no_secrets, server, two_aliases, unique_client, OAuthPool};
use testkit::pool::OWNER;
use testkit::terraform::{self, TerraformDir};

mod certificates;
mod environments;

/// `dir` set up for `pool`: the network and tenant settings every mode
/// shares, every other sign-in variable emptied, logs at TRACE.
fn prepare(dir: TerraformDir, pool: &OAuthPool, provider_extra: &str, body: &str) -> TerraformDir {
    let mut dir = testkit::oauth_pool::prepare(dir, pool, provider_extra, body);
    dir.env("TF_LOG", "TRACE");
    dir
}

/// Applies two aliases and destroys them, checking the pool and the logs.
fn apply_and_destroy(pool: &OAuthPool, dir: &TerraformDir) {
    let applied = testkit::oauth_pool::apply_and_destroy(pool, dir);
    assert_no_secrets(&applied.stdout, "terraform's output");
    assert!(
        applied.log.contains("new Azure AD token"),
        "trace logs were on"
    );
}

/// `rootmail pool stats` with `envs`; stdout and stderr (trace logs).
fn rootmail_cli(pool: &OAuthPool, envs: &[(&str, String)]) -> (bool, String, String) {
    let out = testkit::oauth_pool::rootmail_cli(pool, &["pool", "stats"], envs);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert_no_secrets(&stdout, "the CLI's output");
    assert_no_secrets(&stderr, "the CLI's logs");
    (out.status.success(), stdout, stderr)
}

#[test]
fn a_custom_cloud_is_discovered_from_its_metadata_host() {
    let pool = OAuthPool::seeded("stack", 4);
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
