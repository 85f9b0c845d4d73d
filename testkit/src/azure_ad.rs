//! Loopback stand-ins for the Azure AD side of a pipeline, speaking the real
//! protocols over HTTPS with a test CA:
//! - Entra ID's token endpoint (`POST /{tenant}/oauth2/v2.0/token`): the
//!   client-secret and client-assertion grants; a federated assertion is
//!   accepted only if this server issued it and it has not expired; a
//!   certificate assertion (see `client_certificate`) only if it verifies
//!   against a certificate registered for the client;
//! - GitHub Actions' OIDC endpoint (`GET /github/token?audience=…`, bearer);
//! - Azure DevOps' OIDC endpoint (`POST /ado/oidctoken?api-version=7.1&serviceConnectionId=…`);
//! - App Service's managed identity endpoint (`GET /msi/token`, `X-IDENTITY-HEADER`);
//! - the VM instance metadata protocol (`GET /imds/token`, `Metadata: true`,
//!   api-version 2018-02-01), as `ARM_MSI_ENDPOINT` points at it;
//! - a custom cloud's metadata (`GET /metadata/endpoints`), naming this
//!   server as the login endpoint of cloud [`CUSTOM_CLOUD`] (and of the
//!   clouds a test adds, with their Microsoft Graph).
//!
//! Access tokens carry the claims Azurite's `--oauth basic` checks (issuer
//! `https://sts.windows.net/<tenant>/`, audience `https://storage.azure.com`,
//! `nbf`/`iat`/`exp`); a token asked for another registered resource's
//! scope (Graph's, a loopback Graph's) carries that audience instead, which
//! the Graph stand-in checks (see `graph`). Also: [`TestCa`] (a CA and a server certificate for
//! 127.0.0.1) and [`ConnectProxy`] (a tiny HTTP proxy: CONNECT tunnels,
//! and plain http requests forwarded one per connection).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The tenant every test uses.
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// The service connection the Azure DevOps endpoint knows.
pub const ADO_SERVICE_CONNECTION: &str = "5f3c0b0e-7a7e-4f57-9a8c-0d3b1c2d3e4f";
/// The cloud the metadata endpoint describes (besides a decoy).
pub const CUSTOM_CLOUD: &str = "AzureStackRootmail";
/// The audience GitHub Actions must be asked for.
pub const AUDIENCE: &str = "api://AzureADTokenExchange";
/// The resources this server issues access tokens for (the audience of a
/// token asked for scope `<resource>/.default`).
pub const STORAGE_RESOURCE: &str = "https://storage.azure.com";
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";

/// A CA and a server certificate it signed for `127.0.0.1` and `localhost`,
/// written as PEM files into a temporary directory.
pub struct TestCa {
    dir: tempfile::TempDir,
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Default for TestCa {
    fn default() -> TestCa {
        TestCa::new()
    }
}

impl TestCa {
    pub fn new() -> TestCa {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "rootmail test corporate CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("server key");
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        let issuer = Issuer::from_params(&ca_params, &ca_key);
        let cert = params.signed_by(&key, &issuer).expect("server certificate");
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = TestCa {
            dir,
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        std::fs::write(ca.ca_file(), &ca.ca_pem).expect("write CA");
        std::fs::write(ca.cert_file(), &ca.cert_pem).expect("write cert");
        std::fs::write(ca.key_file(), &ca.key_pem).expect("write key");
        ca
    }

    /// What `SSL_CERT_FILE` points at.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
    pub fn cert_file(&self) -> PathBuf {
        self.dir.path().join("server.pem")
    }
    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("server-key.pem")
    }

