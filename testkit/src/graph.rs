//! A loopback Microsoft Graph for the mailbox reads `rootmail audit
//! --exchange` makes, over HTTPS with the identity stand-in's test CA:
//! - `GET /v1.0/users/{id | userPrincipalName}` and
//!   `GET /v1.0/users?$filter=…` (only the filters the reader needs:
//!   `proxyAddresses/any(p:p eq '…')`, `mail eq '…'`, `userPrincipalName
//!   eq '…'`, joined by `or`; anything else is refused as Graph refuses an
//!   unsupported query), with `$select` (without it a user has Graph's
//!   default properties, which do not include `proxyAddresses`), `$top`,
//!   and `@odata.nextLink` pages that carry an opaque `$skiptoken`;
//! - Graph's error bodies: 404 `Request_ResourceNotFound`, 401
//!   `InvalidAuthenticationToken`, 403 `Authorization_RequestDenied`, and
//!   429 `TooManyRequests` with `Retry-After` when told to throttle.
//!
//! Every request must carry a bearer token that the loopback Entra ID
//! ([`IdentityServer`]) issued for this Graph's own address (its
//! [`GraphServer::endpoint`], registered with the identity server as a
//! national cloud's Graph is with Entra ID), in the test tenant, not
//! expired: a storage token, a token for the global Graph
//! (`https://graph.microsoft.com`), a token from elsewhere or an expired
//! one gets 401.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use crate::azure_ad::{now, IdentityServer, TENANT};
use crate::loopback_https::{bearer, serve_json, Request};

/// Graph's user properties returned without `$select`.
const DEFAULT_PROPERTIES: [&str; 11] = [
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];
/// Properties returned only when `$select` names them.
const SELECTED_ONLY: [&str; 1] = ["proxyAddresses"];

/// A response: status, extra headers, JSON body.
type Answer = (u16, Vec<(String, String)>, Value);

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    /// Path and query as sent (still percent-encoded).
    pub target: String,
    pub query: HashMap<String, String>,
    /// The `aud` of the bearer token, when it was one the identity server issued.
    pub audience: Option<String>,
    pub status: u16,
}

#[derive(Default)]
struct State {
    users: Vec<Map<String, Value>>,
    /// Largest page a listing returns (Graph's default is 100).
    page_size: usize,
    /// `Retry-After` seconds for each of the next requests to throttle.
    throttle: VecDeque<u64>,
    forbid: bool,
    /// Open listings by `$skiptoken`: the query and where the next page starts.
    pages: HashMap<String, (Vec<Clause>, usize)>,
    seen: Vec<SeenRequest>,
}

/// The Graph stand-in; one per test (cheap to start).
pub struct GraphServer {
    pub port: u16,
    identity: &'static IdentityServer,
    state: Arc<Mutex<State>>,
}

