//! The service's answers: a missing table, refused keys and SAS permissions,
//! connection strings, throttling, hangs and cancellation.

use super::*;

#[tokio::test]
async fn missing_table_is_named() {
    let az = azurite::shared();
    let pool = AliasPool::connect(&StoreConfig::emulator(az.endpoint(), "nosuchtable42"))
        .expect("connect");
    let err = pool.claim(&req("a")).await.expect_err("no table");
    assert!(
        matches!(err, StoreError::Azure(AzureError::TableNotFound { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("nosuchtable42"), "{err}");
}

#[tokio::test]
async fn wrong_key_is_forbidden_and_names_the_credential_kind_only() {
    let az = azurite::shared();
    let table = azurite::unique_table_name("forbidden");
    let good =
        AliasPool::connect(&StoreConfig::emulator(az.endpoint(), table.clone())).expect("connect");
    good.ensure_table().await.expect("table");
    let bad_key = "c2VjcmV0LWJ1dC13cm9uZy1rZXktZm9yLWF6dXJpdGUtdGVzdHM=";
    let settings = Settings {
        endpoint: Some(az.endpoint()),
        account: Some(az.account().into()),
        access_key: Some(bad_key.into()),
        table: Some(table),
        ..Default::default()
    };
    let config = StoreConfig::resolve(&settings, &|_| None).expect("config");
    assert_eq!(
        config.connection.credential.kind(),
        CredentialKind::SharedKey
    );
    assert!(!format!("{config:?}").contains(bad_key));
    let pool = AliasPool::connect(&config).expect("connect");
    let err = pool.stats(None).await.expect_err("forbidden");
    assert_eq!(pool.request_count(), 1, "403 is not retried");
    assert!(
        matches!(
            err,
            StoreError::Azure(AzureError::Forbidden { status: 403, .. })
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("shared key"), "{text}");
    assert!(!text.contains(bad_key), "{text}");
    // A key that is not even base64 is refused before any request, without echoing it.
    let mut broken = config.clone();
    broken.connection.credential = Credential::SharedKey {
        key: "not base64 secret!".into(),
    };
    let err = AliasPool::connect(&broken).expect_err("bad key");
    assert!(
        matches!(err, StoreError::Azure(AzureError::Config(_))),
        "{err}"
    );
    assert!(!err.to_string().contains("not base64 secret!"), "{err}");
}

#[tokio::test]
async fn connection_string_from_environment_works() {
    let az = azurite::shared();
    let table = azurite::unique_table_name("connstr");
    let cs = az.connection_string();
    let lookup = |name: &str| match name {
        "AZURE_STORAGE_CONNECTION_STRING" => Some(cs.clone()),
        "ROOTMAIL_TABLE_NAME" => Some(table.clone()),
        "ROOTMAIL_PARTITION_KEY" => Some("pool-b".to_owned()),
        _ => None,
    };
    let config = StoreConfig::resolve(&Settings::default(), &lookup).expect("config");
    assert!(matches!(
        config.connection.credential,
        Credential::ConnectionString(_)
    ));
    let pool = AliasPool::connect(&config).expect("connect");
    pool.ensure_table().await.expect("table");
    pool.seed("m", "corp.example", 2).await.expect("seed");
    let c = pool.claim(&req("a")).await.expect("claim");
    assert_eq!(c.alias.partition_key, "pool-b");
}

/// A local server that answers every request with `status` (or never, when
/// `None`) and records the requests' headers.
async fn fake_service(status: Option<u16>) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16384];
                loop {
                    let n = match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    log.lock()
                        .expect("lock")
                        .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    match status {
                        Some(code) => {
                            let resp = format!("HTTP/1.1 {code} Busy\r\nx-ms-error-code: ServerBusy\r\ncontent-length: 0\r\n\r\n");
                            if sock.write_all(resp.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                        None => tokio::time::sleep(Duration::from_secs(3600)).await,
                    }
                }
            });
        }
    });
    (format!("http://{addr}/devstoreaccount1"), seen)
}

fn fast_budget() -> RetryBudget {
    RetryBudget {
        total: Duration::from_millis(1500),
        per_request: Duration::from_millis(300),
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    }
}

