//! The connection: mTLS both ways with pinned certificates, the RPCs served over
//! it, the broker stream, and a clean exit on shutdown.

use super::*;

#[tokio::test]
async fn serves_over_mtls_and_exits_zero_on_shutdown() {
    let plugin = PluginProcess::start().await;
    let hs = &plugin.handshake;
    assert_eq!(hs.core_version, 1, "go-plugin core protocol");
    assert_eq!(
        hs.protocol_version, 6,
        "Terraform protocol 6 negotiated from 5,6"
    );
    assert_eq!(hs.network, "tcp");
    assert!(hs.address.starts_with("127.0.0.1:"), "{}", hs.address);
    assert_eq!(hs.protocol, "grpc");
    assert!(
        !hs.server_cert_der.is_empty(),
        "AutoMTLS must announce a certificate"
    );

    let mut provider = plugin.provider();
    let meta = provider
        .get_metadata(tf::get_metadata::Request {})
        .await
        .expect("GetMetadata")
        .into_inner();
    let caps = meta.server_capabilities.expect("capabilities");
    assert!(caps.plan_destroy && caps.get_provider_schema_optional && !caps.move_resource_state);
    let names: Vec<&str> = meta
        .resources
        .iter()
        .map(|r| r.type_name.as_str())
        .collect();
    assert_eq!(names, ["rootmail_alias", "rootmail_alias_account"]);
    assert_eq!(meta.data_sources.len(), 4);
    let schema = provider
        .get_provider_schema(tf::get_provider_schema::Request {})
        .await
        .expect("GetProviderSchema")
        .into_inner();
    let block = schema
        .provider
        .and_then(|s| s.block)
        .expect("provider block");
    let attr = |n: &str| block.attributes.iter().find(|a| a.name == n).cloned();
    assert!(attr("access_key").expect("access_key").sensitive);
    assert!(attr("storage_account").is_some() && attr("use_emulator").is_some());

    // Protocol 6.9 resource identity: rootmail_alias is identified by its e-mail.
    let identities = provider
        .get_resource_identity_schemas(tf::get_resource_identity_schemas::Request {})
        .await
        .expect("GetResourceIdentitySchemas")
        .into_inner();
    let alias_identity = &identities.identity_schemas["rootmail_alias"];
    assert_eq!(alias_identity.identity_attributes.len(), 1);
    assert_eq!(alias_identity.identity_attributes[0].name, "email");
    assert!(alias_identity.identity_attributes[0].required_for_import);

    // Features this provider does not offer answer with a diagnostic, not a crash.
    let moved = provider
        .move_resource_state(tf::move_resource_state::Request::default())
        .await
        .expect("MoveResourceState")
        .into_inner();
    assert!(moved.diagnostics[0].summary.contains("not supported"));
    let function = provider
        .call_function(tf::call_function::Request {
            name: "nope".into(),
            arguments: vec![],
        })
        .await
        .expect("CallFunction")
        .into_inner();
    assert!(function
        .error
        .expect("function error")
        .text
        .contains("nope"));

    // The provider block's type, to encode configurations the way Terraform does.
    let config_type = rootmail::provider::config::schema().value_type();
    let config = |pairs: &[(&str, Value)]| {
        let mut v = Value::object_of_nulls(&config_type);
        for (k, x) in pairs {
            v.set_attr(*k, x.clone());
        }
        v.to_dynamic(&config_type).expect("encode config")
    };
    let conflicting = provider
        .validate_provider_config(tf::validate_provider_config::Request {
            config: Some(config(&[
                ("use_emulator", Value::from(true)),
                ("sas_token", Value::from("sv=secret-sas")),
            ])),
        })
        .await
        .expect("ValidateProviderConfig")
        .into_inner();
    let diag = conflicting.diagnostics.first().expect("a diagnostic");
    assert_eq!(diag.severity, tf::diagnostic::Severity::Error as i32);
    assert!(
        diag.summary.contains("Conflicting authentication"),
        "{diag:?}"
    );
    assert!(
        diag.attribute.is_some(),
        "the diagnostic names the attribute"
    );
    assert!(
        !format!("{diag:?}").contains("secret-sas"),
        "secret in a diagnostic"
    );

    // Unknown values (from resources not created yet) are accepted, not a crash.
    let unknown = provider
        .configure_provider(tf::configure_provider::Request {
            terraform_version: "1.0.3".into(),
            config: Some(config(&[("endpoint", Value::Unknown)])),
            client_capabilities: None,
        })
        .await
        .expect("ConfigureProvider")
        .into_inner();
    assert!(unknown.diagnostics.is_empty(), "{:?}", unknown.diagnostics);
    // Configuring reads the pool once: a dead endpoint is one error at once
    // (within the retry budget), a live one none.
    let dead = provider
        .configure_provider(tf::configure_provider::Request {
            terraform_version: "1.0.3".into(),
            config: Some(config(&[
                (
                    "endpoint",
                    Value::from("http://127.0.0.1:9/devstoreaccount1"),
                ),
                ("use_emulator", Value::from(true)),
                ("retry_timeout_seconds", Value::from(1i64)),
            ])),
            client_capabilities: None,
        })
        .await
        .expect("ConfigureProvider")
        .into_inner();
    assert_eq!(dead.diagnostics.len(), 1, "{:?}", dead.diagnostics);
    assert_eq!(dead.diagnostics[0].summary, "Table service unavailable");
    let endpoint = testkit::azurite::shared().endpoint();
    let table = testkit::azurite::unique_table_name("protocol");
    let pool = rootmail::store::AliasPool::connect(&rootmail::store::StoreConfig::emulator(
        endpoint.clone(),
        &table,
    ))
    .expect("connect");
    pool.ensure_table().await.expect("table");
    pool.seed("comp001@company.com", "company.com", 1)
        .await
        .expect("seed");
    let configured = provider
        .configure_provider(tf::configure_provider::Request {
            terraform_version: "1.0.3".into(),
            config: Some(config(&[
                ("endpoint", Value::from(endpoint.as_str())),
                ("table", Value::from(table.as_str())),
                ("use_emulator", Value::from(true)),
            ])),
            client_capabilities: None,
        })
        .await
        .expect("ConfigureProvider")
        .into_inner();
    assert!(
        configured.diagnostics.is_empty(),
        "{:?}",
        configured.diagnostics
    );
    provider
        .stop_provider(tf::stop_provider::Request {})
        .await
        .expect("StopProvider");

    let health = plugin
        .health()
        .check(HealthCheckRequest {
            service: "plugin".to_string(),
        })
        .await
        .expect("health check")
        .into_inner();
    assert_eq!(health.status, ServingStatus::Serving as i32);

    // Terraform opens the stdio stream and keeps it open; it must not block Shutdown.
    let mut stdio = plugin
        .stdio()
        .stream_stdio(())
        .await
        .expect("StreamStdio")
        .into_inner();

    provider
        .stop_provider(tf::stop_provider::Request {})
        .await
        .expect("StopProvider");

    let started = Instant::now();
    let stdout_rest = plugin.stdout_after_handshake();
    let status = plugin.shutdown().await;
    assert!(status.success(), "exit status {status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?} to exit",
        started.elapsed()
    );
    let ended = tokio::time::timeout(Duration::from_secs(2), stdio.message()).await;
    assert!(
        matches!(ended, Ok(Ok(None)) | Ok(Err(_))),
        "stdio stream should end with the process, got {ended:?}"
    );
    assert_eq!(
        stdout_rest, "",
        "nothing may follow the handshake line on stdout"
    );
}