impl GraphServer {
    /// Serves on a free loopback port with the identity server's CA, trusting
    /// the tokens that server issues.
    pub fn start(identity: &'static IdentityServer) -> GraphServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind graph");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new(State {
            page_size: 100,
            ..State::default()
        }));
        identity.register_resource(&format!("https://127.0.0.1:{port}"));
        let shared = Arc::clone(&state);
        serve_json(
            listener,
            identity.ca.server_config(),
            "application/json;odata.metadata=minimal",
            move |req| respond(req, identity, port, &shared),
        );
        GraphServer {
            port,
            identity,
            state,
        }
    }

    /// `https://127.0.0.1:<port>`: what the Graph endpoint setting points
    /// at, and the audience its tokens must carry.
    pub fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The variables that make `rootmail` (or the provider) read this Graph
    /// as a service principal of the identity server, registered here:
    /// tenant, client id and secret, the authority, the test CA and the
    /// endpoint.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (client_id, secret) = (format!("graph-app-{id}"), format!("graph-secret-{id}"));
        self.identity.register_client(&client_id, &secret);
        vec![
            ("ARM_TENANT_ID", TENANT.to_owned()),
            ("ARM_CLIENT_ID", client_id),
            ("ARM_CLIENT_SECRET", secret),
            ("AZURE_AUTHORITY_HOST", self.identity.authority()),
            (
                "SSL_CERT_FILE",
                self.identity.ca.ca_file().display().to_string(),
            ),
            ("ROOTMAIL_GRAPH_ENDPOINT", self.endpoint()),
        ]
    }

    /// A mailbox (a user object): `primary` becomes `mail` and the `SMTP:`
    /// address, each of `secondary` an `smtp:` address; an X500 address is
    /// added as Exchange does. Returns the object id.
    pub fn add_mailbox(
        &self,
        user_principal_name: &str,
        primary: &str,
        secondary: &[String],
    ) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let mut proxy = vec![format!("SMTP:{primary}")];
        proxy.extend(secondary.iter().map(|a| format!("smtp:{a}")));
        proxy.push(format!(
            "X500:/o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn={id}"
        ));
        let user = json!({
            "id": id,
            "businessPhones": [],
            "displayName": primary.split('@').next().unwrap_or(primary),
            "givenName": null,
            "jobTitle": null,
            "mail": primary,
            "mobilePhone": null,
            "officeLocation": null,
            "preferredLanguage": null,
            "surname": null,
            "userPrincipalName": user_principal_name,
            "proxyAddresses": proxy,
        });
        if let Value::Object(map) = user {
            self.state.lock().expect("state").users.push(map);
        }
        id
    }

    /// Listings return at most `n` users a page.
    pub fn set_page_size(&self, n: usize) {
        self.state.lock().expect("state").page_size = n.max(1);
    }

    /// The next `count` requests get 429 with `Retry-After: <seconds>`.
    pub fn throttle_next(&self, count: usize, retry_after_seconds: u64) {
        let mut st = self.state.lock().expect("state");
        st.throttle
            .extend(std::iter::repeat_n(retry_after_seconds, count));
    }

    /// Every request is refused with 403 (the app lacks User.Read.All).
    pub fn forbid(&self, on: bool) {
        self.state.lock().expect("state").forbid = on;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.lock().expect("state").seen.clone()
    }
}

fn graph_error(status: u16, code: &str, message: &str) -> Answer {
    (
        status,
        Vec::new(),
        json!({"error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": "2026-01-01T00:00:00",
                "request-id": uuid::Uuid::new_v4().to_string(),
                "client-request-id": uuid::Uuid::new_v4().to_string(),
            }
        }}),
    )
}

fn respond(req: &Request, identity: &IdentityServer, port: u16, state: &Mutex<State>) -> Answer {
    let claims = bearer(req).and_then(|t| identity.access_token_claims(&t));
    let audience = claims
        .as_ref()
        .and_then(|c| c["aud"].as_str())
        .map(str::to_owned);
    let out = answer(req, claims.as_ref(), port, state);
    state.lock().expect("state").seen.push(SeenRequest {
        method: req.method.clone(),
        target: req.target.clone(),
        query: req.query.clone(),
        audience,
        status: out.0,
    });
    out
}