    pub(crate) fn server_config(&self) -> Arc<rustls::ServerConfig> {
        use rustls_pki_types::pem::PemObject;
        let certs =
            vec![
                rustls_pki_types::CertificateDer::from_pem_slice(self.cert_pem.as_bytes())
                    .expect("cert der"),
            ];
        let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .expect("key der");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
        Arc::new(config)
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWT with `claims`; the signature is random bytes (Azurite's basic
/// OAuth does not verify it, and this server recognises its own tokens).
pub fn jwt(claims: &serde_json::Value) -> String {
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "rootmail-test"});
    let signature: [u8; 32] = rand::random();
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(&signature)
    )
}

/// What the server counted, by client id or endpoint.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub secret_grants: u32,
    pub assertion_grants: u32,
    /// Certificate assertions that verified.
    pub certificate_grants: u32,
    pub refused: u32,
    /// Why the last refusal happened (the AADSTS text).
    pub last_refusal: String,
}

#[derive(Default)]
struct State {
    secrets: HashMap<String, String>,
    /// Assertions this server issued, with their expiry.
    assertions: HashMap<String, i64>,
    /// Every secret-like string issued or known, for leak checks.
    issued: Vec<String>,
    /// The claims of every access token issued.
    access_tokens: HashMap<String, serde_json::Value>,
    counts: HashMap<String, Counts>,
    /// Assertions each client presented, in order.
    presented: HashMap<String, Vec<String>>,
    github_requests: u32,
    ado_requests: u32,
    msi_requests: u32,
    imds_requests: u32,
    metadata_requests: u32,
    /// Certificates (DER) registered for each client id.
    certificates: HashMap<String, Vec<Vec<u8>>>,
    /// `jti`s of every certificate assertion seen: each may be used once.
    seen_jti: std::collections::HashSet<String>,
    /// Resources registered besides storage's and Graph's (a loopback Graph).
    resources: Vec<String>,
    /// Custom clouds added to the metadata document: name and Graph resource.
    clouds: Vec<(String, Option<String>)>,
}

/// The token server; one per test process through [`IdentityServer::shared`].
pub struct IdentityServer {
    pub port: u16,
    pub ca: TestCa,
    state: Arc<Mutex<State>>,
    /// Lifetime of access tokens and of pipeline-issued assertions.
    pub token_lifetime: i64,
    pub github_request_token: String,
    pub ado_request_token: String,
    pub msi_header: String,
}

