//! Filling the table: import from CSV and from Exchange exports, and generate
//! (which writes the Exchange script and the CSV, never rows).

use super::*;

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
    assert_eq!(columns, BTreeSet::from(LEGACY_COLUMNS));
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
    let out = f.generate("comp003@company.com", "company.com", 120, &out_dir);
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
    let again = f.generate("comp003@company.com", "company.com", 5, &out_dir);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    assert_eq!(
        std::fs::read_to_string(out_dir.join("aliases.csv")).expect("csv"),
        csv
    );
}
