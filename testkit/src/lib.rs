//! What the integration tests and `make bench` share, as one dev-only crate:
//! a private Azurite, the real terraform in a scratch folder, a plugin client
//! speaking go-plugin over mTLS, a fault-injecting proxy, raw table access and
//! loopback stand-ins for Entra ID, Microsoft Graph and AWS Organizations.

pub mod azure_ad;
pub mod azurite;
pub mod azurite_disk;
pub mod cli;
pub mod client_certificate;
pub mod fault_proxy;
pub mod graph;
mod loopback_https;
pub mod moto;
pub mod oauth_pool;
pub mod plugin_client;
pub mod pool;
pub mod reliability;
pub mod table_tool;
pub mod terraform;

use std::path::{Path, PathBuf};

/// The repository's root folder (this crate lives in `<repo>/testkit`).
pub fn repo_root() -> &'static Path {
    let testkit = Path::new(env!("CARGO_MANIFEST_DIR"));
    testkit.parent().unwrap_or(testkit)
}

/// The folder holding the test tools: `ROOTMAIL_TOOLS_DIR` (set by the
/// Makefile), else `<repo>/.tools/bin`.
pub fn tools_dir() -> PathBuf {
    match std::env::var_os("ROOTMAIL_TOOLS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root().join(".tools/bin"),
    }
}

/// A binary of the main package as cargo built it for the running test or
/// bench: cargo puts those executables in `target/<profile>/deps`, and the
/// package's binaries one folder up.
pub fn cargo_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the running executable's path");
    let deps = exe.parent().expect("the executable's folder");
    let profile = if deps.ends_with("deps") {
        deps.parent().unwrap_or(deps)
    } else {
        deps
    };
    profile.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// The provider binary under test: `ROOTMAIL_PROVIDER_BIN` when set (e.g. the
/// release build, for measurements), else the one cargo built.
pub fn provider_binary() -> PathBuf {
    match std::env::var_os("ROOTMAIL_PROVIDER_BIN") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => cargo_bin("terraform-provider-rootmail"),
    }
}
