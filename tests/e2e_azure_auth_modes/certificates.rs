//! Client certificates: PFX with a password, base64 and PEM accepted; a wrong
//! password, an expired or an unregistered certificate refused.

use super::*;

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
    let pool = OAuthPool::seeded("cert", 4);
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
    let pool = OAuthPool::seeded("badcert", 2);
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
