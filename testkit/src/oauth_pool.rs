//! What the Azure AD end-to-end tests share: one Azurite over HTTPS with
//! `--oauth basic` (its certificate from the loopback Entra ID's CA), a
//! seeded table of its own per test, and terraform folders and CLI runs set
//! up to sign in through [`IdentityServer::shared`] and nothing else.

use std::path::PathBuf;
use std::process::Output;
use std::sync::OnceLock;

use rootmail::store::{AliasFilter, AliasPool, StoreConfig};

use crate::azure_ad::{IdentityServer, TENANT};
use crate::azurite::{self, Azurite};
use crate::pool::{connect_seeded, OWNER};
use crate::terraform::{self, TerraformDir};

/// Azurite over HTTPS with OAuth, its certificate from the token server's CA.
pub fn azurite_tls() -> &'static Azurite {
    static INSTANCE: OnceLock<Azurite> = OnceLock::new();
    INSTANCE.get_or_init(|| {
        let ca = &server().ca;
        let args = [
            "--oauth".to_owned(),
            "basic".to_owned(),
            "--cert".to_owned(),
            ca.cert_file().display().to_string(),
            "--key".to_owned(),
            ca.key_file().display().to_string(),
        ];
        let azurite = Azurite::start_with(&args, "https");
        azurite.kill_at_exit();
        azurite
    })
}

pub fn server() -> &'static IdentityServer {
    IdentityServer::shared()
}

/// The CA that signed both the token server's and Azurite's certificates.
pub fn ca_file() -> PathBuf {
    server().ca.ca_file()
}

/// A client id no other test uses, so the server's counts are per test.
pub fn unique_client() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A seeded table of its own, written and read with the emulator's key over HTTPS.
pub struct OAuthPool {
    pub table: String,
    pub pool: AliasPool,
    pub rt: tokio::runtime::Runtime,
}

impl OAuthPool {
    pub fn seeded(prefix: &str, count: usize) -> OAuthPool {
        let table = azurite::unique_table_name(prefix);
        let mut config = StoreConfig::emulator(azurite_tls().endpoint(), &table);
        config.connection.ca_file = Some(ca_file());
        let (pool, rt) = connect_seeded(&config, count);
        OAuthPool { table, pool, rt }
    }

    /// Every row's id and ETag: any write changes the ETag.
    pub fn snapshot(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .rows()
            .iter()
            .map(|r| (r.id.clone(), r.etag().to_owned()))
            .collect();
        out.sort();
        out
    }

    pub fn claimed(&self) -> usize {
        self.rows().iter().filter(|r| r.in_use).count()
    }

    fn rows(&self) -> Vec<rootmail::store::AliasRow> {
        self.rt
            .block_on(self.pool.list(&AliasFilter::default()))
            .expect("list")
    }

    /// The provider block (no credentials), with `extra` attributes.
    pub fn provider_block(&self, extra: &str) -> String {
        format!(
            "{}\nprovider \"rootmail\" {{\n  endpoint = \"{}\"\n  table    = \"{}\"\n{extra}}}\n",
            terraform::required_providers_block(),
            azurite_tls().endpoint(),
            self.table
        )
    }
}

/// `main.tf` holding `pool`'s provider block (with `provider_extra`) and
/// `body`, written into `dir`, with the network and tenant settings every
/// mode shares and every other sign-in variable emptied.
pub fn prepare(
    mut dir: TerraformDir,
    pool: &OAuthPool,
    provider_extra: &str,
    body: &str,
) -> TerraformDir {
    dir.write("main.tf", &(pool.provider_block(provider_extra) + body));
    dir.env("SSL_CERT_FILE", ca_file().display().to_string())
        .env("AZURE_AUTHORITY_HOST", server().authority())
        .env("ARM_TENANT_ID", TENANT);
    for name in [
        "ARM_CLIENT_SECRET",
        "ARM_USE_OIDC",
        "ARM_OIDC_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "SYSTEM_OIDCREQUESTURI",
        "SYSTEM_ACCESSTOKEN",
        "ARM_USE_CLI",
        "ARM_USE_MSI",
        "HTTPS_PROXY",
        "NO_PROXY",
    ] {
        // Empty counts as unset for the provider; keeps the test's own environment out.
        dir.env(name, "");
    }
    dir
}

/// Two aliases for [`OWNER`].
pub fn two_aliases() -> String {
    format!("resource \"rootmail_alias\" \"a\" {{\n  count = 2\n  owner = \"{OWNER}\"\n}}\n")
}

/// No secret the token server knows appears in `text`.
pub fn assert_no_secrets(text: &str, what: &str) {
    for secret in server().secrets() {
        assert!(
            !text.contains(&secret),
            "{what} contains a secret, key, token or assertion ({}…)",
            &secret[..8.min(secret.len())]
        );
    }
}

/// What [`apply_and_destroy`] saw: the apply's output, the state after it
/// and the terraform log after the destroy.
pub struct Applied {
    pub stdout: String,
    pub state: String,
    pub log: String,
}

/// Applies `dir` (two aliases) and destroys it, checking that two were
/// claimed and given back and that neither the state nor the log holds a
/// secret.
pub fn apply_and_destroy(pool: &OAuthPool, dir: &TerraformDir) -> Applied {
    let out = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
    assert_eq!(pool.claimed(), 2, "two aliases claimed");
    let state = std::fs::read_to_string(dir.path().join("terraform.tfstate")).expect("state");
    assert_no_secrets(&state, "the state");
    dir.run_ok(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(pool.claimed(), 0, "destroy gave both back");
    let log = dir.log();
    assert_no_secrets(&log, "the terraform log");
    Applied {
        stdout: out.stdout,
        state,
        log,
    }
}

/// `rootmail <args>` against `pool` with the network and tenant settings,
/// trace logs, no other sign-in settings than `envs`.
pub fn rootmail_cli(pool: &OAuthPool, args: &[&str], envs: &[(&str, String)]) -> Output {
    let mut cmd = crate::cli::rootmail();
    cmd.args(args)
        .args([
            "--endpoint",
            &azurite_tls().endpoint(),
            "--table",
            &pool.table,
        ])
        .env("SSL_CERT_FILE", ca_file())
        .env("AZURE_AUTHORITY_HOST", server().authority())
        .env("ARM_TENANT_ID", TENANT)
        .env("ROOTMAIL_LOG", "trace");
    cmd.env_remove("HTTPS_PROXY");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run rootmail")
}