impl IdentityServer {
    pub fn shared() -> &'static IdentityServer {
        static INSTANCE: std::sync::OnceLock<IdentityServer> = std::sync::OnceLock::new();
        INSTANCE.get_or_init(|| IdentityServer::start(TestCa::new(), 20))
    }

    pub fn start(ca: TestCa, token_lifetime: i64) -> IdentityServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let random = |prefix: &str| format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
        let server = IdentityServer {
            port,
            state: Arc::new(Mutex::new(State::default())),
            token_lifetime,
            github_request_token: random("ghreq"),
            ado_request_token: random("adoreq"),
            msi_header: random("msihdr"),
            ca,
        };
        {
            let mut st = server.state.lock().expect("state");
            st.issued.push(server.github_request_token.clone());
            st.issued.push(server.ado_request_token.clone());
            st.issued.push(server.msi_header.clone());
        }
        let tls = tokio_rustls::TlsAcceptor::from(server.ca.server_config());
        let ctx = Arc::new(Ctx {
            token_endpoint: format!("{}/{TENANT}/oauth2/v2.0/token", server.authority()),
            state: Arc::clone(&server.state),
            lifetime: token_lifetime,
            github_request_token: server.github_request_token.clone(),
            ado_request_token: server.ado_request_token.clone(),
            msi_header: server.msi_header.clone(),
        });
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let tls = tls.clone();
                    let ctx = Arc::clone(&ctx);
                    tokio::spawn(async move {
                        if let Ok(stream) = tls.accept(tcp).await {
                            serve(stream, &ctx).await;
                        }
                    });
                }
            });
        });
        server
    }

    /// `https://127.0.0.1:<port>`: what `AZURE_AUTHORITY_HOST` points at.
    pub fn authority(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
    pub fn github_url(&self) -> String {
        format!("{}/github/token?api-version=2.0", self.authority())
    }
    pub fn ado_url(&self) -> String {
        format!("{}/ado/oidctoken", self.authority())
    }
    pub fn msi_url(&self) -> String {
        format!("{}/msi/token", self.authority())
    }

    /// Issues tokens for `resource` too (scope `<resource>/.default`), as
    /// Entra ID does for a national cloud's Graph.
    pub fn register_resource(&self, resource: &str) {
        let mut st = self.state.lock().expect("state");
        let resource = resource.trim_end_matches('/').to_owned();
        if !st.resources.contains(&resource) {
            st.resources.push(resource);
        }
    }

    /// Adds cloud `name` to the metadata document: signing in here, with
    /// `graph` as its Microsoft Graph (`microsoftGraphResourceId`) if given.
    /// Names are the test's own, so tests sharing this server do not meet.
    pub fn add_cloud(&self, name: &str, graph: Option<&str>) {
        self.state
            .lock()
            .expect("state")
            .clouds
            .push((name.to_owned(), graph.map(str::to_owned)));
    }

    /// Lets `client_id` sign in with `secret`.
    pub fn register_client(&self, client_id: &str, secret: &str) {
        let mut st = self.state.lock().expect("state");
        st.secrets.insert(client_id.to_owned(), secret.to_owned());
        st.issued.push(secret.to_owned());
    }

    /// An assertion as a pipeline would issue it, valid for `lifetime` seconds
    /// (negative: already expired).
    pub fn mint_assertion(&self, lifetime: i64) -> String {
        issue_assertion(
            &self.state,
            lifetime,
            "repo:company/infra:ref:refs/heads/main",
        )
    }

    /// An access token for storage, as `az account get-access-token` prints it.
    pub fn mint_access_token(&self, client_id: &str, lifetime: i64) -> String {
        issue_access_token(&self.state, client_id, lifetime, STORAGE_RESOURCE)
    }

    /// The claims of an access token this server issued (`None` for any
    /// other string): what a resource server would read after checking
    /// the signature.
    pub fn access_token_claims(&self, token: &str) -> Option<serde_json::Value> {
        let st = self.state.lock().expect("state");
        st.access_tokens.get(token).cloned()
    }

    pub fn counts(&self, client_id: &str) -> Counts {
        let st = self.state.lock().expect("state");
        st.counts.get(client_id).cloned().unwrap_or_default()
    }

    /// The assertions `client_id` exchanged, in order.
    pub fn presented(&self, client_id: &str) -> Vec<String> {
        let st = self.state.lock().expect("state");
        st.presented.get(client_id).cloned().unwrap_or_default()
    }

    pub fn pipeline_requests(&self) -> (u32, u32, u32) {
        let st = self.state.lock().expect("state");
        (st.github_requests, st.ado_requests, st.msi_requests)
    }

    /// Requests for the cloud metadata document.
    pub fn metadata_requests(&self) -> u32 {
        self.state.lock().expect("state").metadata_requests
    }

    /// Requests the instance metadata endpoint answered.
    pub fn imds_requests(&self) -> u32 {
        self.state.lock().expect("state").imds_requests
    }

    /// `https://127.0.0.1:<port>/imds/token`: what `ARM_MSI_ENDPOINT` points at.
    pub fn imds_url(&self) -> String {
        format!("{}/imds/token", self.authority())
    }

    /// Lets `client_id` sign in with assertions signed by `certificate_der`'s key.
    pub fn register_certificate(&self, client_id: &str, certificate_der: &[u8]) {
        let mut st = self.state.lock().expect("state");
        st.certificates
            .entry(client_id.to_owned())
            .or_default()
            .push(certificate_der.to_vec());
    }

    /// Adds strings a test knows are secret (a password, a private key) to
    /// those no log may contain.
    pub fn add_secret(&self, secret: &str) {
        self.state
            .lock()
            .expect("state")
            .issued
            .push(secret.to_owned());
    }

    /// Every token, request token, assertion and secret this server knows:
    /// none of them may appear in a log, a diagnostic or state.
    pub fn secrets(&self) -> Vec<String> {
        self.state.lock().expect("state").issued.clone()
    }
}

