//! The Microsoft Graph reader against the loopback Graph (testkit::graph),
//! behind the loopback Entra ID: a mailbox found by user principal name or,
//! when that differs, by its proxy addresses across `@odata.nextLink`
//! pages; a missing one is `None`; 429 is waited out as `Retry-After` says
//! (and given up on past the budget); a token for another audience and a
//! missing permission fail at once with what to do. Set up from the
//! settings, tokens are asked for the Graph that is read: `graph_endpoint`'s
//! origin, or what a custom cloud's metadata names.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rootmail::azure::token::TokenSource;
use rootmail::azure::{Credential, HttpClients};
use rootmail::graph::{GraphError, GraphReader};
use rootmail::settings::RetryBudget;
use testkit::azure_ad::{IdentityServer, GRAPH_RESOURCE, STORAGE_RESOURCE, TENANT};
use testkit::graph::GraphServer;

fn identity() -> &'static IdentityServer {
    IdentityServer::shared()
}

/// The crate's HTTP clients, trusting the stand-ins' test CA as
/// `SSL_CERT_FILE` would make them.
fn http() -> HttpClients {
    HttpClients::new(Some(&identity().ca.ca_file())).expect("clients")
}

/// Tokens of a service principal of the loopback Entra ID.
fn tokens() -> Arc<TokenSource> {
    let client_id = format!("graph-reader-{}", uuid::Uuid::new_v4().simple());
    identity().register_client(&client_id, "graph-secret");
    let credential = Credential::ClientSecret {
        tenant_id: TENANT.to_owned(),
        client_id,
        secret: "graph-secret".into(),
    };
    let source = TokenSource::for_credential(&credential, &identity().authority(), &http())
        .expect("token source")
        .expect("an Azure AD credential");
    Arc::new(source)
}

fn reader(graph: &GraphServer, resource: &str, total: Duration) -> GraphReader {
    GraphReader::new(
        http().modern,
        &graph.endpoint(),
        resource,
        tokens(),
        RetryBudget::for_total(total),
    )
    .expect("reader")
}

fn aliases(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("aws_{i}@company.com")).collect()
}

#[tokio::test]
async fn mailboxes_are_found_by_name_or_address_and_a_missing_one_is_none() {
    let graph = GraphServer::start(identity());
    let id = graph.add_mailbox("comp001@company.com", "comp001@company.com", &aliases(3));
    // A shared mailbox whose user principal name is not its address.
    graph.add_mailbox(
        "comp002@company.onmicrosoft.com",
        "Comp002@Company.com",
        &["aws_x@company.com".to_owned()],
    );
    let r = reader(&graph, &graph.endpoint(), Duration::from_secs(20));

    let one = r
        .mailbox("COMP001@company.com")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(one.id, id);
    assert_eq!(one.smtp_addresses().len(), 4, "{one:?}");
    assert!(one.has_address("AWS_2@company.com"));
    let by_id = r.mailbox(&id).await.expect("read").expect("by id");
    assert_eq!(by_id.user_principal_name, "comp001@company.com");

    let two = r
        .mailbox("comp002@company.com")
        .await
        .expect("read")
        .expect("by address");
    assert_eq!(
        two.primary_address().as_deref(),
        Some("Comp002@Company.com")
    );
    assert!(r
        .mailbox("comp404@company.com")
        .await
        .expect("read")
        .is_none());

    // Every request asked for proxyAddresses and carried a Graph token.
    let seen = graph.requests();
    assert!(!seen.is_empty());
    for s in &seen {
        assert_eq!(s.audience, Some(graph.endpoint()), "{s:?}");
        let select = s.query.get("$select").cloned().unwrap_or_default();
        assert!(select.contains("proxyAddresses"), "{s:?}");
    }
    assert!(
        seen.iter().any(|s| s.status == 404)
            && seen.iter().any(|s| s.query.contains_key("$filter")),
        "the address was looked up by filter after the name missed: {seen:?}"
    );
}

#[tokio::test]
async fn listings_follow_next_links_to_the_last_page() {
    let graph = GraphServer::start(identity());
    // Graph keeps an address unique; the stand-in does not, which lets a
    // listing have more than one page here.
    for n in 0..3 {
        graph.add_mailbox(
            &format!("box{n}@company.com"),
            &format!("box{n}@company.com"),
            &["shared@company.com".to_owned()],
        );
    }
    graph.set_page_size(1);
    let r = reader(&graph, &graph.endpoint(), Duration::from_secs(20));
    let users = r
        .users_with_address("Shared@Company.com")
        .await
        .expect("list");
    let mut names: Vec<String> = users.into_iter().map(|u| u.user_principal_name).collect();
    names.sort();
    assert_eq!(
        names,
        ["box0@company.com", "box1@company.com", "box2@company.com"]
    );
    let pages = graph
        .requests()
        .iter()
        .filter(|s| s.query.contains_key("$skiptoken"))
        .count();
    assert_eq!(pages, 2, "two next links followed");
}

#[tokio::test]
async fn throttling_is_waited_out_as_retry_after_says_within_the_budget() {
    let graph = GraphServer::start(identity());
    graph.add_mailbox("comp001@company.com", "comp001@company.com", &aliases(1));
    let r = reader(&graph, &graph.endpoint(), Duration::from_secs(20));
    graph.throttle_next(1, 1);
    let started = Instant::now();
    r.mailbox("comp001@company.com")
        .await
        .expect("read")
        .expect("found");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited Retry-After"
    );
    assert_eq!(
        graph.requests().iter().filter(|s| s.status == 429).count(),
        1
    );

    // Throttled for longer than the budget allows: a clear error, soon.
    let short = reader(&graph, &graph.endpoint(), Duration::from_secs(3));
    graph.throttle_next(10, 30);
    let started = Instant::now();
    let err = short
        .mailbox("comp001@company.com")
        .await
        .expect_err("throttled");
    assert!(
        matches!(err, GraphError::Throttled { status: 429, .. }),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "did not sleep past the budget"
    );
}