#[tokio::test]
async fn refuses_a_client_without_a_certificate() {
    let plugin = PluginProcess::start().await;
    let refused = match connect(&plugin.handshake, None).await {
        Err(_) => true,
        // With TLS 1.3 the client may finish first and learn of the refusal on its first call.
        Ok(channel) => tf::provider_client::ProviderClient::new(channel)
            .get_metadata(tf::get_metadata::Request {})
            .await
            .is_err(),
    };
    assert!(refused, "a client without a certificate got through");
    tokio::time::sleep(Duration::from_millis(100)).await; // let the log line arrive
    assert!(
        plugin
            .stderr_eventually_contains("TLS handshake failed")
            .await,
        "the refusal is logged: {}",
        plugin.stderr()
    );
    // The legitimate client still works afterwards.
    plugin
        .provider()
        .get_metadata(tf::get_metadata::Request {})
        .await
        .expect("GetMetadata with the right certificate");
    assert!(plugin.shutdown().await.success());
}

#[tokio::test]
async fn refuses_a_client_with_another_certificate() {
    let plugin = PluginProcess::start().await;
    let stranger = ClientIdentity::generate();
    let refused = match connect(&plugin.handshake, Some(&stranger)).await {
        Err(_) => true,
        Ok(channel) => tf::provider_client::ProviderClient::new(channel)
            .get_provider_schema(tf::get_provider_schema::Request {})
            .await
            .is_err(),
    };
    assert!(refused, "a client with a foreign certificate got through");
    assert!(
        plugin.stderr_eventually_contains("refused").await,
        "the refusal is logged: {}",
        plugin.stderr()
    );
    assert!(plugin.shutdown().await.success());
}