fn answer(req: &Request, claims: Option<&Value>, port: u16, state: &Mutex<State>) -> Answer {
    // Graph checks the token before anything else.
    let Some(claims) = claims else {
        return graph_error(
            401,
            "InvalidAuthenticationToken",
            "Access token is empty or was not issued by the tenant's identity provider.",
        );
    };
    if claims["aud"].as_str() != Some(format!("https://127.0.0.1:{port}").as_str()) {
        return graph_error(
            401,
            "InvalidAuthenticationToken",
            "Access token validation failure. Invalid audience.",
        );
    }
    if claims["tid"].as_str() != Some(TENANT) || claims["exp"].as_i64().unwrap_or(0) <= now() {
        return graph_error(
            401,
            "InvalidAuthenticationToken",
            "Lifetime validation failed, the token is expired.",
        );
    }
    let mut st = state.lock().expect("state");
    if let Some(seconds) = st.throttle.pop_front() {
        let (status, _, body) = graph_error(
            429,
            "TooManyRequests",
            "Too many requests from this application; try again later.",
        );
        return (
            status,
            vec![("Retry-After".to_owned(), seconds.to_string())],
            body,
        );
    }
    if st.forbid {
        return graph_error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    if req.method != "GET" {
        return graph_error(405, "Request_BadRequest", "Only GET is served here.");
    }
    let select = match selection(req.query.get("$select")) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let base = format!("https://127.0.0.1:{port}/v1.0");
    let context = |suffix: &str| {
        let props = if req.query.contains_key("$select") {
            format!("({})", select.join(","))
        } else {
            String::new()
        };
        format!("{base}/$metadata#users{props}{suffix}")
    };
    if let Some(key) = req.path.strip_prefix("/v1.0/users/") {
        let key = percent_encoding::percent_decode_str(key)
            .decode_utf8_lossy()
            .into_owned();
        let found = st.users.iter().find(|u| {
            u["id"].as_str() == Some(key.as_str())
                || u["userPrincipalName"]
                    .as_str()
                    .is_some_and(|upn| upn.eq_ignore_ascii_case(&key))
        });
        return match found {
            Some(user) => {
                let mut body = project(user, &select);
                body.insert("@odata.context".into(), context("/$entity").into());
                (200, Vec::new(), Value::Object(body))
            }
            None => graph_error(
                404,
                "Request_ResourceNotFound",
                &format!(
                    "Resource '{key}' does not exist or one of its queried reference-property \
                     objects are not present."
                ),
            ),
        };
    }
    if req.path != "/v1.0/users" {
        return graph_error(400, "BadRequest", "Resource not found for the segment.");
    }
    // A listing: a new one, or the next page of one.
    let (clauses, start) = match req.query.get("$skiptoken") {
        Some(token) => match st.pages.remove(token) {
            Some((clauses, start)) => (clauses, start),
            None => return graph_error(400, "Request_BadRequest", "Invalid $skiptoken."),
        },
        None => match req.query.get("$filter").map(|f| parse_filter(f)) {
            Some(Ok(c)) => (c, 0),
            Some(Err(why)) => return graph_error(400, "Request_UnsupportedQuery", &why),
            None => (Vec::new(), 0),
        },
    };
    let top = req
        .query
        .get("$top")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(100)
        .min(999);
    let size = top.min(st.page_size).max(1);
    let matching: Vec<&Map<String, Value>> = st
        .users
        .iter()
        .filter(|u| clauses.is_empty() || clauses.iter().any(|c| c.matches(u)))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(size)
        .map(|u| Value::Object(project(u, &select)))
        .collect();
    let mut body = Map::new();
    body.insert("@odata.context".into(), context("").into());
    body.insert("value".into(), Value::Array(page));
    if start + size < matching.len() {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let mut link = url::Url::parse(&format!("{base}/users")).expect("url");
        {
            let mut q = link.query_pairs_mut();
            for (k, v) in &req.query {
                if k != "$skiptoken" {
                    q.append_pair(k, v);
                }
            }
            q.append_pair("$skiptoken", &token);
        }
        st.pages.insert(token, (clauses, start + size));
        body.insert("@odata.nextLink".into(), link.to_string().into());
    }
    (200, Vec::new(), Value::Object(body))
}

/// The properties a response carries: `$select`'s, else Graph's defaults.
fn selection(select: Option<&String>) -> Result<Vec<String>, Answer> {
    let Some(select) = select else {
        return Ok(DEFAULT_PROPERTIES.iter().map(|s| s.to_string()).collect());
    };
    let mut names = Vec::new();
    for name in select.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        // Every property this stand-in knows; others are refused.
        let Some(known) = DEFAULT_PROPERTIES
            .iter()
            .chain(&SELECTED_ONLY)
            .find(|k| k.eq_ignore_ascii_case(name))
        else {
            return Err(graph_error(
                400,
                "Request_BadRequest",
                &format!(
                    "Could not find a property named '{name}' on type 'microsoft.graph.user'."
                ),
            ));
        };
        names.push(known.to_string());
    }
    Ok(names)
}

