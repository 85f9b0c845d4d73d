//! Packaging: `scripts/package.sh` writes the Registry layout, and
//! `terraform init` installs the provider from a filesystem mirror with no
//! network, as pipelines without a public registry do.

use sha2_lite::sha256_hex;
use std::path::Path;
use std::process::Command;
use testkit::terraform::{Cli, TerraformDir};

/// A tiny SHA-256 via the system's python, to check SHA256SUMS independently
/// of the script that wrote it.
mod sha2_lite {
    use std::path::Path;
    use std::process::Command;

    pub fn sha256_hex(path: &Path) -> String {
        let out = Command::new("python3")
            .args(["-c", "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())"])
            .arg(path)
            .output()
            .expect("python3");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[test]
fn packaged_binary_installs_from_a_filesystem_mirror_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    let mirror = tmp.path().join("mirror");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new(root.join("scripts/package.sh"))
        .arg("--install")
        .arg(&mirror)
        .env(
            "ROOTMAIL_RELEASE_BIN",
            env!("CARGO_BIN_EXE_terraform-provider-rootmail"),
        )
        .env("ROOTMAIL_DIST_DIR", &dist)
        .status()
        .expect("run scripts/package.sh");
    assert!(status.success(), "package.sh failed");

    let base = format!("terraform-provider-rootmail_{}", version());
    let zip = dist.join(format!("{base}_linux_amd64.zip"));
    let manifest = dist.join(format!("{base}_manifest.json"));
    let sums =
        std::fs::read_to_string(dist.join(format!("{base}_SHA256SUMS"))).expect("SHA256SUMS");
    for file in [&zip, &manifest] {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let line = format!("{}  {name}", sha256_hex(file));
        assert!(
            sums.lines().any(|l| l == line),
            "SHA256SUMS lacks {line:?}:\n{sums}"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    assert_eq!(manifest["metadata"]["protocol_versions"][0], "6.0");

    // Under Terraform's host and OpenTofu's, which `rootmail/rootmail` resolves to.
    let mut binaries = vec![];
    for host in ["registry.terraform.io", "registry.opentofu.org"] {
        let installed = mirror.join(format!(
            "{host}/rootmail/rootmail/{}/linux_amd64/terraform-provider-rootmail_v{}",
            version(),
            version()
        ));
        assert!(
            installed.is_file(),
            "not unpacked into the mirror: {}",
            installed.display()
        );
        binaries.push(std::fs::read(&installed).expect("read installed binary"));
    }
    assert!(
        binaries[0] == binaries[1],
        "both hosts hold the same binary"
    );

    // terraform init from the mirror only: no dev_overrides, no network; with
    // Terraform 1.0.3 and with the modern one.
    let rc = tmp.path().join("mirror.tfrc");
    std::fs::write(
        &rc,
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"rootmail/rootmail\"]\n  }}\n}}\n",
            mirror.display()
        ),
    )
    .unwrap();
    for cli in [Cli::Floor, Cli::Modern] {
        let Some(dir) = TerraformDir::for_cli(cli) else {
            continue;
        };
        init_from_mirror(dir, &rc);
    }
}

fn init_from_mirror(mut dir: TerraformDir, rc: &Path) {
    dir.env("TF_CLI_CONFIG_FILE", rc.display().to_string());
    dir.write(
        "main.tf",
        &format!(
            "terraform {{\n  required_providers {{\n    rootmail = {{\n      source  = \"rootmail/rootmail\"\n      version = \"{}\"\n    }}\n  }}\n}}\n\nprovider \"rootmail\" {{}}\n",
            version()
        ),
    );
    let init = dir.run_ok(&["init", "-no-color", "-input=false"]);
    assert!(
        init.stdout
            .contains(&format!("Installed rootmail/rootmail v{}", version())),
        "{}",
        init.stdout
    );
    let schema = dir.run_ok(&["providers", "schema", "-json"]).json();
    assert!(schema["provider_schemas"]["registry.terraform.io/rootmail/rootmail"].is_object());
    dir.run_ok(&["validate", "-no-color"]);
}