#[tokio::test]
async fn plugin_client_cert_is_checked_at_start_and_every_certificate_is_pinned() {
    let started = Instant::now();
    // Junk: refused at once with a message naming the variable, no handshake.
    let first = ClientIdentity::generate();
    let junk_cases = [
        "not a certificate".to_owned(),
        format!("garbage\n{}", first.cert_pem),
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
            .to_owned(),
    ];
    for junk in &junk_cases {
        let out = run_to_exit(
            &[],
            &[
                ("TF_PLUGIN_MAGIC_COOKIE", plugin_client::MAGIC_COOKIE),
                ("PLUGIN_PROTOCOL_VERSIONS", "6"),
                ("PLUGIN_CLIENT_CERT", junk),
            ],
        )
        .await;
        assert!(!out.status.success(), "{junk:?}: started anyway");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("PLUGIN_CLIENT_CERT"), "{junk:?}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{junk:?}: a handshake line was printed"
        );
    }
    // Several certificates: a client with any of them gets in, others do not.
    let second = ClientIdentity::generate();
    let plugin = PluginProcess::start_with(Launch::default().env(
        "PLUGIN_CLIENT_CERT",
        format!("{}{}", first.cert_pem, second.cert_pem),
    ))
    .await;
    for (who, identity) in [("first", &first), ("second", &second)] {
        let channel = connect(&plugin.handshake, Some(identity))
            .await
            .unwrap_or_else(|e| panic!("{who} certificate refused: {e:?}"));
        tf::provider_client::ProviderClient::new(channel)
            .get_metadata(tf::get_metadata::Request {})
            .await
            .unwrap_or_else(|e| panic!("{who} certificate refused: {e}"));
    }
    let stranger = ClientIdentity::generate();
    let refused = match connect(&plugin.handshake, Some(&stranger)).await {
        Err(_) => true,
        Ok(channel) => tf::provider_client::ProviderClient::new(channel)
            .get_metadata(tf::get_metadata::Request {})
            .await
            .is_err(),
    };
    assert!(refused, "a certificate not given was accepted");
    // The helper's own client certificate is not among the pinned ones, so
    // it cannot ask for a Shutdown: stop the process directly.
    let mut plugin = plugin;
    let _ = plugin.child.start_kill();
    println!(
        "client certificates: {} junk values refused at start, 2 pinned, 1 stranger refused; {:?}",
        junk_cases.len(),
        started.elapsed()
    );
}

#[tokio::test]
async fn broker_stream_is_accepted_and_ends_with_the_host_side() {
    use rootmail::proto::plugin::grpc_broker_client::GrpcBrokerClient;
    use rootmail::proto::plugin::ConnInfo;

    let plugin = PluginProcess::start().await;
    let (to_plugin, outgoing) = tokio::sync::mpsc::channel::<ConnInfo>(4);
    let mut from_plugin = GrpcBrokerClient::new(plugin.channel.clone())
        .start_stream(tokio_stream::wrappers::ReceiverStream::new(outgoing))
        .await
        .expect("StartStream accepted")
        .into_inner();
    to_plugin
        .send(ConnInfo {
            service_id: 1,
            network: "tcp".to_string(),
            address: "127.0.0.1:1".to_string(),
            knock: None,
        })
        .await
        .expect("send a connection offer");
    drop(to_plugin); // the host closes its side
    let ended = tokio::time::timeout(Duration::from_secs(5), from_plugin.message()).await;
    assert!(
        matches!(ended, Ok(Ok(None))),
        "the plugin ends the broker stream politely: {ended:?}"
    );
    // And the plugin is still healthy.
    plugin
        .provider()
        .get_metadata(tf::get_metadata::Request {})
        .await
        .expect("GetMetadata after the broker stream");
    assert!(plugin.shutdown().await.success());
}
