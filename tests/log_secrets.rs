//! No credential in any log of either binary, at the most verbose setting each
//! offers (the `rootmail` CLI with `ROOTMAIL_LOG=trace` plus directives that
//! try to lift the Azure crates' cap; the provider under `TF_LOG=trace`),
//! for every kind of credential: shared key, SAS, connection string, client
//! secret, OIDC client assertion, and a managed-identity bearer token served
//! by a loopback endpoint speaking App Service's managed-identity protocol,
//! so a real `Authorization: Bearer` header goes to Azurite.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use testkit::pool::Pool;
use testkit::terraform::TerraformDir;
use testkit::{azurite, terraform};

const BEARER: &str = "eyJ0eXAiOiJKV1QifQ.RootmailFakeBearerToken0101.c2lnbmF0dXJl";
const IDENTITY_HEADER: &str = "RootmailFakeIdentityHeader0102";
const CLIENT_SECRET: &str = "rootmail~fake~log~client~secret~0103";
const OIDC_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.RootmailFakeOidcAssertion0104.c2ln";
const WRONG_KEY: &str = "Um9vdG1haWxGYWtlTG9nQWNjZXNzS2V5U2VjcmV0MDEwNQ==";
const TENANT: &str = "00000000-0000-0000-0000-000000000001";
const CLIENT: &str = "00000000-0000-0000-0000-000000000002";

/// Every directive a user could try to make the Azure crates talk.
const LIFT_ATTEMPT: &str = "trace,azure_core=trace,azure_storage=trace,azure_data_tables=trace,\
azure_identity=trace,typespec_client_core=trace,reqwest=trace,hyper=trace,h2=trace";

/// A loopback managed-identity endpoint (App Service protocol: GET with the
/// `X-IDENTITY-HEADER` secret, JSON with `access_token` and `expires_on` as
/// epoch seconds in a string). Counts the tokens it handed out.
fn identity_endpoint() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut header_ok = false;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    header_ok |= name.trim().eq_ignore_ascii_case("x-identity-header")
                        && value.trim() == IDENTITY_HEADER;
                }
            }
            let expires = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
            let (status, body) = if header_ok {
                count.fetch_add(1, Ordering::SeqCst);
                (
                    "200 OK",
                    format!(
                        r#"{{"access_token":"{BEARER}","expires_on":"{expires}","token_type":"Bearer","resource":"https://storage.azure.com"}}"#
                    ),
                )
            } else {
                (
                    "400 Bad Request",
                    r#"{"error":"missing header"}"#.to_owned(),
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("http://127.0.0.1:{port}/msi/token"), served)
}

