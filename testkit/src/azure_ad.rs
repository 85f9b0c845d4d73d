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
//!
//! Layout: the server and its tokens here, what each endpoint answers in
//! `endpoints`, the CA in `test_ca`, the proxy in `proxy`; the HTTP it
//! speaks is `crate::loopback_https`, shared with the Graph stand-in.

mod endpoints;
mod proxy;
mod test_ca;

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use crate::loopback_https::serve_json;
use endpoints::route;
pub use proxy::ConnectProxy;
pub use test_ca::TestCa;

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
        let ctx = Ctx {
            token_endpoint: format!("{}/{TENANT}/oauth2/v2.0/token", server.authority()),
            state: Arc::clone(&server.state),
            lifetime: token_lifetime,
            github_request_token: server.github_request_token.clone(),
            ado_request_token: server.ado_request_token.clone(),
            msi_header: server.msi_header.clone(),
        };
        serve_json(
            listener,
            server.ca.server_config(),
            "application/json",
            move |req| {
                let (status, body) = route(req, &ctx);
                (status, Vec::new(), body)
            },
        );
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