#[tokio::test]
async fn throttling_is_retried_within_the_budget_with_our_user_agent() {
    let (endpoint, seen) = fake_service(Some(503)).await;
    let mut config = StoreConfig::emulator(endpoint, "throttled");
    config.connection.retry = fast_budget();
    let pool = AliasPool::connect(&config).expect("connect");
    let started = Instant::now();
    let err = pool.claim(&req("a")).await.expect_err("unavailable");
    let took = started.elapsed();
    // Nothing but throttling for the whole budget: the endpoint is down.
    assert!(
        matches!(&err, StoreError::Azure(AzureError::Down(o)) if o.cause == OutageCause::Unanswered),
        "{err}"
    );
    assert!(err.to_string().contains("503"), "{err}");
    assert!(
        took < Duration::from_secs(3),
        "bounded by the budget: {took:?}"
    );
    assert!(
        pool.request_count() >= 3,
        "retried: {}",
        pool.request_count()
    );
    let first = seen.lock().expect("lock")[0].to_ascii_lowercase();
    assert!(
        first.contains(&format!(
            "user-agent: terraform-provider-rootmail/{}",
            env!("CARGO_PKG_VERSION")
        )),
        "{first}"
    );
    assert!(first.contains("authorization: sharedkey devstoreaccount1:"));
}

#[tokio::test]
async fn hanging_service_times_out_and_cancellation_stops_work() {
    let (endpoint, _) = fake_service(None).await;
    let mut config = StoreConfig::emulator(endpoint.clone(), "hanging");
    config.connection.retry = fast_budget();
    let pool = AliasPool::connect(&config).expect("connect");
    let err = pool.get("some-id").await.expect_err("timeout");
    assert!(err.to_string().contains("no answer within"), "{err}");

    config.connection.retry.total = Duration::from_secs(600);
    config.connection.retry.per_request = Duration::from_secs(600);
    let pool = AliasPool::connect(&config).expect("connect");
    let cancel = pool.cancellation();
    let task = tokio::spawn({
        let pool = pool.clone();
        async move { pool.claim(&req("a")).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    cancel.cancel();
    let err = task.await.expect("task").expect_err("cancelled");
    assert!(
        matches!(err, StoreError::Azure(AzureError::Cancelled { .. })),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn sas_tokens_work_and_missing_permissions_are_explained() {
    let az = azurite::shared();
    let owner_pool = pool("sas").await;
    owner_pool.seed("m", "corp.example", 2).await.expect("seed");
    let full = azurite::account_sas("raul");
    let settings = |sas: &str| Settings {
        endpoint: Some(az.endpoint()),
        sas_token: Some(format!("?{sas}").into()),
        table: Some(owner_pool.table_name().to_owned()),
        ..Default::default()
    };
    let config = StoreConfig::resolve(&settings(&full), &|_| None).expect("config");
    assert_eq!(
        config.connection.account, "devstoreaccount1",
        "account taken from the endpoint"
    );
    let pool = AliasPool::connect(&config).expect("connect");
    let c = pool.claim(&req("sas-user")).await.expect("claim with SAS");
    assert_eq!(
        pool.release(&c.alias.id, &c.claim(), ReleasePolicy::Release)
            .await
            .expect("release"),
        ReleaseOutcome::Released
    );

    let read_only = azurite::account_sas("rl");
    let pool = AliasPool::connect(
        &StoreConfig::resolve(&settings(&read_only), &|_| None).expect("config"),
    )
    .expect("connect");
    assert_eq!(
        pool.stats(None)
            .await
            .expect("reading is allowed")
            .all
            .total,
        2
    );
    let err = pool.claim(&req("ro")).await.expect_err("writing is not");
    let text = err.to_string();
    assert!(
        matches!(err, StoreError::Azure(AzureError::Forbidden { .. })),
        "{text}"
    );
    assert!(
        text.contains("SAS token") && text.contains("permissions"),
        "{text}"
    );
    let sig = read_only.split("sig=").nth(1).expect("sig");
    assert!(sig.len() > 20);
    assert!(!text.contains(sig), "{text}");
}