fn project(user: &Map<String, Value>, select: &[String]) -> Map<String, Value> {
    select
        .iter()
        .map(|name| (name.clone(), user.get(name).cloned().unwrap_or(Value::Null)))
        .collect()
}

/// One comparison of a `$filter` this stand-in understands.
#[derive(Debug, Clone)]
enum Clause {
    ProxyAddress(String),
    Mail(String),
    UserPrincipalName(String),
}

impl Clause {
    /// Directory comparisons ignore case, also `smtp:` against `SMTP:`.
    fn matches(&self, user: &Map<String, Value>) -> bool {
        let text = |name: &str| user.get(name).and_then(Value::as_str).unwrap_or_default();
        match self {
            Clause::ProxyAddress(value) => user
                .get("proxyAddresses")
                .and_then(Value::as_array)
                .is_some_and(|all| {
                    all.iter()
                        .filter_map(Value::as_str)
                        .any(|a| a.eq_ignore_ascii_case(value))
                }),
            Clause::Mail(value) => text("mail").eq_ignore_ascii_case(value),
            Clause::UserPrincipalName(value) => {
                text("userPrincipalName").eq_ignore_ascii_case(value)
            }
        }
    }
}

/// Parses `clause or clause …`.
fn parse_filter(filter: &str) -> Result<Vec<Clause>, String> {
    let unsupported = || format!("Unsupported or invalid query filter clause specified: {filter}");
    let mut clauses = Vec::new();
    let mut rest = filter.trim();
    loop {
        let (clause, after) = parse_clause(rest).ok_or_else(unsupported)?;
        clauses.push(clause);
        let after = after.trim_start();
        if after.is_empty() {
            return Ok(clauses);
        }
        rest = after
            .strip_prefix("or ")
            .or_else(|| after.strip_prefix("OR "))
            .ok_or_else(unsupported)?
            .trim_start();
    }
}

/// One clause and what follows it.
fn parse_clause(text: &str) -> Option<(Clause, &str)> {
    if let Some(rest) = strip_prefix_ci(text, "proxyAddresses/any(") {
        let (var, rest) = rest.split_once(':')?;
        let var = var.trim();
        let rest = strip_prefix_ci(rest.trim_start(), var)?;
        let rest = strip_prefix_ci(rest.trim_start(), "eq")?;
        let (value, rest) = literal(rest.trim_start())?;
        let rest = rest.trim_start().strip_prefix(')')?;
        return Some((Clause::ProxyAddress(value), rest));
    }
    for (name, make) in [
        ("mail", Clause::Mail as fn(String) -> Clause),
        ("userPrincipalName", Clause::UserPrincipalName),
    ] {
        if let Some(rest) = strip_prefix_ci(text, name) {
            let rest = strip_prefix_ci(rest.trim_start(), "eq")?;
            let (value, rest) = literal(rest.trim_start())?;
            return Some((make(value), rest));
        }
    }
    None
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// An OData string literal (`'…'`, a quote doubled inside).
fn literal(text: &str) -> Option<(String, &str)> {
    let mut chars = text.strip_prefix('\'')?.char_indices().peekable();
    let body = &text[1..];
    let mut value = String::new();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if chars.peek().map(|(_, n)| *n) == Some('\'') {
                chars.next();
                value.push('\'');
                continue;
            }
            return Some((value, &body[i + 1..]));
        }
        value.push(c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_graph_accepts_and_refuses() {
        let c = parse_filter("proxyAddresses/any(p:p eq 'smtp:a''b@x.com') or mail eq 'm@x.com'")
            .expect("parses");
        assert!(matches!(&c[0], Clause::ProxyAddress(v) if v == "smtp:a'b@x.com"));
        assert!(matches!(&c[1], Clause::Mail(v) if v == "m@x.com"));
        assert!(parse_filter("startswith(mail,'a')").is_err());
        assert!(parse_filter("mail eq 'a' and mail eq 'b'").is_err());
        assert!(parse_filter("mail eq 'unterminated").is_err());
    }
}