/// One way to sign in: its environment, and the secrets it must never show.
struct Kind {
    name: &'static str,
    envs: Vec<(&'static str, String)>,
    secrets: Vec<String>,
}

fn kinds(msi_endpoint: &str) -> Vec<Kind> {
    let az = azurite::shared();
    let sas = azurite::account_sas("raul");
    let sig = url::form_urlencoded::parse(sas.as_bytes())
        .find(|(k, _)| k == "sig")
        .map(|(_, v)| v.into_owned())
        .expect("sig");
    let sig_encoded: String = url::form_urlencoded::byte_serialize(sig.as_bytes()).collect();
    let endpoint = az.endpoint();
    vec![
        Kind {
            name: "shared key (works)",
            envs: vec![
                ("AZURE_STORAGE_ACCOUNT", azurite::ACCOUNT.to_owned()),
                ("ARM_ACCESS_KEY", azurite::ACCOUNT_KEY.to_owned()),
            ],
            secrets: vec![azurite::ACCOUNT_KEY.to_owned()],
        },
        Kind {
            name: "SAS token (works)",
            envs: vec![("ARM_SAS_TOKEN", sas.clone())],
            secrets: vec![sig.clone(), sig_encoded.clone()],
        },
        Kind {
            name: "connection string with a wrong key",
            envs: vec![(
                "AZURE_STORAGE_CONNECTION_STRING",
                format!(
                    "DefaultEndpointsProtocol=http;AccountName={};AccountKey={WRONG_KEY};TableEndpoint={endpoint};",
                    azurite::ACCOUNT
                ),
            )],
            secrets: vec![WRONG_KEY.to_owned()],
        },
        Kind {
            name: "client secret (login unreachable)",
            envs: vec![
                ("AZURE_STORAGE_ACCOUNT", azurite::ACCOUNT.to_owned()),
                ("ARM_TENANT_ID", TENANT.to_owned()),
                ("ARM_CLIENT_ID", CLIENT.to_owned()),
                ("ARM_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ],
            secrets: vec![CLIENT_SECRET.to_owned()],
        },
        Kind {
            name: "OIDC client assertion (login unreachable)",
            envs: vec![
                ("AZURE_STORAGE_ACCOUNT", azurite::ACCOUNT.to_owned()),
                ("ARM_TENANT_ID", TENANT.to_owned()),
                ("ARM_CLIENT_ID", CLIENT.to_owned()),
                ("ARM_USE_OIDC", "true".to_owned()),
                ("ARM_OIDC_TOKEN", OIDC_TOKEN.to_owned()),
            ],
            secrets: vec![OIDC_TOKEN.to_owned()],
        },
        Kind {
            name: "managed identity bearer token",
            envs: vec![
                ("AZURE_STORAGE_ACCOUNT", azurite::ACCOUNT.to_owned()),
                ("ARM_USE_MSI", "true".to_owned()),
                ("IDENTITY_ENDPOINT", msi_endpoint.to_owned()),
                ("IDENTITY_HEADER", IDENTITY_HEADER.to_owned()),
            ],
            secrets: vec![BEARER.to_owned(), IDENTITY_HEADER.to_owned()],
        },
    ]
}

/// Azure AD logins must never leave the machine: any proxy-aware client fails fast.
const OFFLINE: [(&str, &str); 3] = [
    ("HTTPS_PROXY", "http://127.0.0.1:9"),
    ("NO_PROXY", "127.0.0.1,localhost"),
    ("ARM_USE_CLI", "false"),
];

#[track_caller]
fn assert_clean(who: &str, kind: &str, text: &str, secrets: &[String]) {
    for s in secrets {
        if let Some(at) = text.find(s.as_str()) {
            let start = text[..at]
                .char_indices()
                .rev()
                .nth(200)
                .map_or(0, |(i, _)| i);
            panic!(
                "{who}, {kind}: secret {}… in the output, after:\n{}",
                &s[..6],
                &text[start..at]
            );
        }
    }
    // A shared-key signature is different in every request: look for the header.
    let lower = text.to_ascii_lowercase();
    for header in ["sharedkey devstoreaccount1:", "bearer ey"] {
        assert!(
            !lower.contains(header),
            "{who}, {kind}: an Authorization header in the output"
        );
    }
    assert!(
        !text.contains("panicked"),
        "{who}, {kind}: a panic:\n{text}"
    );
}

#[test]
fn the_cli_at_trace_level_logs_no_credential_of_any_kind() {
    let started = Instant::now();
    let az = azurite::shared();
    let pool = Pool::in_shared_azurite("clilog", 3);
    let (msi, served) = identity_endpoint();
    let mut bytes = 0;
    let kinds = kinds(&msi);
    for kind in &kinds {
        for filter in ["trace", LIFT_ATTEMPT] {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_rootmail"));
            cmd.env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("ROOTMAIL_LOG", filter)
                .env("ROOTMAIL_TABLE_ENDPOINT", az.endpoint())
                .env("ROOTMAIL_TABLE_NAME", &pool.table)
                .args(["--retry-timeout-seconds", "2", "pool", "stats"])
                .stdin(Stdio::null());
            for (k, v) in OFFLINE.iter().map(|(k, v)| (*k, v.to_string())) {
                cmd.env(k, v);
            }
            for (k, v) in &kind.envs {
                cmd.env(k, v);
            }
            let out = cmd.output().expect("run rootmail");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            bytes += text.len();
            assert!(
                text.contains("connecting to the alias pool"),
                "{}: the CLI did not log:\n{text}",
                kind.name
            );
            if kind.name.ends_with("(works)") {
                assert!(out.status.success(), "{}:\n{text}", kind.name);
            }
            assert_clean("rootmail", kind.name, &text, &kind.secrets);
        }
    }
    assert!(
        served.load(Ordering::SeqCst) >= 1,
        "the managed identity endpoint handed out a token"
    );
    println!(
        "cli logs: {} credential kinds x 2 filters at trace, {bytes} bytes grepped, no secret; {:?}",
        kinds.len(),
        started.elapsed()
    );
}

#[test]
fn the_provider_at_trace_level_logs_no_credential_of_any_kind() {
    let started = Instant::now();
    let az = azurite::shared();
    let pool = Pool::in_shared_azurite("provlog", 3);
    let (msi, served) = identity_endpoint();
    let config = format!(
        "{}\nprovider \"rootmail\" {{\n  endpoint = \"{}\"\n  table    = \"{}\"\n  retry_timeout_seconds = 3\n}}\n\
         data \"rootmail_pool\" \"p\" {{}}\noutput \"free\" {{\n  value = data.rootmail_pool.p.free\n}}\n",
        terraform::required_providers_block(),
        az.endpoint(),
        pool.table
    );
    let mut bytes = 0;
    let kinds = kinds(&msi);
    for kind in &kinds {
        let mut dir = TerraformDir::new();
        dir.env("TF_LOG", "TRACE");
        for (k, v) in OFFLINE {
            dir.env(k, v);
        }
        for (k, v) in &kind.envs {
            dir.env(k, v.clone());
        }
        dir.write("main.tf", &config);
        let out = dir.run(&["plan", "-no-color"]);
        let text = format!("{}\n{}\n{}", out.stdout, out.stderr, dir.log());
        bytes += text.len();
        assert!(dir.log().contains("[TRACE]"), "{}: not at trace", kind.name);
        if kind.name.ends_with("(works)") {
            assert!(out.success(), "{}:\n{}", kind.name, out.stderr);
        } else {
            assert!(!out.success(), "{}: plan should fail", kind.name);
        }
        assert_clean("provider", kind.name, &text, &kind.secrets);
    }
    assert!(
        served.load(Ordering::SeqCst) >= 1,
        "the managed identity endpoint handed out a token"
    );
    println!(
        "provider logs: {} credential kinds at TF_LOG=trace, {bytes} bytes grepped, no secret; {:?}",
        kinds.len(),
        started.elapsed()
    );
}
