//! Start-up: this provider next to a Go provider.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::options::Options;
use crate::report::{median, ms, read_proc_kb};
use crate::terraform_runs::provider_binary;
use crate::{plugin_client, terraform};

pub(crate) struct Startup {
    name: String,
    binary_mib: f64,
    handshake: Duration,
    first_schema: Option<Duration>,
    idle_rss_kb: u64,
    schema_json: Duration,
    phases: Phases,
}

/// Where the time of one `providers schema -json` goes, from terraform's own trace
/// log (median of each phase over the rounds).
#[derive(Default, Clone, Copy)]
struct Phases {
    /// Terraform making its AutoMTLS client certificate: before it starts any
    /// plugin, the same work whatever the provider.
    client_certificate: Duration,
    /// From terraform starting the plugin to seeing it exit: the plugin's own
    /// start-up, the mTLS connection, GetProviderSchema and shutdown.
    plugin: Duration,
}

/// The timestamp at the start of a terraform log line (RFC 3339, ms).
fn log_time(line: &str) -> Option<time::OffsetDateTime> {
    let stamp = line.split_whitespace().next()?;
    time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).ok()
}

/// Runs `providers schema -json` at trace level `rounds` times and splits each run
/// into [`Phases`] by the lines terraform logs around a plugin's life.
fn schema_json_phases(dir: &mut terraform::TerraformDir, rounds: usize) -> Result<Phases> {
    dir.env("TF_LOG", "trace");
    let mut certificate = Vec::new();
    let mut plugin = Vec::new();
    for _ in 0..rounds {
        let out = dir.run(&["providers", "schema", "-json"]);
        if !out.success() {
            bail!("providers schema -json failed: {}", out.stderr);
        }
        let at = |needle: &str| {
            out.stderr
                .lines()
                .filter(|l| l.contains(needle))
                .find_map(log_time)
                .ok_or_else(|| anyhow!("terraform's trace log has no line with {needle:?}"))
        };
        let mtls = at("configuring client automatic mTLS")?;
        let started = at("provider: starting plugin")?;
        let exited = at("provider: plugin exited")?;
        certificate.push((started - mtls).unsigned_abs());
        plugin.push((exited - started).unsigned_abs());
    }
    dir.env("TF_LOG", "");
    Ok(Phases {
        client_certificate: median(certificate),
        plugin: median(plugin),
    })
}