#[tokio::test]
async fn a_token_for_another_audience_or_a_missing_permission_fails_at_once() {
    let graph = GraphServer::start(identity());
    graph.add_mailbox("comp001@company.com", "comp001@company.com", &aliases(1));
    // A storage token is refused by Graph.
    let wrong = reader(&graph, STORAGE_RESOURCE, Duration::from_secs(20));
    let err = wrong.mailbox("comp001@company.com").await.expect_err("401");
    assert!(matches!(err, GraphError::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("Invalid audience"), "{err}");
    assert_eq!(
        graph
            .requests()
            .last()
            .and_then(|s| s.audience.clone())
            .as_deref(),
        Some(STORAGE_RESOURCE)
    );
    // So is one for the global Graph: this Graph, like a national cloud's,
    // takes only tokens issued for itself.
    let global = reader(&graph, GRAPH_RESOURCE, Duration::from_secs(20));
    let err = global
        .mailbox("comp001@company.com")
        .await
        .expect_err("401");
    assert!(err.to_string().contains("Invalid audience"), "{err}");

    graph.forbid(true);
    let r = reader(&graph, &graph.endpoint(), Duration::from_secs(20));
    let before = graph.requests().len();
    let err = r.mailbox("comp001@company.com").await.expect_err("403");
    assert!(err.to_string().contains("User.Read.All"), "{err}");
    assert_eq!(graph.requests().len(), before + 1, "not retried");
    for secret in identity().secrets() {
        assert!(!err.to_string().contains(&secret));
    }
}

#[tokio::test]
async fn a_certificate_that_does_not_verify_fails_at_once() {
    let graph = GraphServer::start(identity());
    graph.add_mailbox("comp001@company.com", "comp001@company.com", &aliases(1));
    // Tokens come through the trusting client; Graph's certificate is not
    // trusted by the reader's (no SSL_CERT_FILE).
    let untrusting = HttpClients::new(None).expect("clients").modern;
    let r = GraphReader::new(
        untrusting,
        &graph.endpoint(),
        &graph.endpoint(),
        tokens(),
        RetryBudget::for_total(Duration::from_secs(30)),
    )
    .expect("reader");
    let started = Instant::now();
    let err = r
        .mailbox("comp001@company.com")
        .await
        .expect_err("untrusted");
    assert!(matches!(err, GraphError::Unreachable { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "not retried for the budget: {:?}",
        started.elapsed()
    );
}

/// What `rootmail` and the provider would resolve from `env`.
fn from_env(env: &[(&str, String)]) -> Result<GraphReader, rootmail::graph::GraphSetupError> {
    let env: std::collections::HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    GraphReader::from_settings(&rootmail::settings::Settings::default(), &|name| {
        env.get(name).cloned()
    })
}

#[tokio::test]
async fn tokens_are_asked_for_the_graph_that_graph_endpoint_names() {
    let graph = GraphServer::start(identity());
    graph.add_mailbox("comp001@company.com", "comp001@company.com", &aliases(1));
    // As for a national cloud's Graph (e.g. https://dod-graph.microsoft.us).
    let r = from_env(&graph.env()).expect("reader");
    r.mailbox("comp001@company.com")
        .await
        .expect("read with a token for this Graph")
        .expect("found");
    let seen = graph.requests();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|s| s.status == 200 && s.audience == Some(graph.endpoint())),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_custom_clouds_graph_comes_from_its_metadata() {
    let graph = GraphServer::start(identity());
    graph.add_mailbox("comp001@company.com", "comp001@company.com", &aliases(1));
    let with_graph = format!("GraphCloud{}", uuid::Uuid::new_v4().simple());
    identity().add_cloud(&with_graph, Some(&graph.endpoint()));
    // The cloud's metadata says where Graph is: no graph_endpoint, no
    // authority host; the document names both.
    let mut env: Vec<(&str, String)> = graph
        .env()
        .into_iter()
        .filter(|(k, _)| !matches!(*k, "ROOTMAIL_GRAPH_ENDPOINT" | "AZURE_AUTHORITY_HOST"))
        .collect();
    env.push(("ARM_METADATA_HOSTNAME", identity().authority()));
    env.push(("ARM_ENVIRONMENT", with_graph));
    let r = from_env(&env).expect("reader");
    r.mailbox("comp001@company.com")
        .await
        .expect("read")
        .expect("found");
    assert!(graph
        .requests()
        .iter()
        .all(|s| s.status == 200 && s.audience == Some(graph.endpoint())));

    // A cloud whose metadata names no Microsoft Graph: say what to set.
    let without = format!("NoGraphCloud{}", uuid::Uuid::new_v4().simple());
    identity().add_cloud(&without, None);
    env.retain(|(k, _)| *k != "ARM_ENVIRONMENT");
    env.push(("ARM_ENVIRONMENT", without));
    let err = from_env(&env).expect_err("no Graph").to_string();
    assert!(
        err.contains("microsoftGraphResourceId") && err.contains("graph_endpoint"),
        "{err}"
    );
}
