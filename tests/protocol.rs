//! The go-plugin transport, tested from outside: the built binary is started the
//! way Terraform starts it and driven by a real tonic client over real mTLS.

use std::time::{Duration, Instant};

use rootmail::proto::tfplugin6 as tf;
use rootmail::tfplugin::Value;
use testkit::plugin_client;
use testkit::plugin_client::{connect, provider_command, ClientIdentity, Launch, PluginProcess};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::HealthCheckRequest;

/// Runs the binary to completion with `envs` and `args`, with a deadline.
async fn run_to_exit(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut command = provider_command();
    command.args(args);
    for (name, value) in envs {
        command.env(name, value);
    }
    let child = command.spawn().expect("spawn the provider binary");
    tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the provider exits on its own")
        .expect("collect output")
}

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
async fn started_by_hand_it_explains_and_exits_1() {
    let output = run_to_exit(&[], &[]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        output.stdout.is_empty(),
        "no handshake line without the cookie"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Terraform"), "{stderr}");
    assert!(stderr.contains("--debug"), "{stderr}");

    let wrong = run_to_exit(&[], &[("TF_PLUGIN_MAGIC_COOKIE", "not-the-cookie")]).await;
    assert_eq!(wrong.status.code(), Some(1));
}

#[tokio::test]
async fn version_flag() {
    let output = run_to_exit(&["--version"], &[]).await;
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("terraform-provider-rootmail {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn refuses_a_host_without_protocol_6() {
    let output = run_to_exit(
        &[],
        &[
            ("TF_PLUGIN_MAGIC_COOKIE", plugin_client::MAGIC_COOKIE),
            ("PLUGIN_PROTOCOL_VERSIONS", "5"),
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("protocol") && stderr.contains('6'),
        "the error names the protocol: {stderr}"
    );
}

#[tokio::test]
async fn listens_within_the_port_range() {
    // Occupy the first port of the range so the plugin has to move on.
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let first = blocker.local_addr().expect("addr").port();
    let last = first.saturating_add(20);
    let plugin = PluginProcess::start_with(
        Launch::default()
            .env("PLUGIN_MIN_PORT", first.to_string())
            .env("PLUGIN_MAX_PORT", last.to_string()),
    )
    .await;
    let port: u16 = plugin
        .handshake
        .address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port in address");
    assert!(
        port > first && port <= last,
        "port {port} outside {first}..={last}"
    );
    assert!(plugin.shutdown().await.success());

    let bad = run_to_exit(
        &[],
        &[
            ("TF_PLUGIN_MAGIC_COOKIE", plugin_client::MAGIC_COOKIE),
            ("PLUGIN_MIN_PORT", "3000"),
            ("PLUGIN_MAX_PORT", "2000"),
        ],
    )
    .await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("PLUGIN_MIN_PORT"));
}

#[tokio::test]
async fn serves_on_a_unix_socket_when_asked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugin = PluginProcess::start_with(
        Launch::default().env("PLUGIN_UNIX_SOCKET_DIR", dir.path().display().to_string()),
    )
    .await;
    assert_eq!(plugin.handshake.network, "unix");
    let socket = std::path::PathBuf::from(&plugin.handshake.address);
    assert!(socket.starts_with(dir.path()), "{}", socket.display());
    plugin
        .provider()
        .get_provider_schema(tf::get_provider_schema::Request {})
        .await
        .expect("GetProviderSchema over the unix socket");
    assert!(plugin.shutdown().await.success());
    assert!(!socket.exists(), "the socket file is removed on exit");
}

#[tokio::test]
async fn the_unix_socket_is_owner_only_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let plugin = PluginProcess::start_with(
        Launch::default().env("PLUGIN_UNIX_SOCKET_DIR", dir.path().display().to_string()),
    )
    .await;
    let socket = std::path::PathBuf::from(&plugin.handshake.address);
    let mode = std::fs::metadata(&socket)
        .expect("socket metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "socket mode {mode:o} lets others connect");
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
async fn ignores_sigint_under_a_host() {
    let plugin = PluginProcess::start().await;
    let pid = plugin.child.id().expect("pid").to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("run kill");
    assert!(kill.success());
    tokio::time::sleep(Duration::from_millis(200)).await;
    plugin
        .provider()
        .get_metadata(tf::get_metadata::Request {})
        .await
        .expect("still serving after SIGINT: Terraform decides when providers stop");
    assert!(plugin.shutdown().await.success());
}

#[tokio::test]
async fn logs_hclog_json_lines_on_stderr() {
    let plugin = PluginProcess::start_with(Launch::default().env("TF_LOG_PROVIDER", "debug")).await;
    plugin
        .provider()
        .get_metadata(tf::get_metadata::Request {})
        .await
        .expect("GetMetadata");
    let mut plugin = plugin;
    plugin
        .controller()
        .shutdown(rootmail::proto::plugin::Empty {})
        .await
        .expect("Shutdown");
    assert!(plugin
        .wait_exit(Duration::from_secs(5))
        .await
        .is_some_and(|s| s.success()));
    tokio::time::sleep(Duration::from_millis(100)).await; // let the pipe drain
    let stderr = plugin.stderr();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["@message"] == "serving plugin"),
        "{stderr}"
    );
    for line in &lines {
        for key in ["@level", "@message", "@module", "@timestamp"] {
            assert!(line[key].is_string(), "{key} missing in {line}");
        }
    }
}