/// exec → handshake line and idle RSS, the way Terraform starts a plugin
/// (cookie, protocol versions, AutoMTLS client certificate).
pub(crate) fn handshake_time(binary: &Path) -> Result<(Duration, u64)> {
    let identity = plugin_client::ClientIdentity::generate();
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env("TF_PLUGIN_MAGIC_COOKIE", plugin_client::MAGIC_COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_CLIENT_CERT", &identity.cert_pem)
        .env_remove("TF_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("spawn {}", binary.display()))?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let elapsed = started.elapsed();
    if !line.contains('|') {
        let _ = child.kill();
        bail!("{} printed no handshake line", binary.display());
    }
    std::thread::sleep(Duration::from_millis(500));
    let rss = read_proc_kb(child.id(), "VmRSS:").unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    Ok((elapsed, rss))
}

pub(crate) fn schema_json_time(dir: &terraform::TerraformDir) -> Result<Duration> {
    let out = dir.run(&["providers", "schema", "-json"]);
    if !out.success() {
        bail!("providers schema -json failed: {}", out.stderr);
    }
    Ok(out.elapsed)
}

pub(crate) async fn startup_section(
    opts: &Options,
    doc: &mut String,
    summary: &mut Vec<String>,
) -> Result<()> {
    let rounds = if opts.quick { 5 } else { 11 };
    let ours = provider_binary();
    let vsphere = install_go_provider()?;
    let mut results = Vec::new();

    // Terraform alone, for reference: a configuration without providers.
    let bare = terraform::TerraformDir::new();
    let mut bare_dir = bare;
    bare_dir.env("TF_LOG", "");
    bare_dir.write("main.tf", "terraform {}\n");
    let bare_time = median(
        (0..rounds)
            .map(|_| schema_json_time(&bare_dir))
            .collect::<Result<Vec<_>>>()?,
    );

    for (name, binary) in [
        (
            "terraform-provider-rootmail (Rust, protocol 6)",
            ours.clone(),
        ),
        (
            "terraform-provider-vsphere 2.0.2 (Go, protocol 5)",
            vsphere.clone(),
        ),
    ] {
        let mut hs = Vec::new();
        let mut rss = Vec::new();
        for _ in 0..rounds {
            let (t, kb) = handshake_time(&binary)?;
            hs.push(t);
            rss.push(Duration::from_millis(kb)); // sorted like durations
        }
        let is_ours = binary == ours;
        let first_schema = if is_ours {
            let mut v = Vec::new();
            for _ in 0..rounds {
                let plugin = plugin_client::PluginProcess::start().await;
                plugin
                    .provider()
                    .get_provider_schema(
                        rootmail::proto::tfplugin6::get_provider_schema::Request {},
                    )
                    .await
                    .map_err(|e| anyhow!("GetProviderSchema: {e}"))?;
                v.push(plugin.spawned_at.elapsed());
                plugin.shutdown().await;
            }
            Some(median(v))
        } else {
            None
        };
        // `terraform providers schema -json` with only this provider.
        let mut dir = terraform::TerraformDir::new();
        dir.env("TF_LOG", "");
        let schema_json = if is_ours {
            dir.write("main.tf", &terraform::required_providers_block());
            median(
                (0..rounds)
                    .map(|_| schema_json_time(&dir))
                    .collect::<Result<Vec<_>>>()?,
            )
        } else {
            let plugin_dir = dir.path().join("../vsphere-plugin");
            std::fs::create_dir_all(&plugin_dir)?;
            let link = plugin_dir.join("terraform-provider-vsphere");
            std::fs::copy(&binary, &link)?;
            let cli = dir.path().join("../vsphere.tfrc");
            std::fs::write(
                &cli,
                format!(
                    "provider_installation {{\n  dev_overrides {{\n    \"hashicorp/vsphere\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                    plugin_dir.canonicalize()?.display()
                ),
            )?;
            dir.env("TF_CLI_CONFIG_FILE", cli.display().to_string());
            dir.write(
                "main.tf",
                "terraform {\n  required_providers {\n    vsphere = {\n      source = \"hashicorp/vsphere\"\n    }\n  }\n}\n",
            );
            median(
                (0..rounds)
                    .map(|_| schema_json_time(&dir))
                    .collect::<Result<Vec<_>>>()?,
            )
        };
        // The trace log goes to stderr here, not to the directory's log file.
        dir.env("TF_LOG_PATH", "");
        let phases = schema_json_phases(&mut dir, rounds)?;
        let startup = Startup {
            name: name.to_owned(),
            binary_mib: std::fs::metadata(&binary)?.len() as f64 / 1024.0 / 1024.0,
            handshake: median(hs),
            first_schema,
            idle_rss_kb: median(rss).as_millis() as u64,
            schema_json,
            phases,
        };
        println!(
            "{}: {:.1} MiB, exec->handshake {} ms, exec->first schema {}, idle RSS {:.1} MiB, `providers schema -json` {} ms",
            startup.name,
            startup.binary_mib,
            ms(startup.handshake),
            startup
                .first_schema
                .map(|d| format!("{} ms", ms(d)))
                .unwrap_or_else(|| "–".into()),
            startup.idle_rss_kb as f64 / 1024.0,
            ms(startup.schema_json)
        );
        results.push(startup);
    }
    println!(
        "terraform alone (no provider): `providers schema -json` {} ms",
        ms(bare_time)
    );
    // The provider's share: `providers schema -json` minus terraform alone.
    let share = |s: &Startup| s.schema_json.saturating_sub(bare_time);
    let go = results.iter().find(|s| s.name.contains("(Go")).map(share);
    let ratio = |d: Duration| match go {
        Some(g) if !g.is_zero() => format!("{:.2}", d.as_secs_f64() / g.as_secs_f64()),
        _ => "–".into(),
    };
    let go_plugin = results
        .iter()
        .find(|s| s.name.contains("(Go"))
        .map(|s| s.phases.plugin);
    let plugin_ratio = |d: Duration| match go_plugin {
        Some(g) if !g.is_zero() => format!("{:.2}", d.as_secs_f64() / g.as_secs_f64()),
        _ => "–".into(),
    };
    if let (Some(rust), Some(go)) = (
        results.iter().find(|s| !s.name.contains("(Go")),
        results.iter().find(|s| s.name.contains("(Go")),
    ) {
        summary.push(format!(
            "Start-up (section 4): exec → handshake {:.1}x faster than the Go provider, idle \
memory {:.1}x smaller.",
            go.handshake.as_secs_f64() / rust.handshake.as_secs_f64().max(1e-9),
            go.idle_rss_kb as f64 / (rust.idle_rss_kb as f64).max(1.0)
        ));
    }

    let _ = writeln!(doc, "## 4. The provider process: start-up, memory, size\n");
    let _ = writeln!(
        doc,
        "Medians of {rounds} runs. *exec → handshake*: from spawning the binary the way Terraform \
does (magic cookie, `PLUGIN_PROTOCOL_VERSIONS=5,6`, an AutoMTLS client certificate) to its \
handshake line on stdout. *exec → first schema*: to the answer of the first GetProviderSchema \
over mTLS (protocol 6 client of the test suite; not measured for the protocol-5 Go provider). \
*idle RSS*: VmRSS 0.5 s after the handshake. *`providers schema -json`*: wall time of the \
real terraform loading the provider and printing its schema; *share*: that minus terraform \
alone with no provider ({} ms). Binary sizes are the shipped files (ours: release profile, \
stripped).\n\n\
The share splits into two phases, read from terraform's own trace log in separate runs \
(logging makes those runs slower, so the phases need not add up to the share): \
*client certificate*, from `configuring client automatic mTLS` to `starting plugin`, is \
terraform generating its P-521 AutoMTLS certificate before it starts any plugin: the same \
work for every provider, outside the provider's reach. *plugin*, from `starting plugin` to \
`plugin exited`, is everything the plugin is part of: its start-up and handshake, the mTLS \
connection (terraform signs with its P-521 key, we verify with RustCrypto's `p521`), \
GetProviderSchema and shutdown.\n\n\
Start-up no longer seeds aws-lc's CPU-jitter entropy (an earlier profile found it to be most of \
our time to the handshake): Terraform's P-521 signatures are verified with `p521`, and our own \
certificate key is made and used with ring. The client certificate is still required and \
pinned.\n",
        ms(bare_time)
    );
    let _ = writeln!(
        doc,
        "| provider | binary MiB | exec → handshake ms | exec → first schema ms | idle RSS MiB | `providers schema -json` ms | share ms | share vs Go | client certificate ms | plugin ms | plugin vs Go |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for s in &results {
        let _ = writeln!(
            doc,
            "| {} | {:.1} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {} |",
            s.name,
            s.binary_mib,
            ms(s.handshake),
            s.first_schema.map(ms).unwrap_or_else(|| "–".into()),
            s.idle_rss_kb as f64 / 1024.0,
            ms(s.schema_json),
            ms(share(s)),
            ratio(share(s)),
            ms(s.phases.client_certificate),
            ms(s.phases.plugin),
            plugin_ratio(s.phases.plugin),
        );
    }
    let _ = writeln!(doc);
    Ok(())
}

pub(crate) fn install_go_provider() -> Result<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-bench-tools.sh");
    let out = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("run {}", script.display()))?;
    if !out.status.success() {
        bail!("{} failed", script.display());
    }
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !path.is_file() {
        bail!("the Go provider is not at {}", path.display());
    }
    Ok(path)
}
