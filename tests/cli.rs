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

#[test]
fn import_of_3000_lines_is_idempotent_and_reports_invalid_lines() {
    let f = CliTable::new("import3000");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("aliases.csv");
    let mut text = String::from("address,mailbox\n");
    let mut expected = BTreeMap::new();
    for i in 0..3000 {
        let address = format!("aws_{}@company.com", uuid::Uuid::new_v4());
        let mailbox = if i % 3 == 0 { MAILBOX_2 } else { MAILBOX_1 };
        text.push_str(&format!("{address},{mailbox}\n"));
        expected.insert(address, mailbox);
        if i == 1234 {
            // Bad lines in the middle, each with a known line number (header is 1).
            text.push_str("not-an-address,comp001@company.com\n"); // line 1237
            text.push_str("aws_x@company.com,not a mailbox\n"); // line 1238
            text.push_str("aws_y@company.com,comp001@company.com,extra\n"); // line 1239
            text.push_str("aws z@company.com,comp001@company.com\n"); // line 1240
        }
    }
    // An address repeated in the file, in different case: imported once.
    let first = expected.keys().next().expect("one").clone();
    text.push_str(&format!("{},{MAILBOX_1}\n", first.to_uppercase()));
    std::fs::write(&file, &text).expect("write file");
    let path = file.to_str().expect("utf-8 path");

    let start = Instant::now();
    let out = f.run(&["pool", "import", "--create-table", path]);
    let first_run = start.elapsed();
    // The valid lines are imported, and the exit code says the file was not all good.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("4 of 3005 lines were invalid"),
        "{}",
        stderr(&out)
    );
    let so = stdout(&out);
    assert_eq!(summary_number(&so, "added"), 3000, "{so}");
    assert_eq!(summary_number(&so, "invalid"), 4, "{so}");
    assert_eq!(summary_number(&so, "already present"), 1, "{so}");
    assert_eq!(summary_number(&so, "read"), 3005, "{so}");
    let se = stderr(&out);
    for line in [1237, 1238, 1239, 1240] {
        assert!(
            se.contains(&format!("line {line}:")),
            "line {line} not reported:\n{se}"
        );
    }

    // What landed is exactly the file, in the legacy layout.
    let rows = f.rows();
    assert_eq!(rows.len(), 3000);
    let got: BTreeMap<String, &str> = rows
        .iter()
        .map(|r| (r.email.clone(), r.root_mailbox.as_str()))
        .collect();
    assert_eq!(got, expected);
    let sample = &rows[17];
    let raw =
        f.rt.block_on(f.pool.get_raw(&sample.id))
            .expect("get")
            .expect("row");
    let mut columns: BTreeSet<&str> = raw.keys().map(String::as_str).collect();
    columns.remove("Timestamp");
    assert_eq!(
        columns,
        BTreeSet::from([
            "PartitionKey",
            "RowKey",
            "id",
            "aws_mail",
            "in_use",
            "user_mail",
            "root_mailbox",
            "aws_account_id"
        ])
    );
    assert_eq!(raw["id"], raw["RowKey"]);
    assert!(uuid::Uuid::parse_str(raw["id"].as_str().expect("id")).is_ok());
    assert_eq!(raw["in_use"], Json::Bool(false));
    assert_eq!(raw["user_mail"], "");
    assert_eq!(raw["aws_account_id"], "");
    assert_eq!(sample.status, AliasStatus::Free);

    let start = Instant::now();
    let again = f.run(&["pool", "import", path]);
    let second_run = start.elapsed();
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    let so = stdout(&again);
    assert_eq!(summary_number(&so, "added"), 0, "{so}");
    assert_eq!(summary_number(&so, "already present"), 3001, "{so}");
    assert_eq!(summary_number(&so, "invalid"), 4, "{so}");
    assert_eq!(f.rows().len(), 3000);
    eprintln!(
        "import of 3,000 aliases: {:.2} s; second run (all present): {:.2} s",
        first_run.as_secs_f64(),
        second_run.as_secs_f64()
    );
}