#[tokio::test]
async fn debug_mode_prints_reattach_config_and_stops_on_ctrl_c() {
    let mut child = provider_command()
        .arg("--debug")
        .spawn()
        .expect("spawn --debug");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let reattach = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.trim().strip_prefix("TF_REATTACH_PROVIDERS='") {
                return rest.strip_suffix('\'').map(str::to_string);
            }
        }
        None
    })
    .await
    .expect("reattach line in time")
    .expect("a TF_REATTACH_PROVIDERS line");
    let value: serde_json::Value = serde_json::from_str(&reattach).expect("reattach JSON");
    // The same process under Terraform's and OpenTofu's address of the source.
    assert_eq!(
        value["registry.terraform.io/rootmail/rootmail"],
        value["registry.opentofu.org/rootmail/rootmail"]
    );
    let entry = &value["registry.terraform.io/rootmail/rootmail"];
    assert_eq!(entry["Protocol"], "grpc");
    assert_eq!(entry["ProtocolVersion"], 6);
    assert_eq!(entry["Test"], true);
    assert_eq!(
        entry["Pid"].as_u64(),
        child.id().map(u64::from),
        "Pid is the process"
    );
    assert_eq!(entry["Addr"]["Network"], "tcp");
    let address = entry["Addr"]["String"]
        .as_str()
        .expect("address")
        .to_string();

    // Debug mode is plaintext h2c: Terraform reattaches without TLS.
    let handshake = plugin_client::Handshake {
        core_version: 1,
        protocol_version: 6,
        network: "tcp".to_string(),
        address,
        protocol: "grpc".to_string(),
        server_cert_der: Vec::new(),
    };
    let channel = connect(&handshake, None).await.expect("plaintext connect");
    tf::provider_client::ProviderClient::new(channel)
        .get_provider_schema(tf::get_provider_schema::Request {})
        .await
        .expect("GetProviderSchema in debug mode");

    let pid = child.id().expect("pid").to_string();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill")
        .success());
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("exits after Ctrl-C")
        .expect("wait");
    assert!(status.success(), "{status:?}");
}