struct Ctx {
    /// The audience a certificate assertion must name.
    token_endpoint: String,
    state: Arc<Mutex<State>>,
    lifetime: i64,
    github_request_token: String,
    ado_request_token: String,
    msi_header: String,
}

fn issue_assertion(state: &Mutex<State>, lifetime: i64, subject: &str) -> String {
    let now = now();
    let token = jwt(&serde_json::json!({
        "iss": "https://token.actions.githubusercontent.com",
        "aud": AUDIENCE,
        "sub": subject,
        "iat": now,
        "nbf": now - 5,
        "exp": now + lifetime,
        "jti": uuid::Uuid::new_v4().to_string(),
    }));
    let mut st = state.lock().expect("state");
    st.assertions.insert(token.clone(), now + lifetime);
    st.issued.push(token.clone());
    token
}

fn issue_access_token(
    state: &Mutex<State>,
    client_id: &str,
    lifetime: i64,
    audience: &str,
) -> String {
    let now = now();
    let claims = serde_json::json!({
        "aud": audience,
        "iss": format!("https://sts.windows.net/{TENANT}/"),
        "iat": now - 5,
        "nbf": now - 5,
        "exp": now + lifetime,
        "appid": client_id,
        "tid": TENANT,
        "oid": uuid::Uuid::new_v4().to_string(),
        "ver": "1.0",
    });
    let token = jwt(&claims);
    let mut st = state.lock().expect("state");
    st.issued.push(token.clone());
    st.access_tokens.insert(token.clone(), claims);
    token
}

/// The resource a scope (`<resource>/.default`) or an MSI `resource` names,
/// when this server issues tokens for it.
fn known_resource(state: &Mutex<State>, scope_or_resource: &str) -> Option<String> {
    let resource = scope_or_resource
        .trim_end_matches("/.default")
        .trim_end_matches('/');
    let st = state.lock().expect("state");
    let found = [STORAGE_RESOURCE, GRAPH_RESOURCE]
        .into_iter()
        .chain(st.resources.iter().map(String::as_str))
        .find(|r| *r == resource)
        .map(str::to_owned);
    found
}

/// One HTTP/1.1 request as the loopback stand-ins read it.
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    /// The request target as sent (path and query, still encoded).
    pub target: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

pub(crate) async fn read_request<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let mut headers = HashMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let url = url::Url::parse(&format!("https://x{target}")).ok()?;
    Some(Request {
        method,
        target,
        path: url.path().to_owned(),
        query: url.query_pairs().into_owned().collect(),
        headers,
        body,
    })
}

async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut stream: S, ctx: &Ctx) {
    let Some(req) = read_request(&mut stream).await else {
        return;
    };
    let (status, body) = route(&req, ctx);
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        _ => "Not Found",
    };
    let text = body.to_string();
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn aad_error(status: u16, code: &str, description: &str) -> (u16, serde_json::Value) {
    (
        status,
        serde_json::json!({
            "error": code,
            "error_description": description,
            "error_codes": [description.split(':').next().unwrap_or("").trim_start_matches("AADSTS").parse::<u64>().unwrap_or(0)],
            "timestamp": "2026-01-01 00:00:00Z",
            "trace_id": uuid::Uuid::new_v4().to_string(),
            "correlation_id": uuid::Uuid::new_v4().to_string(),
        }),
    )
}

pub(crate) fn bearer(req: &Request) -> Option<String> {
    req.headers
        .get("authorization")
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::to_owned)
}

