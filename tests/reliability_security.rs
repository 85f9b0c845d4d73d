//! Security: secrets never show up in terraform's output, its `TF_LOG=trace`
//! log (which includes the provider's own log lines), or diagnostics, on
//! success and failure paths, whether given in the provider block or in
//! environment variables; and the plugin refuses a client without Terraform's
//! certificate.
//!
//! Related checks elsewhere: tests/protocol/transport.rs (`refuses_a_client_without_a_certificate`,
//! `refuses_a_client_with_another_certificate`) covers mTLS in depth;
//! tests/reliability_faults.rs (`a_writer_racing_between_read_and_write_...`)
//! races a writer between the provider's read and write (412, the racer's
//! change survives); tests/reliability_load.rs audits that every write of 16
//! parallel terraform runs carried `If-Match` with a real ETag.

use testkit::{azurite, plugin_client, reliability, terraform};

use reliability::aliases_tf;
use terraform::{TerraformDir, TerraformOutput};
use testkit::pool::Pool;

/// Recognisable fake secrets (valid base64 where the format needs it, so
/// they get as far as signing a request).
const FAKE_ACCESS_KEY: &str = "Um9vdG1haWxGYWtlQWNjZXNzS2V5U2VjcmV0MDAwMQ==";
const FAKE_CONN_KEY: &str = "Um9vdG1haWxGYWtlQ29ubmVjdGlvblN0cmluZ0tleTI=";
const FAKE_SAS_SIG: &str = "RootmailFakeSasSignature0003";
const FAKE_CLIENT_SECRET: &str = "rootmail~fake~client~secret~0004";
const FAKE_ENV_ACCESS_KEY: &str = "Um9vdG1haWxGYWtlRW52QWNjZXNzS2V5MDAwMDU=";
const FAKE_ENV_SAS_SIG: &str = "RootmailFakeEnvSasSignature0006";
const FAKE_ENV_CLIENT_SECRET: &str = "rootmail~fake~env~client~secret~0007";
const FAKE_ENV_CONN_KEY: &str = "Um9vdG1haWxGYWtlRW52Q29ubmVjdGlvbktleTAwMDg=";

/// An account SAS with all table permissions, and its signature alone (the
/// part a leak would show).
fn valid_sas() -> (String, String) {
    let token = azurite::account_sas("raul");
    let sig = url::form_urlencoded::parse(token.as_bytes())
        .find(|(k, _)| k == "sig")
        .map(|(_, v)| v.into_owned())
        .expect("sig");
    (token, sig)
}

/// Everything a user or a CI log could see of one run.
fn visible(dir: &TerraformDir, out: &TerraformOutput) -> String {
    format!("{}\n{}\n{}", out.stdout, out.stderr, dir.log())
}

