//! How the binary starts and stops: by hand or under a host, protocol version,
//! port range or unix socket, signals, logs, debug mode, and how fast.

use super::*;

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