/// Startup numbers for the report; run against the release build with
/// `ROOTMAIL_PROVIDER_BIN=target/release/terraform-provider-rootmail cargo test
/// --test protocol startup_numbers -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "measurement, not a check"]
async fn startup_numbers() {
    let mut handshakes = Vec::new();
    let mut connects = Vec::new();
    let mut first_schemas = Vec::new();
    let mut schema_calls = Vec::new();
    let mut rss = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..10 {
        let plugin = PluginProcess::start().await;
        let call_started = Instant::now();
        plugin
            .provider()
            .get_provider_schema(tf::get_provider_schema::Request {})
            .await
            .expect("GetProviderSchema");
        schema_calls.push(call_started.elapsed());
        first_schemas.push(plugin.spawned_at.elapsed());
        // CPU time the provider used up to its first answer: unlike wall time it
        // does not depend on what else the machine is doing.
        let pid = plugin.child.id().expect("pid");
        let schedstat =
            std::fs::read_to_string(format!("/proc/{pid}/schedstat")).expect("schedstat");
        let cpu_ns: u64 = schedstat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .expect("schedstat run time");
        cpu.push(Duration::from_nanos(cpu_ns));
        handshakes.push(plugin.handshake_elapsed);
        connects.push(plugin.connected_elapsed);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let pid = plugin.child.id().expect("pid");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        rss.push(kb);
        assert!(plugin.shutdown().await.success());
    }
    let summary = |name: &str, mut values: Vec<Duration>| {
        values.sort();
        println!(
            "{name}: min {:?} median {:?} max {:?}",
            values[0], values[5], values[9]
        );
    };
    println!("binary {}", plugin_client::provider_binary().display());
    summary("exec -> handshake line", handshakes);
    summary("exec -> mTLS channel established", connects);
    summary("exec -> first GetProviderSchema answer", first_schemas);
    summary("first GetProviderSchema call alone", schema_calls);
    summary("provider CPU time up to its first answer", cpu);
    rss.sort();
    println!(
        "idle VmRSS kB: min {} median {} max {}",
        rss[0], rss[5], rss[9]
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

/// Resource identity (Terraform 1.12+, not runnable here): the PlanResourceChange
/// answers a 1.12 Terraform would get. A replacement must not plan the old
/// e-mail as the new object's identity; an in-place update keeps it.
#[tokio::test]
async fn planned_identity_follows_the_object_not_the_replaced_one() {
    use rootmail::tfplugin::Type;
    let plugin = PluginProcess::start().await;
    let provider = plugin.provider();
    let ty = rootmail::provider::alias::schema().value_type();
    let identity_ty = Type::Object([("email".to_string(), Type::String)].into_iter().collect());
    let old = "aws_11111111-1111-4111-8111-111111111111@company.com";
    let obj = |pairs: &[(&str, Value)]| {
        let mut v = Value::object_of_nulls(&ty);
        for (k, x) in pairs {
            v.set_attr(*k, x.clone());
        }
        v
    };
    let prior = obj(&[
        ("id", old.into()),
        ("email", old.into()),
        ("alias_id", "11111111-1111-4111-8111-111111111111".into()),
        ("owner", "team@company.com".into()),
        ("mailbox", "comp001@company.com".into()),
        ("on_destroy", "release".into()),
        ("quarantine_days", Value::from(90i64)),
        ("claimed_at", "2026-01-01T00:00:00Z".into()),
        ("aws_account_id", "".into()),
        ("claim_token", "token".into()),
        ("status", "claimed".into()),
    ]);
    let prior_identity = tf::ResourceIdentityData {
        identity_data: Some(
            Value::object([("email", Value::from(old))])
                .to_dynamic(&identity_ty)
                .expect("identity"),
        ),
    };
    // Terraform's proposed new state: the configuration, computed values from prior.
    let proposed_from = |config: &Value| {
        let mut p = config.clone();
        for k in [
            "id",
            "email",
            "alias_id",
            "mailbox",
            "claimed_at",
            "aws_account_id",
            "claim_token",
            "status",
        ] {
            if config.attr(k).is_null() {
                p.set_attr(k, prior.attr(k).clone());
            }
        }
        p
    };
    let dv = |v: &Value| Some(v.to_dynamic(&ty).expect("encode"));
    let request =
        |prior_state: Value, config: Value, proposed: Value| tf::plan_resource_change::Request {
            type_name: "rootmail_alias".into(),
            prior_state: dv(&prior_state),
            proposed_new_state: dv(&proposed),
            config: dv(&config),
            prior_identity: (!prior_state.is_null()).then(|| prior_identity.clone()),
            ..Default::default()
        };
    let provider2 = provider.clone();
    let plan = move |prior_state: Value, config: Value, proposed: Value| {
        let req = request(prior_state, config, proposed);
        let mut client = provider2.clone();
        async move {
            client
                .plan_resource_change(req)
                .await
                .expect("PlanResourceChange")
                .into_inner()
        }
    };
    let identity_email = |id: &Option<tf::ResourceIdentityData>| {
        id.as_ref()
            .and_then(|i| i.identity_data.as_ref())
            .map(|dv| {
                Value::from_dynamic(&identity_ty, dv)
                    .expect("identity decodes")
                    .attr("email")
                    .clone()
            })
    };

    // Another mailbox replaces the alias: the new e-mail is unknown until apply.
    let config = obj(&[
        ("owner", "team@company.com".into()),
        ("mailbox", "comp002@company.com".into()),
    ]);
    let replace = plan(prior.clone(), config.clone(), proposed_from(&config)).await;
    assert!(replace.diagnostics.is_empty(), "{:?}", replace.diagnostics);
    assert_eq!(replace.requires_replace.len(), 1);
    let planned = identity_email(&replace.planned_identity);
    assert!(
        planned.as_ref().is_none_or(|e| !e.is_known()),
        "a replacement planned the old identity: {planned:?}"
    );

    // A new owner is an in-place update: same alias, same identity.
    let config = obj(&[("owner", "other@company.com".into())]);
    let update = plan(prior.clone(), config.clone(), proposed_from(&config)).await;
    assert!(update.requires_replace.is_empty());
    assert_eq!(
        identity_email(&update.planned_identity),
        Some(Value::from(old))
    );

    // A create has no identity before apply.
    let config = obj(&[("owner", "team@company.com".into())]);
    let create = plan(Value::Null, config.clone(), config.clone()).await;
    assert_eq!(identity_email(&create.planned_identity), None);

    // A destroy keeps the prior identity (Terraform passes it to the delete).
    let destroy = plan(prior.clone(), Value::Null, Value::Null).await;
    assert_eq!(
        identity_email(&destroy.planned_identity),
        Some(Value::from(old))
    );
}
