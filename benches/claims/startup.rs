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
        let startup = Startup {
            name: name.to_owned(),
            binary_mib: std::fs::metadata(&binary)?.len() as f64 / 1024.0 / 1024.0,
            handshake: median(hs),
            first_schema,
            idle_rss_kb: median(rss).as_millis() as u64,
            schema_json,
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
    for r in &results {
        summary.push(format!(
            "{}: {:.1} MiB binary, exec → handshake {} ms, idle RSS {:.1} MiB, `terraform providers schema -json` {} ms (terraform alone {} ms).",
            r.name,
            r.binary_mib,
            ms(r.handshake),
            r.idle_rss_kb as f64 / 1024.0,
            ms(r.schema_json),
            ms(bare_time)
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
real terraform loading the provider and printing its schema (terraform alone, with no \
provider: {} ms). Binary sizes are the shipped files (ours: release profile, stripped).\n\n\
Without `PLUGIN_CLIENT_CERT` this provider prints its handshake about 5 ms after exec; with it \
(as Terraform always starts plugins) most of the time to the handshake is one-time CPU work \
before the line is printed: a profile shows aws-lc's jitter-entropy seeding (`jent_*`), pulled \
in by the aws-lc-rs crypto provider that verifies Terraform's P-521 client certificate. \
Building that verifier lazily (after the handshake line) would take it back to ~5 ms.\n",
        ms(bare_time)
    );
    let _ = writeln!(
        doc,
        "| provider | binary MiB | exec → handshake ms | exec → first schema ms | idle RSS MiB | `providers schema -json` ms |\n|---|---:|---:|---:|---:|---:|"
    );
    for s in &results {
        let _ = writeln!(
            doc,
            "| {} | {:.1} | {} | {} | {:.1} | {} |",
            s.name,
            s.binary_mib,
            ms(s.handshake),
            s.first_schema.map(ms).unwrap_or_else(|| "–".into()),
            s.idle_rss_kb as f64 / 1024.0,
            ms(s.schema_json)
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
