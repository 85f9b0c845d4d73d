//! Sign-ins that fail: the mode is named, no secret echoed, no row changed; a
//! missing pipeline variable is named before any request.

use super::*;

/// Runs an apply expected to fail; checks it names `mode`, echoes no secret,
/// and left every row as it was.
fn assert_clean_failure(pool: &OAuthPool, dir: &TerraformDir, mode: &str, detail: &str) {
    let before = pool.snapshot();
    let out = dir.run_err(&["apply", "-auto-approve", "-no-color"]);
    // Terraform wraps diagnostics at word boundaries.
    let text = out.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains(mode), "no `{mode}` in:\n{}", out.stderr);
    assert!(text.contains(detail), "no `{detail}` in:\n{}", out.stderr);
    assert_no_secrets(&out.stderr, "the diagnostic");
    assert_no_secrets(&out.stdout, "terraform's output");
    assert_no_secrets(&dir.log(), "the terraform log");
    assert_eq!(pool.snapshot(), before, "a failed sign-in changed rows");
}

#[test]
fn failures_name_the_mode_echo_no_secret_and_change_no_row() {
    let pool = OAuthPool::seeded("fail", 3);
    let body = format!("resource \"rootmail_alias\" \"a\" {{\n  owner = \"{OWNER}\"\n}}\n");

    let client = unique_client();
    server().register_client(&client, &format!("right~{}", uuid::Uuid::new_v4().simple()));
    let wrong = format!("wrong~{}", uuid::Uuid::new_v4().simple());
    server().register_client(&unique_client(), &wrong); // known to the leak check
    let mut dir = tf_dir(&pool, &body);
    dir.env("ARM_CLIENT_ID", client.clone())
        .env("ARM_CLIENT_SECRET", wrong);
    assert_clean_failure(&pool, &dir, "Azure AD client secret", "AADSTS7000215");

    let bad_request_token = format!("ghbad-{}", uuid::Uuid::new_v4().simple());
    server().register_client(&unique_client(), &bad_request_token);
    let mut dir = tf_dir(&pool, &body);
    dir.env("ARM_CLIENT_ID", unique_client())
        .env("ARM_USE_OIDC", "true")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", server().github_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", bad_request_token);
    assert_clean_failure(&pool, &dir, "GitHub Actions", "HTTP 401");

    let mut dir = tf_dir(&pool, &body);
    dir.env("ARM_CLIENT_ID", unique_client())
        .env("ARM_USE_OIDC", "true")
        .env("ARM_OIDC_TOKEN", server().mint_assertion(-60));
    assert_clean_failure(&pool, &dir, "workload identity", "AADSTS700024");

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let client = unique_client();
    let secret = format!("cs~{}", uuid::Uuid::new_v4().simple());
    server().register_client(&client, &secret);
    let mut dir = tf_dir(&pool, &body);
    dir.env("ARM_CLIENT_ID", client)
        .env("ARM_CLIENT_SECRET", secret)
        .env(
            "AZURE_AUTHORITY_HOST",
            format!("https://127.0.0.1:{closed}"),
        );
    assert_clean_failure(
        &pool,
        &dir,
        "Azure AD client secret",
        &format!("127.0.0.1:{closed}"),
    );
}

#[test]
fn a_missing_pipeline_variable_is_named_before_any_request() {
    let pool = OAuthPool::seeded("missing", 2);
    let body = format!("resource \"rootmail_alias\" \"a\" {{\n  owner = \"{OWNER}\"\n}}\n");
    let mut dir = tf_dir(&pool, &body);
    dir.env("ARM_CLIENT_ID", unique_client())
        .env(
            "ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID",
            ADO_SERVICE_CONNECTION,
        )
        .env("SYSTEM_OIDCREQUESTURI", server().ado_url());
    let before = pool.snapshot();
    let out = dir.run_err(&["plan", "-no-color"]);
    assert!(out.stderr.contains("SYSTEM_ACCESSTOKEN"), "{}", out.stderr);
    assert_eq!(pool.snapshot(), before);
}
