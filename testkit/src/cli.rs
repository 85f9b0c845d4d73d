//! The `rootmail` admin CLI as cargo built it, run with none of the caller's
//! settings, and a table of its own in the shared Azurite that a test reaches
//! both through the CLI and through the store API.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use rootmail::store::{AliasFilter, AliasPool, AliasRow, StoreConfig};
use serde_json::Value as Json;

use crate::azurite;

/// `rootmail` with every `ARM_*`, `AZURE_*` and `ROOTMAIL_*` variable removed
/// (any of them could choose another table or credential than the test's)
/// and no stdin.
pub fn rootmail() -> Command {
    let mut c = Command::new(crate::cargo_bin("rootmail"));
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("ARM_") || text.starts_with("AZURE_") || text.starts_with("ROOTMAIL_") {
            c.env_remove(&name);
        }
    }
    c.stdin(Stdio::null());
    c
}

/// [`rootmail`] pointed at `table` behind the emulator `endpoint` through the
/// environment, as demo.sh does.
pub fn rootmail_on(endpoint: &str, table: &str) -> Command {
    let mut c = rootmail();
    c.env("ROOTMAIL_TABLE_ENDPOINT", endpoint)
        .env("ROOTMAIL_USE_EMULATOR", "true")
        .env("ROOTMAIL_TABLE_NAME", table);
    c
}

/// One test's table in the shared Azurite, for the CLI and the store API.
pub struct CliTable {
    pub table: String,
    pub pool: AliasPool,
    pub rt: tokio::runtime::Runtime,
}

impl CliTable {
    /// A table name of its own; the table itself is not created.
    pub fn new(prefix: &str) -> CliTable {
        let table = azurite::unique_table_name(prefix);
        let pool = AliasPool::connect(&StoreConfig::emulator(azurite::shared().endpoint(), &table))
            .expect("connect");
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        CliTable { table, pool, rt }
    }

    /// A table of its own, created.
    pub fn with_table(prefix: &str) -> CliTable {
        let f = CliTable::new(prefix);
        f.rt.block_on(f.pool.ensure_table()).expect("create table");
        f
    }

    /// The CLI pointed at this table.
    pub fn cli(&self) -> Command {
        rootmail_on(&azurite::shared().endpoint(), &self.table)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cli().args(args).output().expect("run rootmail")
    }

    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .cli()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run rootmail");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait")
    }

    /// `rootmail pool generate` of `count` aliases of `mailbox` at `domain`
    /// into the folder `out`.
    pub fn generate(&self, mailbox: &str, domain: &str, count: usize, out: &Path) -> Output {
        let count = count.to_string();
        let out = out.to_str().expect("a UTF-8 path");
        self.run(&[
            "pool",
            "generate",
            "--mailbox",
            mailbox,
            "--domain",
            domain,
            "--count",
            &count,
            "--out",
            out,
        ])
    }

    /// Every row, through the store.
    pub fn rows(&self) -> Vec<AliasRow> {
        self.rt
            .block_on(self.pool.list(&AliasFilter::default()))
            .expect("list")
    }
}

/// A run's stdout or stderr as text.
pub fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

/// Fails the test unless the run exited with `expected`, showing what it wrote.
#[track_caller]
pub fn assert_code(o: &Output, expected: i32) {
    assert_eq!(
        o.status.code(),
        Some(expected),
        "stdout:\n{}\nstderr:\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// The findings of a `rootmail audit --json` run, each as its three
/// `fields`, and the whole document.
pub fn findings(o: &Output, fields: [&str; 3]) -> (BTreeSet<(String, String, String)>, Json) {
    let doc: Json = serde_json::from_slice(&o.stdout).expect("json output");
    let set = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (s(fields[0]), s(fields[1]), s(fields[2]))
        })
        .collect();
    (set, doc)
}