#[test]
fn import_without_table_asks_for_create_table() {
    let f = CliTable::new("notable");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.csv");
    std::fs::write(&file, format!("aws_1@company.com,{MAILBOX_1}\n")).expect("write");
    let out = f.run(&["pool", "import", file.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--create-table"), "{}", stderr(&out));
}

#[test]
fn exchange_exports_import_the_secondary_smtp_addresses() {
    let f = CliTable::new("exchange");
    let dir = tempfile::tempdir().expect("tempdir");
    // Export-Csv of Get-Mailbox with the collection as one field.
    let csv_export = dir.path().join("export.csv");
    std::fs::write(
        &csv_export,
        "\"Name\",\"EmailAddresses\"\n\
         \"comp003\",\"{SMTP:comp003@company.com, smtp:aws_a@company.com, \
         X500:/o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn=abc, \
         smtp:comp003@tenant.onmicrosoft.com, smtp:aws_b@company.com, SPO:SPO_1@SPO_2}\"\n",
    )
    .expect("write");
    let out = f.run(&[
        "pool",
        "import",
        "--create-table",
        "--domain",
        "company.com",
        csv_export.to_str().expect("path"),
    ]);
    assert_ok(&out);
    assert_eq!(
        summary_number(&stdout(&out), "added"),
        2,
        "{}",
        stdout(&out)
    );

    // `Get-Mailbox | Select -Expand EmailAddresses > file` in Windows
    // PowerShell: UTF-16LE with a byte order mark, one address per line.
    let listing = dir.path().join("addresses.txt");
    let mut bytes = vec![0xFF, 0xFE];
    for u in "SMTP:comp004@company.com\r\nsmtp:aws_c@company.com\r\nsmtp:aws_d@company.com\r\n\
              smtp:aws_a@company.com\r\n"
        .encode_utf16()
    {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    std::fs::write(&listing, bytes).expect("write");
    let out = f.run(&["pool", "import", listing.to_str().expect("path")]);
    assert_ok(&out);
    let so = stdout(&out);
    assert_eq!(summary_number(&so, "added"), 2, "{so}");
    assert_eq!(summary_number(&so, "already present"), 1, "{so}");

    let got: BTreeMap<String, String> = f
        .rows()
        .into_iter()
        .map(|r| (r.email, r.root_mailbox))
        .collect();
    let want: BTreeMap<String, String> = [
        ("aws_a@company.com", "comp003@company.com"),
        ("aws_b@company.com", "comp003@company.com"),
        ("aws_c@company.com", "comp004@company.com"),
        ("aws_d@company.com", "comp004@company.com"),
    ]
    .into_iter()
    .map(|(a, m)| (a.to_owned(), m.to_owned()))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn generate_writes_the_exchange_script_and_csv_but_no_rows() {
    let f = CliTable::with_table("generate");
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("new");
    let out = f.run(&[
        "pool",
        "generate",
        "--mailbox",
        "comp003@company.com",
        "--domain",
        "company.com",
        "--count",
        "120",
        "--out",
        out_dir.to_str().expect("path"),
    ]);
    assert_ok(&out);

    let script = std::fs::read_to_string(out_dir.join("add-aliases.ps1")).expect("script");
    assert!(script.contains("Connect-ExchangeOnline"));
    let calls: Vec<&str> = script
        .lines()
        .filter(|l| l.trim_start().starts_with("Set-Mailbox"))
        .collect();
    assert_eq!(calls.len(), 3, "50 addresses per call:\n{script}");
    let mut in_script = Vec::new();
    for call in &calls {
        let rest = call
            .strip_prefix("Set-Mailbox -Identity \"comp003@company.com\" -EmailAddresses @{add=")
            .unwrap_or_else(|| panic!("unexpected cmdlet line: {call}"));
        let list = rest.strip_suffix('}').expect("closing brace");
        for item in list.split(',') {
            let addr = item
                .strip_prefix("\"smtp:")
                .and_then(|s| s.strip_suffix('"'))
                .unwrap_or_else(|| panic!("not a quoted smtp: address: {item}"));
            in_script.push(addr.to_owned());
        }
    }
    assert_eq!(in_script.len(), 120);
    let unique: BTreeSet<&String> = in_script.iter().collect();
    assert_eq!(unique.len(), 120, "every address exactly once");
    for a in &in_script {
        let guid = a
            .strip_prefix("aws_")
            .and_then(|s| s.strip_suffix("@company.com"))
            .unwrap_or_else(|| panic!("bad alias {a}"));
        assert!(uuid::Uuid::parse_str(guid).is_ok(), "{a}");
    }

    let csv = std::fs::read_to_string(out_dir.join("aliases.csv")).expect("csv");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("address,mailbox"));
    let in_csv: BTreeSet<String> = lines
        .map(|l| {
            let (a, m) = l.split_once(',').expect("two columns");
            assert_eq!(m, "comp003@company.com");
            a.to_owned()
        })
        .collect();
    assert_eq!(in_csv.len(), 120);
    assert_eq!(in_csv, in_script.iter().cloned().collect::<BTreeSet<_>>());

    assert!(f.rows().is_empty(), "generate must not write rows");

    // A second run would lose the first run's aliases: refused without --force.
    let again = f.run(&[
        "pool",
        "generate",
        "--mailbox",
        "comp003@company.com",
        "--domain",
        "company.com",
        "--count",
        "5",
        "--out",
        out_dir.to_str().expect("path"),
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    assert_eq!(
        std::fs::read_to_string(out_dir.join("aliases.csv")).expect("csv"),
        csv
    );
}

/// 10 aliases in comp001, 5 in comp002; comp001: 3 claimed by alice (one
/// linked), 1 quarantined; comp002: 1 claimed by bob, 1 retired.
struct Seeded {
    f: CliTable,
    alice: Vec<String>,
    bob: String,
    linked: String,
    quarantined: String,
    retired: String,
}

fn seeded(prefix: &str) -> Seeded {
    let f = CliTable::with_table(prefix);
    f.rt.block_on(async {
        f.pool
            .seed(MAILBOX_1, "company.com", 10)
            .await
            .expect("seed");
        f.pool
            .seed(MAILBOX_2, "company.com", 5)
            .await
            .expect("seed");
    });
    let alice: Vec<(AliasRow, Claim)> = (0..3)
        .map(|_| f.claim("alice@company.com", MAILBOX_1))
        .collect();
    let (bob, _) = f.claim("bob@company.com", MAILBOX_2);
    let linked = alice[0].0.email.clone();
    f.rt.block_on(f.pool.link_account(
        &LinkTarget::Claim {
            alias_id: alice[0].0.id.clone(),
            claim: alice[0].1.clone(),
        },
        "123456789012",
    ))
    .expect("link");
    let (q, qt) = f.claim("carol@company.com", MAILBOX_1);
    let outcome =
        f.rt.block_on(
            f.pool
                .release(&q.id, &qt, ReleasePolicy::Quarantine { days: 30 }),
        )
        .expect("quarantine");
    assert!(matches!(outcome, ReleaseOutcome::Quarantined { .. }));
    let (r, rt) = f.claim("dave@company.com", MAILBOX_2);
    f.rt.block_on(f.pool.release(&r.id, &rt, ReleasePolicy::Retire))
        .expect("retire");
    Seeded {
        alice: alice.iter().map(|(r, _)| r.email.clone()).collect(),
        bob: bob.email,
        linked,
        quarantined: q.email,
        retired: r.email,
        f,
    }
}

fn emails_of(list: &Json) -> BTreeSet<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|r| r["email"].as_str().expect("email").to_owned())
        .collect()
}

#[test]
fn stats_match_the_table_with_json_and_min_free_alert() {
    let s = seeded("stats");
    let f = &s.f;

    let out = f.run(&["pool", "stats"]);
    assert_ok(&out);
    let so = stdout(&out);
    let total: Vec<&str> = so
        .lines()
        .find(|l| l.starts_with("TOTAL"))
        .expect("TOTAL line")
        .split_whitespace()
        .collect();
    // TOTAL CLAIMABLE FREE UNUSABLE CLAIMED QUARANTINED REUSABLE RETIRED
    assert_eq!(
        total,
        ["TOTAL", "15", "9", "9", "0", "4", "1", "0", "1"],
        "{so}"
    );

    let out = f.run(&["pool", "stats", "--json"]);
    assert_ok(&out);
    let doc = json(&out);
    let store = f.rt.block_on(f.pool.stats(None)).expect("stats");
    assert_eq!(doc["total"]["total"], store.all.total);
    assert_eq!(doc["total"]["free"], 9);
    assert_eq!(doc["total"]["claimed"], 4);
    assert_eq!(doc["total"]["quarantined"], 1);
    assert_eq!(doc["total"]["retired"], 1);
    assert_eq!(doc["mailboxes"][MAILBOX_1]["total"], 10);
    assert_eq!(doc["mailboxes"][MAILBOX_1]["free"], 6);
    assert_eq!(doc["mailboxes"][MAILBOX_1]["claimed"], 3);
    assert_eq!(doc["mailboxes"][MAILBOX_1]["quarantined"], 1);
    assert_eq!(doc["mailboxes"][MAILBOX_2]["free"], 3);
    assert_eq!(doc["mailboxes"][MAILBOX_2]["retired"], 1);
    assert_eq!(doc["table"], f.table.as_str());

    let out = f.run(&["pool", "stats", "--mailbox", MAILBOX_2, "--json"]);
    assert_ok(&out);
    let doc = json(&out);
    assert_eq!(doc["total"]["total"], 5);
    assert!(doc["mailboxes"].get(MAILBOX_1).is_none());

    let low = f.run(&["pool", "stats", "--min-free", "10"]);
    assert_eq!(low.status.code(), Some(2), "{}", stderr(&low));
    assert!(stderr(&low).contains("only 9"), "{}", stderr(&low));
    let enough = f.run(&["pool", "stats", "--min-free", "9"]);
    assert_eq!(enough.status.code(), Some(0));
    let mailbox_low = f.run(&["pool", "stats", "--mailbox", MAILBOX_2, "--min-free", "4"]);
    assert_eq!(mailbox_low.status.code(), Some(2));
}

#[test]
fn list_filters_match_the_table() {
    let s = seeded("list");
    let f = &s.f;

    let out = f.run(&["pool", "list", "--status", "claimed", "--json"]);
    assert_ok(&out);
    let mut claimed: BTreeSet<String> = s.alice.iter().cloned().collect();
    claimed.insert(s.bob.clone());
    assert_eq!(emails_of(&json(&out)), claimed);

    let out = f.run(&["pool", "list", "--owner", "alice@company.com", "--json"]);
    assert_ok(&out);
    let doc = json(&out);
    assert_eq!(emails_of(&doc), s.alice.iter().cloned().collect());
    for r in doc.as_array().expect("array") {
        assert!(r.get("claim_token").is_none(), "listings leave tokens out");
    }

    let out = f.run(&["pool", "list", "--status", "quarantined", "--json"]);
    assert_eq!(
        emails_of(&json(&out)),
        BTreeSet::from([s.quarantined.clone()])
    );
    let out = f.run(&["pool", "list", "--status", "retired", "--json"]);
    assert_eq!(emails_of(&json(&out)), BTreeSet::from([s.retired.clone()]));

    let out = f.run(&[
        "pool",
        "list",
        "--mailbox",
        MAILBOX_2,
        "--status",
        "free",
        "--csv",
    ]);
    assert_ok(&out);
    let so = stdout(&out);
    let mut lines = so.lines();
    assert_eq!(
        lines.next(),
        Some("email,status,root_mailbox,owner,aws_account_id,claimed_at,reusable_after,id,reason,source")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "{so}");
    for r in rows {
        let cols: Vec<&str> = r.split(',').collect();
        assert_eq!(cols[1], "free");
        assert_eq!(cols[2], MAILBOX_2);
    }

    // Unlinked claims: everything claimed except the linked one, once old enough.
    let out = f.run(&["pool", "list", "--unlinked-for", "0s", "--json"]);
    assert_ok(&out);
    let mut unlinked = claimed.clone();
    unlinked.remove(&s.linked);
    assert_eq!(emails_of(&json(&out)), unlinked);
    let out = f.run(&["pool", "list", "--unlinked-for", "1d", "--json"]);
    assert_ok(&out);
    assert!(emails_of(&json(&out)).is_empty());
    let out = f.run(&["pool", "list", "--unlinked-for", "7"]);
    assert_eq!(out.status.code(), Some(1), "usage errors are not alerts");
    assert!(stderr(&out).contains("unit"), "{}", stderr(&out));

    let out = f.run(&["pool", "list"]);
    assert_ok(&out);
    assert!(stdout(&out).contains("15 aliases"), "{}", stdout(&out));
    let out = f.run(&["pool", "list", "--limit", "4"]);
    assert_ok(&out);
    let so = stdout(&out);
    assert_eq!(so.lines().count(), 1 + 4 + 1, "header, 4 rows, note:\n{so}");
    assert!(so.contains("4 of 15 aliases shown"), "{so}");
    let out = f.run(&["pool", "list", "--limit", "3", "--json"]);
    assert_eq!(json(&out).as_array().map(Vec::len), Some(3));
}

#[test]
fn release_with_a_token_refuses_a_row_held_by_another_claim() {
    let f = CliTable::with_table("token");
    f.rt.block_on(f.pool.seed(MAILBOX_1, "company.com", 3))
        .expect("seed");
    let (row, token) = f.claim("alice@company.com", MAILBOX_1);

    let out = f.run(&[
        "alias",
        "release",
        &row.email,
        "--token",
        "not-the-token",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("different claim"), "{}", stderr(&out));
    let after = f.row(&row.email);
    assert_eq!(after.status, AliasStatus::Claimed);
    assert!(after.carries(&token.token));

    // `show --json` gives scripts the token; with it the release goes through.
    let shown = json(&f.run(&["alias", "show", &row.email, "--json"]));
    assert_eq!(shown["claim_token"], token.token.as_str());
    assert_eq!(shown["owner"], "alice@company.com");
    let out = f.run(&[
        "alias",
        "release",
        &row.email,
        "--token",
        token.token.as_str(),
        "--yes",
        "--json",
    ]);
    assert_ok(&out);
    assert_eq!(json(&out)["outcome"], "released");
    let after = f.row(&row.email);
    assert_eq!(after.status, AliasStatus::Free);
    assert_eq!(after.owner, "");
}

/// Starts `alias …` holding before its write; returns once it has read the row.
fn start_held(f: &CliTable, hold: &Path, args: &[&str]) -> std::process::Child {
    let child = f
        .cli()
        .args(args)
        .env("ROOTMAIL_TEST_HOLD_BEFORE_WRITE", hold)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rootmail");
    let ready = hold.with_extension("ready");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready.exists() {
        assert!(
            Instant::now() < deadline,
            "rootmail never reached its write"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn release_refuses_when_the_claim_changed_after_it_was_shown() {
    let f = CliTable::with_table("race");
    f.rt.block_on(f.pool.seed(MAILBOX_1, "company.com", 3))
        .expect("seed");
    let (row, token) = f.claim("alice@company.com", MAILBOX_1);
    let dir = tempfile::tempdir().expect("tempdir");

    // Between show and write, the claim is released and the alias taken again.
    let hold = dir.path().join("go");
    let child = start_held(&f, &hold, &["alias", "release", &row.email, "--yes"]);
    let new_claim = f.rt.block_on(async {
        f.pool
            .release(&row.id, &token, ReleasePolicy::Release)
            .await
            .expect("release");
        f.pool
            .adopt(&AdoptRequest {
                email: row.email.clone(),
                owner: Some("bob@company.com".into()),
                purpose: None,
            })
            .await
            .expect("adopt")
    });
    std::fs::write(&hold, b"").expect("go");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("changed since it was shown"),
        "{}",
        stderr(&out)
    );
    let after = f.row(&row.email);
    assert!(after.carries(&new_claim.token), "bob's claim must survive");
    assert_eq!(after.owner, "bob@company.com");

    // An older tool's claim (no token): a change after show is refused too.
    let legacy = LegacyRow {
        in_use: true,
        user_mail: "legacy-user@company.com".into(),
        ..LegacyRow::free(MAILBOX_1, "company.com")
    };
    f.rt.block_on(f.pool.insert_legacy_row(&legacy))
        .expect("insert");
    let hold = dir.path().join("go2");
    let child = start_held(&f, &hold, &["alias", "retire", &legacy.aws_mail, "--yes"]);
    f.rt.block_on(
        f.pool
            .link_account(&LinkTarget::Email(legacy.aws_mail.clone()), "210987654321"),
    )
    .expect("link behind its back");
    std::fs::write(&hold, b"").expect("go");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let after = f.row(&legacy.aws_mail);
    assert_eq!(after.status, AliasStatus::Claimed);
    assert_eq!(after.claim_token, None, "not adopted");
    assert_eq!(after.aws_account_id, "210987654321");

    // Unchanged, the older tool's claim is adopted and released (it was
    // linked above: say that account's e-mail was changed).
    let out = f.run(&[
        "alias",
        "release",
        &legacy.aws_mail,
        "--account-email-changed",
        "--yes",
    ]);
    assert_ok(&out);
    let after = f.row(&legacy.aws_mail);
    assert_eq!(after.status, AliasStatus::Free);
    assert!(!after.in_use);
}

#[test]
fn changes_without_yes_and_without_a_terminal_are_refused() {
    let f = CliTable::with_table("noyes");
    f.rt.block_on(f.pool.seed(MAILBOX_1, "company.com", 3))
        .expect("seed");
    let (row, token) = f.claim("alice@company.com", MAILBOX_1);
    let before = f.row(&row.email);
    for args in [
        vec!["alias", "release", row.email.as_str()],
        vec!["alias", "retire", row.email.as_str()],
        vec![
            "alias",
            "link",
            row.email.as_str(),
            "--account",
            "123456789012",
        ],
    ] {
        let out = f.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let se = stderr(&out);
        assert!(
            se.contains("--yes") && se.contains("not a terminal"),
            "{se}"
        );
        // The row was shown before the question.
        assert!(stdout(&out).contains(&row.email));
    }
    let after = f.row(&row.email);
    assert_eq!(after.etag(), before.etag(), "row untouched");
    assert!(after.carries(&token.token));
}

/// AWS never frees a root address (not after closing the account, not after
/// it leaves the organization): `release` and its quarantine refuse an
/// alias with a recorded AWS use unless `--account-email-changed` says that
/// account's e-mail was changed, and the use stays recorded either way. What
/// is shown before asking names the use and the claim a Terraform state holds.
#[test]
fn release_of_an_alias_an_aws_account_used_needs_its_email_changed_first() {
    let f = CliTable::with_table("relused");
    f.rt.block_on(f.pool.seed(MAILBOX_1, "company.com", 2))
        .expect("seed");
    let (row, token) = f.claim("alice@company.com", MAILBOX_1);
    let target = LinkTarget::Claim {
        alias_id: row.id.clone(),
        claim: token.clone(),
    };
    f.rt.block_on(f.pool.link_account(&target, "123456789012"))
        .expect("link");
    let linked = f.row(&row.email);
    let line = |text: &str, label: &str| {
        text.lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no `{label}` line in:\n{text}"))
            .to_owned()
    };
    for args in [
        vec!["alias", "release", &row.email, "--yes"],
        vec![
            "alias",
            "release",
            &row.email,
            "--quarantine-days",
            "30",
            "--yes",
        ],
    ] {
        let out = f.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}\n{}", stderr(&out));
        let said = stderr(&out)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for part in [
            "AWS account 123456789012 used",
            "AWS never frees a root e-mail address",
            "not after the account is closed, not after it leaves the organization",
            "--account-email-changed",
            "rootmail alias retire",
            "Nothing was changed",
        ] {
            assert!(said.contains(part), "{args:?}: `{part}` missing in: {said}");
        }
        let shown = stdout(&out);
        assert!(line(&shown, "used by:").contains("123456789012"), "{shown}");
        assert!(
            line(&shown, "claim token:").contains("a Terraform state"),
            "{shown}"
        );
        assert_eq!(f.row(&row.email), linked, "{args:?}: nothing written");
    }

    let out = f.run(&[
        "alias",
        "release",
        &row.email,
        "--account-email-changed",
        "--yes",
    ]);
    assert_ok(&out);
    let said = stderr(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(said.contains("carries a claim token"), "{said}");
    let after = f.row(&row.email);
    assert_eq!(after.status, AliasStatus::Free);
    assert!(!after.carries(&token.token));
    assert_eq!(after.used_by, "123456789012", "the use stays recorded");
    assert_eq!(after.freed_from, "123456789012");
    assert_eq!(
        after.used_by_account(),
        None,
        "free in AWS again, as stated"
    );
    let shown = stdout(&f.run(&["alias", "show", &row.email]));
    assert!(
        line(&shown, "used by:").contains("e-mail was changed"),
        "{shown}"
    );

    // The help states AWS's rule; nothing says AWS frees an address after 90 days.
    let help = stdout(&f.run(&["alias", "release", "--help"]));
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("--account-email-changed"), "{help}");
    assert!(help.contains("AWS never frees"), "{help}");
    assert!(!help.contains("reserved for 90 days"), "{help}");
}

#[test]
fn link_and_retire_with_yes() {
    let f = CliTable::with_table("link");
    f.rt.block_on(f.pool.seed(MAILBOX_1, "company.com", 3))
        .expect("seed");
    let (row, token) = f.claim("alice@company.com", MAILBOX_1);

    let bad = f.run(&["alias", "link", &row.email, "--account", "12345", "--yes"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("12-digit"), "{}", stderr(&bad));

    let out = f.run(&[
        "alias",
        "link",
        &row.email,
        "--account",
        "123456789012",
        "--yes",
    ]);
    assert_ok(&out);
    assert_eq!(f.row(&row.email).aws_account_id, "123456789012");
    let other = f.run(&[
        "alias",
        "link",
        &row.email,
        "--account",
        "999999999999",
        "--yes",
    ]);
    assert_eq!(other.status.code(), Some(1));
    assert!(
        stderr(&other).contains("already linked"),
        "{}",
        stderr(&other)
    );
    assert_eq!(f.row(&row.email).aws_account_id, "123456789012");

    let out = f.run(&["alias", "retire", &row.email, "--yes", "--json"]);
    assert_ok(&out);
    assert_eq!(json(&out)["outcome"], "retired");
    let after = f.row(&row.email);
    assert_eq!(after.status, AliasStatus::Retired);
    assert!(after.in_use, "older tools must never hand it out");
    assert!(!after.carries(&token.token));
    // `alias show` tells who used it and why it was retired.
    let shown = f.run(&["alias", "show", &row.email]);
    assert_ok(&shown);
    let text = stdout(&shown);
    let line = |label: &str| {
        text.lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no `{label}` line in:\n{text}"))
            .to_owned()
    };
    assert!(line("aws account:").contains("123456789012"), "{text}");
    assert!(line("retired:").contains("123456789012"), "{text}");

    let missing = f.run(&["alias", "show", "nobody@company.com"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("no alias"),
        "{}",
        stderr(&missing)
    );
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