fn route(req: &Request, ctx: &Ctx) -> (u16, serde_json::Value) {
    let unauthorized = (401, serde_json::json!({"message": "unauthorized"}));
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/github/token") => {
            ctx.state.lock().expect("state").github_requests += 1;
            if bearer(req).as_deref() != Some(ctx.github_request_token.as_str()) {
                return unauthorized;
            }
            if req.query.get("audience").map(String::as_str) != Some(AUDIENCE) {
                return (400, serde_json::json!({"message": "wrong audience"}));
            }
            let token = issue_assertion(
                &ctx.state,
                ctx.lifetime,
                "repo:company/infra:environment:prod",
            );
            (200, serde_json::json!({"count": 1, "value": token}))
        }
        ("POST", "/ado/oidctoken") => {
            ctx.state.lock().expect("state").ado_requests += 1;
            if bearer(req).as_deref() != Some(ctx.ado_request_token.as_str()) {
                return unauthorized;
            }
            if req.query.get("api-version").map(String::as_str) != Some("7.1")
                || req.query.get("serviceConnectionId").map(String::as_str)
                    != Some(ADO_SERVICE_CONNECTION)
            {
                return (
                    404,
                    serde_json::json!({"message": "no such service connection"}),
                );
            }
            let token = issue_assertion(&ctx.state, ctx.lifetime, "sc://company/infra/prod");
            (200, serde_json::json!({"oidcToken": token}))
        }
        ("GET", "/msi/token") => {
            ctx.state.lock().expect("state").msi_requests += 1;
            if req.headers.get("x-identity-header") != Some(&ctx.msi_header) {
                return unauthorized;
            }
            let resource = req.query.get("resource").cloned().unwrap_or_default();
            let Some(audience) = known_resource(&ctx.state, &resource) else {
                return (400, serde_json::json!({"message": "unexpected resource"}));
            };
            let token = issue_access_token(&ctx.state, "managed-identity", ctx.lifetime, &audience);
            (
                200,
                serde_json::json!({
                    "access_token": token,
                    "expires_on": (now() + ctx.lifetime).to_string(),
                    "resource": resource,
                    "token_type": "Bearer",
                    "client_id": "managed-identity",
                }),
            )
        }
        ("GET", "/metadata/endpoints") => {
            ctx.state.lock().expect("state").metadata_requests += 1;
            if !req.query.contains_key("api-version") {
                return (400, serde_json::json!({"error": "missing api-version"}));
            }
            let authority = ctx
                .token_endpoint
                .split(&format!("/{TENANT}/"))
                .next()
                .unwrap_or_default()
                .to_owned();
            let mut clouds = vec![
                serde_json::json!({
                    "name": "AzureCloud",
                    "authentication": {"loginEndpoint": "https://login.microsoftonline.com/", "audiences": ["https://management.core.windows.net/"]},
                    "graph": "https://graph.windows.net/",
                    "microsoftGraphResourceId": "https://graph.microsoft.com/",
                    "suffixes": {"storage": "core.windows.net"},
                }),
                serde_json::json!({
                    "name": CUSTOM_CLOUD,
                    "resourceManager": format!("{authority}/arm/"),
                    "authentication": {"loginEndpoint": format!("{authority}/"), "audiences": [format!("{authority}/arm/")], "tenant": "adfs"},
                    "suffixes": {"storage": "local.azurestack.external"},
                }),
            ];
            let added = ctx.state.lock().expect("state").clouds.clone();
            for (name, graph) in added {
                let mut cloud = serde_json::json!({
                    "name": name,
                    "resourceManager": format!("{authority}/arm/"),
                    "authentication": {"loginEndpoint": format!("{authority}/"), "audiences": [format!("{authority}/arm/")], "tenant": "adfs"},
                    // Azure AD Graph (retired) beside Microsoft Graph, as real documents have it.
                    "graph": format!("{authority}/aad-graph/"),
                    "suffixes": {"storage": "local.azurestack.external"},
                });
                if let Some(graph) = graph {
                    cloud["microsoftGraphResourceId"] = format!("{graph}/").into();
                }
                clouds.push(cloud);
            }
            (200, serde_json::Value::Array(clouds))
        }
        ("GET", "/imds/token") => {
            ctx.state.lock().expect("state").imds_requests += 1;
            if req.headers.get("metadata").map(String::as_str) != Some("true") {
                return (
                    400,
                    serde_json::json!({"error": "invalid_request", "error_description": "Required metadata header not specified"}),
                );
            }
            if req.query.get("api-version").map(String::as_str) != Some("2018-02-01") {
                return (
                    400,
                    serde_json::json!({"error": "invalid_request", "error_description": "Invalid api-version"}),
                );
            }
            let resource = req.query.get("resource").cloned().unwrap_or_default();
            let Some(audience) = known_resource(&ctx.state, &resource) else {
                return (400, serde_json::json!({"error": "invalid_resource"}));
            };
            let client = req
                .query
                .get("client_id")
                .cloned()
                .unwrap_or_else(|| "vm-identity".to_owned());
            let token = issue_access_token(&ctx.state, &client, ctx.lifetime, &audience);
            (
                200,
                serde_json::json!({
                    "access_token": token,
                    "expires_in": ctx.lifetime.to_string(),
                    "expires_on": (now() + ctx.lifetime).to_string(),
                    "resource": resource,
                    "token_type": "Bearer",
                }),
            )
        }
        ("POST", path) if path == format!("/{TENANT}/oauth2/v2.0/token") => token_grant(req, ctx),
        _ => (404, serde_json::json!({"error": "not_found"})),
    }
}

