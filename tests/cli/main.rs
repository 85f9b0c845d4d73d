//! The `rootmail` admin CLI, run as the built binary against a real Azurite:
//! import (CSV and Exchange exports), generate, stats, list, and the manual
//! fixes with their confirmation and concurrency refusals. Each test has its
//! own table; the table's state is set up and checked with the store API.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rootmail::store::{
    AdoptRequest, AliasRow, AliasStatus, Claim, ClaimRequest, LegacyRow, LinkTarget,
    ReleaseOutcome, ReleasePolicy,
};
use serde_json::Value as Json;
use testkit::azurite;
use testkit::cli::{rootmail, CliTable};
use testkit::pool::LEGACY_COLUMNS;

mod fixes;
mod import;
mod reports;

const MAILBOX_1: &str = "comp001@company.com";
const MAILBOX_2: &str = "comp002@company.com";

/// What these tests look up and set up through the store beyond [`CliTable`]'s own.
trait StoreAccess {
    fn row(&self, email: &str) -> AliasRow;
    fn claim(&self, owner: &str, mailbox: &str) -> (AliasRow, Claim);
}

impl StoreAccess for CliTable {
    fn row(&self, email: &str) -> AliasRow {
        self.rt
            .block_on(self.pool.find_by_email(email))
            .expect("find")
            .expect("row exists")
    }

    fn claim(&self, owner: &str, mailbox: &str) -> (AliasRow, Claim) {
        let c = self
            .rt
            .block_on(self.pool.claim(&ClaimRequest {
                owner: owner.to_owned(),
                purpose: "test".to_owned(),
                mailbox: Some(mailbox.to_owned()),
                claim_key: None,
                source: None,
            }))
            .expect("claim");
        (c.alias.clone(), c.claim())
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run rootmail")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "rootmail failed with {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(o),
        stderr(o)
    );
}

/// The number after `label:` in the import summary.
#[track_caller]
fn summary_number(out: &str, label: &str) -> usize {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{label}:")))
        .unwrap_or_else(|| panic!("no `{label}:` line in:\n{out}"));
    line[label.len() + 1..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number in `{line}`"))
}

fn json(o: &Output) -> Json {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", stdout(o)))
}

/// An error whose cause is part of its own message is printed once, not
/// followed by the same text again.
#[test]
fn errors_are_printed_without_repeating_their_cause() {
    let out = run(rootmail()
        .args(["pool", "stats"])
        .env("ROOTMAIL_TABLE_ENDPOINT", "http://tables.example.com/acct")
        .env("ARM_ACCESS_KEY", "c2VjcmV0c2VjcmV0"));
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(text.contains("plain http"), "{text}");
    assert_eq!(text.matches("local emulator").count(), 1, "{text}");
}

/// Secrets come only from the environment and never appear in output, even
/// when the request fails in ways whose messages carry URLs.
#[test]
fn secrets_never_appear_in_output() {
    let az = azurite::shared();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let key = "RkFLRS1TRUNSRVQtS0VZLWZvci10ZXN0cy0xMjM0NTY3ODkwYWJjZGVm"; // base64, not Azurite's
    let sig = "FAKEsig+SECRET/value=";
    let cases: Vec<(&str, String, String)> = vec![
        (
            "ARM_ACCESS_KEY",
            key.to_owned(),
            format!("http://127.0.0.1:{closed}/devstoreaccount1"),
        ),
        ("ARM_ACCESS_KEY", key.to_owned(), az.endpoint()),
        (
            "ARM_SAS_TOKEN",
            format!("sv=2022-11-02&ss=t&srt=sco&sp=rl&se=2030-01-01T00:00:00Z&sig={sig}"),
            format!("http://127.0.0.1:{closed}/devstoreaccount1"),
        ),
        (
            "AZURE_STORAGE_CONNECTION_STRING",
            format!(
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={key};\
                 TableEndpoint=http://127.0.0.1:{closed}/devstoreaccount1;"
            ),
            String::new(),
        ),
    ];
    for (variable, value, endpoint) in cases {
        let mut cmd = rootmail();
        cmd.env(variable, &value).args([
            "--storage-account",
            "devstoreaccount1",
            "--retry-timeout-seconds",
            "1",
        ]);
        if !endpoint.is_empty() {
            cmd.args(["--endpoint", endpoint.as_str()]);
        }
        let out = run(cmd.args(["pool", "stats"]));
        assert_eq!(out.status.code(), Some(1), "{variable}: {}", stderr(&out));
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(text.contains("error:"), "{text}");
        for secret in [key, "FAKEsig", "SECRET%2Fvalue", "SECRET/value"] {
            assert!(
                !text.contains(secret),
                "{variable} leaked `{secret}`:\n{text}"
            );
        }
    }
}

#[test]
fn help_and_version() {
    let out = run(rootmail().arg("--version"));
    assert_ok(&out);
    assert_eq!(
        stdout(&out).trim(),
        format!("rootmail {}", env!("CARGO_PKG_VERSION"))
    );
    let out = run(rootmail().arg("--help"));
    assert_ok(&out);
    let so = stdout(&out);
    for needle in [
        "Examples:",
        "ARM_ACCESS_KEY",
        "--storage-account",
        "--use-emulator",
    ] {
        assert!(so.contains(needle), "help lacks {needle}:\n{so}");
    }
    let out = run(rootmail().args(["pool", "import", "--help"]));
    assert_ok(&out);
    assert!(stdout(&out).contains("SMTP:"), "{}", stdout(&out));
    // No table configured at all: a clear message, not a panic.
    let out = run(rootmail().args(["--use-emulator", "--endpoint", "not a url", "pool", "stats"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not a URL"), "{}", stderr(&out));
}