#[test]
fn secrets_never_appear_in_output_trace_logs_or_diagnostics() {
    let az = azurite::shared();
    let pool = Pool::in_shared_azurite("secrets", 4);
    let endpoint = az.endpoint();
    let (sas, sas_sig) = valid_sas();
    // The signature percent-encoded, as it travels in a URL.
    let sas_sig_encoded: String =
        url::form_urlencoded::byte_serialize(sas_sig.as_bytes()).collect();
    let mut secrets: Vec<String> = vec![
        azurite::ACCOUNT_KEY.into(),
        sas_sig.clone(),
        sas_sig_encoded,
        FAKE_ACCESS_KEY.into(),
        FAKE_CONN_KEY.into(),
        FAKE_SAS_SIG.into(),
        FAKE_CLIENT_SECRET.into(),
        FAKE_ENV_ACCESS_KEY.into(),
        FAKE_ENV_SAS_SIG.into(),
        FAKE_ENV_CLIENT_SECRET.into(),
        FAKE_ENV_CONN_KEY.into(),
    ];
    secrets.dedup();
    let provider = |auth: &str| {
        pool.provider_block_at(&endpoint, &format!("retry_timeout_seconds = 5\n  {auth}"))
            .replace("  use_emulator = true\n", "")
    };
    let resources = aliases_tf("s", 1, true);
    let mut runs = 0;
    let mut log_bytes = 0;
    let mut check = |name: &str, dir: &TerraformDir, out: &TerraformOutput| {
        runs += 1;
        let text = visible(dir, out);
        log_bytes += text.len();
        assert!(
            dir.log().contains("[TRACE]"),
            "{name}: the log is not at trace level"
        );
        for s in &secrets {
            if let Some(at) = text.find(s.as_str()) {
                // Show where, with the secret itself cut out.
                let start = text[..at]
                    .char_indices()
                    .rev()
                    .nth(300)
                    .map_or(0, |(i, _)| i);
                panic!(
                    "{name}: secret {}… found in output or log, after:\n{}",
                    &s[..6],
                    &text[start..at]
                );
            }
        }
        assert!(!text.contains("panicked"), "{name}: a panic:\n{text}");
    };
    let new_dir = || {
        let mut d = TerraformDir::new();
        d.env("TF_LOG", "TRACE");
        // Azure AD must not reach the internet: any proxy-aware client fails fast.
        d.env("HTTPS_PROXY", "http://127.0.0.1:9");
        d.env("NO_PROXY", "127.0.0.1,localhost");
        d
    };

    // Working credentials: apply and destroy at trace level.
    for (name, auth) in [
        (
            "access key (works)",
            format!(
                "storage_account = \"{}\"\n  access_key = \"{}\"",
                azurite::ACCOUNT,
                azurite::ACCOUNT_KEY
            ),
        ),
        ("SAS token (works)", format!("sas_token = \"?{sas}\"")),
    ] {
        let dir = new_dir();
        dir.write("main.tf", &(provider(&auth) + &resources));
        let out = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        check(name, &dir, &out);
        let out = dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
        check(name, &dir, &out);
    }

    // Wrong credentials: failing plans and applies, explicit and from the environment.
    let failing = [
        (
            "wrong access key",
            format!("storage_account = \"{}\"\n  access_key = \"{FAKE_ACCESS_KEY}\"", azurite::ACCOUNT),
            vec![],
        ),
        (
            "connection string with a wrong key",
            format!(
                "connection_string = \"DefaultEndpointsProtocol=http;AccountName={};AccountKey={FAKE_CONN_KEY};TableEndpoint={endpoint};\"",
                azurite::ACCOUNT
            ),
            vec![],
        ),
        (
            "forged SAS",
            format!("sas_token = \"sv=2018-11-09&ss=t&srt=sco&sp=raul&se=2099-01-01T00:00:00Z&sig={FAKE_SAS_SIG}\""),
            vec![],
        ),
        (
            "Azure AD client secret without a reachable login",
            format!(
                "storage_account = \"{}\"\n  tenant_id = \"00000000-0000-0000-0000-000000000001\"\n  client_id = \"00000000-0000-0000-0000-000000000002\"\n  client_secret = \"{FAKE_CLIENT_SECRET}\"",
                azurite::ACCOUNT
            ),
            vec![],
        ),
        (
            "two explicit credentials",
            format!("access_key = \"{FAKE_ACCESS_KEY}\"\n  client_secret = \"{FAKE_CLIENT_SECRET}\""),
            vec![],
        ),
        (
            "every secret in the environment",
            String::new(),
            vec![
                (
                    "AZURE_STORAGE_CONNECTION_STRING",
                    format!(
                        "DefaultEndpointsProtocol=http;AccountName={};AccountKey={FAKE_ENV_CONN_KEY};TableEndpoint={endpoint};",
                        azurite::ACCOUNT
                    ),
                ),
                ("ARM_ACCESS_KEY", FAKE_ENV_ACCESS_KEY.to_string()),
                (
                    "ARM_SAS_TOKEN",
                    format!("sv=2018-11-09&sp=raul&sig={FAKE_ENV_SAS_SIG}"),
                ),
                ("ARM_CLIENT_SECRET", FAKE_ENV_CLIENT_SECRET.to_string()),
                ("ARM_TENANT_ID", "00000000-0000-0000-0000-000000000001".to_string()),
                ("ARM_CLIENT_ID", "00000000-0000-0000-0000-000000000002".to_string()),
            ],
        ),
        (
            "environment access key only",
            format!("storage_account = \"{}\"", azurite::ACCOUNT),
            vec![("ARM_ACCESS_KEY", FAKE_ENV_ACCESS_KEY.to_string())],
        ),
    ];
    let mut failures = 0;
    for (name, auth, envs) in failing {
        let mut dir = new_dir();
        for (k, v) in envs {
            dir.env(k, v);
        }
        dir.write("main.tf", &(provider(&auth) + &resources));
        let out = dir.run_err(&["apply", "-auto-approve", "-no-color"]);
        assert!(
            out.stderr.contains("Error"),
            "{name}: no error shown:\n{}",
            out.stderr
        );
        failures += 1;
        check(name, &dir, &out);
    }
    assert!(pool.claimed().is_empty(), "no failed run claimed anything");
    println!(
        "secrets: {} secrets grepped in {runs} terraform runs at TF_LOG=trace (2 working credentials, \
         {failures} failing ones, explicit and from the environment): {log_bytes} bytes of output and logs, no secret, no panic",
        secrets.len()
    );
}

#[tokio::test]
async fn the_plugin_refuses_a_client_without_terraforms_certificate() {
    let plugin = plugin_client::PluginProcess::start().await;
    // The same handshake, but no client certificate.
    let refused = match plugin_client::connect(&plugin.handshake, None).await {
        Err(_) => true,
        Ok(channel) => rootmail::proto::tfplugin6::provider_client::ProviderClient::new(channel)
            .get_metadata(rootmail::proto::tfplugin6::get_metadata::Request {})
            .await
            .is_err(),
    };
    assert!(refused, "a client without the certificate got an answer");
    // And the real client still works.
    plugin
        .provider()
        .get_metadata(rootmail::proto::tfplugin6::get_metadata::Request {})
        .await
        .expect("GetMetadata with the certificate");
    plugin.shutdown().await;
}