fn token_grant(req: &Request, ctx: &Ctx) -> (u16, serde_json::Value) {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect();
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    let scope = form.get("scope").cloned().unwrap_or_default();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return aad_error(
            400,
            "unsupported_grant_type",
            "AADSTS70003: unsupported grant type",
        );
    }
    let Some(audience) = scope
        .ends_with("/.default")
        .then(|| known_resource(&ctx.state, &scope))
        .flatten()
    else {
        return aad_error(
            400,
            "invalid_scope",
            "AADSTS70011: The provided scope is not valid.",
        );
    };
    let mut st = ctx.state.lock().expect("state");
    let outcome = if let Some(secret) = form.get("client_secret") {
        let ok = st.secrets.get(&client_id) == Some(secret);
        let counts = st.counts.entry(client_id.clone()).or_default();
        counts.secret_grants += 1;
        if ok {
            Ok(())
        } else {
            counts.refused += 1;
            Err(aad_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided.",
            ))
        }
    } else if let Some(assertion) = form.get("client_assertion") {
        let typed = form.get("client_assertion_type").map(String::as_str)
            == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        let expiry = st.assertions.get(assertion).copied();
        st.presented
            .entry(client_id.clone())
            .or_default()
            .push(assertion.clone());
        st.issued.push(assertion.clone());
        let certificate = (expiry.is_none() && typed)
            .then(|| crate::client_certificate::x5t_of(assertion))
            .flatten();
        if certificate.is_some() {
            let registered = st.certificates.get(&client_id).cloned().unwrap_or_default();
            let verdict = crate::client_certificate::verify(
                assertion,
                &client_id,
                &ctx.token_endpoint,
                &registered,
                &mut st.seen_jti,
            );
            let counts = st.counts.entry(client_id.clone()).or_default();
            match &verdict {
                Ok(()) => counts.certificate_grants += 1,
                Err(why) => {
                    counts.refused += 1;
                    counts.last_refusal = why.clone();
                }
            }
            drop(st);
            return match verdict {
                Ok(()) => grant(ctx, &client_id, &audience),
                Err(why) => aad_error(401, "invalid_client", &why),
            };
        }
        let counts = st.counts.entry(client_id.clone()).or_default();
        counts.assertion_grants += 1;
        match expiry {
            _ if !typed => Err(aad_error(
                400,
                "invalid_request",
                "AADSTS50027: assertion type",
            )),
            None => {
                counts.refused += 1;
                Err(aad_error(
                    400,
                    "invalid_client",
                    "AADSTS700211: No matching federated identity record found for presented assertion issuer.",
                ))
            }
            Some(exp) if exp <= now() => {
                counts.refused += 1;
                Err(aad_error(
                    400,
                    "invalid_client",
                    "AADSTS700024: Client assertion is not within its valid time range.",
                ))
            }
            Some(_) => Ok(()),
        }
    } else {
        Err(aad_error(
            400,
            "invalid_client",
            "AADSTS7000216: client credentials missing",
        ))
    };
    drop(st);
    match outcome {
        Err(e) => e,
        Ok(()) => grant(ctx, &client_id, &audience),
    }
}

fn grant(ctx: &Ctx, client_id: &str, audience: &str) -> (u16, serde_json::Value) {
    let token = issue_access_token(&ctx.state, client_id, ctx.lifetime, audience);
    (
        200,
        serde_json::json!({
            "token_type": "Bearer",
            "expires_in": ctx.lifetime,
            "ext_expires_in": ctx.lifetime,
            "access_token": token,
        }),
    )
}

/// A minimal HTTP proxy on loopback that records where it tunnelled (CONNECT,
/// for `HTTPS_PROXY`) or forwarded (plain http, for `HTTP_PROXY`) to.
pub struct ConnectProxy {
    pub port: u16,
    targets: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    pub fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let targets = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&targets);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || tunnel(client, &seen));
            }
        });
        ConnectProxy { port, targets }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `host:port` of every tunnel opened (or plain request forwarded) so far.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().expect("targets").clone()
    }
}

fn tunnel(mut client: TcpStream, seen: &Mutex<Vec<String>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
        if head.len() > 16 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let mut first = text.split_whitespace();
    let method = first.next().unwrap_or_default().to_owned();
    let Some(target) = first.next().map(str::to_owned) else {
        return;
    };
    // A plain http request in absolute form (`HTTP_PROXY`): forwarded in
    // origin form, one request per connection.
    let forwarded = match target.strip_prefix("http://") {
        Some(rest) if method != "CONNECT" => {
            let (authority, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            let version = first.next().unwrap_or("HTTP/1.1");
            let mut out = format!("{method} {path} {version}\r\n");
            for line in text.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
                let name = line.split(':').next().unwrap_or_default().trim();
                if !["connection", "proxy-connection", "keep-alive"]
                    .iter()
                    .any(|h| name.eq_ignore_ascii_case(h))
                {
                    out.push_str(line);
                    out.push_str("\r\n");
                }
            }
            out.push_str("Connection: close\r\n\r\n");
            Some((authority.to_owned(), out))
        }
        _ if method == "CONNECT" => None,
        _ => {
            let _ =
                client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
            return;
        }
    };
    let target = forwarded.as_ref().map_or(target, |(a, _)| a.clone());
    seen.lock().expect("targets").push(target.clone());
    let Ok(mut upstream) = TcpStream::connect(&target) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let opened = match &forwarded {
        Some((_, head)) => upstream.write_all(head.as_bytes()),
        None => client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n"),
    };
    if opened.is_err() {
        return;
    }
    let (Ok(mut c2), Ok(mut u2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let mut upstream = upstream;
    let forward = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut upstream);
        let _ = upstream.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut u2, &mut client);
    let _ = client.shutdown(std::net::Shutdown::Write);
    let _ = forward.join();
}

/// Writes a fake `az` into `dir` that prints `token` the way
/// `az account get-access-token -o json` does, and logs its arguments.
pub fn fake_az(dir: &Path, token: &str, expires_on: i64) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let json = serde_json::json!({
        "accessToken": token,
        "expiresOn": "2030-01-01 00:00:00.000000",
        "expires_on": expires_on,
        "subscription": "00000000-0000-0000-0000-000000000000",
        "tenant": TENANT,
        "tokenType": "Bearer",
    });
    std::fs::write(dir.join("az-token.json"), json.to_string()).expect("token json");
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> '{calls}'\ncase \"$*\" in\n  *'account get-access-token'*'--scope https://storage.azure.com/.default'*) cat '{json}' ;;\n  *) echo \"ERROR: unexpected az call: $*\" >&2; exit 2 ;;\nesac\n",
        calls = dir.join("az-calls.log").display(),
        json = dir.join("az-token.json").display(),
    );
    let path = dir.join("az");
    std::fs::write(&path, script).expect("write az");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}
