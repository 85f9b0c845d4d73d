//! Addresses AWS would refuse: imports refuse them (with line numbers) and
//! store lower case; generate refuses domains that would make them.

use super::*;

#[test]
fn import_refuses_what_aws_refuses_and_stores_lower_case() {
    let f = CliTable::with_table("awsimport");
    let long = format!("{}@company.com", "l".repeat(53));
    let mut csv = String::from("address,mailbox\n");
    let mut expected: Vec<(usize, String)> = Vec::new();
    let mut add = |line: String, why: &str, csv: &mut String| {
        csv.push_str(&line);
        csv.push('\n');
        let n = csv.lines().count();
        if !why.is_empty() {
            expected.push((n, why.to_owned()));
        }
    };
    add(format!("AWS_Upper@Company.COM,{MAILBOX}"), "", &mut csv);
    add(format!("a@b.c,{MAILBOX}"), "5 characters", &mut csv);
    add(format!("{long},{MAILBOX}"), "65 characters", &mut csv);
    add(format!("jörg@company.com,{MAILBOX}"), "ASCII", &mut csv);
    add(
        format!("a@b@company.com,{MAILBOX}"),
        "2 `@` signs",
        &mut csv,
    );
    add(
        format!("\"a b@company.com\",{MAILBOX}"),
        "whitespace",
        &mut csv,
    );
    add(
        format!("\"a\"\"b@company.com\",{MAILBOX}"),
        "character `\"`",
        &mut csv,
    );
    add(
        format!("\"a,b@company.com\",{MAILBOX}"),
        "character `,`",
        &mut csv,
    );
    for c in ["'", "(", ")", "<", "[", "]", ":", ";", "\\", "|", "%", "&"] {
        add(
            format!("a{c}b@company.com,{MAILBOX}"),
            &format!("character `{c}`"),
            &mut csv,
        );
    }
    add(format!("root+prod@company.com,{MAILBOX}"), "", &mut csv);
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("aliases.csv");
    std::fs::write(&path, &csv).expect("write");
    let out = f.run(&["pool", "import", path.to_str().expect("utf-8")]);
    assert_code(&out, 1); // the valid lines are in; the file was not all good
    let stderr = text(&out.stderr);
    let pairs: Vec<(usize, &str)> = expected.iter().map(|(n, w)| (*n, w.as_str())).collect();
    assert_invalid(&stderr, &pairs);
    let emails: BTreeSet<String> = f.rows().into_iter().map(|r| r.email).collect();
    assert_eq!(
        emails,
        BTreeSet::from([
            "aws_upper@company.com".to_owned(),
            "root+prod@company.com".to_owned()
        ]),
        "only valid addresses, in lower case"
    );
    // The same address in another case is already there.
    std::fs::write(&path, format!("aws_UPPER@company.com,{MAILBOX}\n")).expect("write");
    let again = f.run(&["pool", "import", path.to_str().expect("utf-8")]);
    assert_code(&again, 0);
    assert!(
        text(&again.stdout).contains("added:           0"),
        "{}",
        text(&again.stdout)
    );

    // An Exchange export: the same rules, secondary addresses only.
    let export = format!(
        "{{SMTP:Comp003@company.com, smtp:AWS_Ex1@Company.com, smtp:x(y@company.com, X500:/o=ExchangeLabs/cn=x}}\n\
         smtp:{long}\n\
         smtp:jörg2@company.com\n\
         smtp:a%b@company.com\n\
         smtp:a&b@company.com\n\
         smtp:a|b@company.com\n\
         smtp:a\\b@company.com\n\
         smtp:a<b@company.com\n\
         smtp:a)b@company.com\n\
         smtp:a'b@company.com\n\
         smtp:a@b.c\n\
         smtp:AWS_Ex2@company.com\n"
    );
    let path = dir.path().join("export.txt");
    std::fs::write(&path, export).expect("write");
    let out = f.run(&[
        "pool",
        "import",
        "--mailbox",
        "comp003@company.com",
        path.to_str().expect("utf-8"),
    ]);
    assert_code(&out, 1);
    assert_invalid(
        &text(&out.stderr),
        &[
            (1, "character `(`"),
            (2, "65 characters"),
            (3, "ASCII"),
            (4, "character `%`"),
            (5, "character `&`"),
            (6, "character `|`"),
            (7, "character `\\`"),
            (8, "character `<`"),
            (9, "character `)`"),
            (10, "character `'`"),
            (11, "5 characters"),
        ],
    );
    let rows: BTreeMap<String, String> = f
        .rows()
        .into_iter()
        .map(|r| (r.email, r.root_mailbox))
        .collect();
    assert_eq!(
        rows.get("aws_ex1@company.com").map(String::as_str),
        Some("comp003@company.com")
    );
    assert!(rows.contains_key("aws_ex2@company.com"), "{rows:?}");
    assert_eq!(rows.len(), 4, "{rows:?}");

    // Lookups by e-mail ignore case.
    let show = f.run(&["alias", "show", "AWS_EX1@COMPANY.COM", "--json"]);
    assert_code(&show, 0);
    assert!(text(&show.stdout).contains("\"aws_ex1@company.com\""));
}

#[test]
fn generate_refuses_domains_that_make_addresses_aws_refuses() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = CliTable::with_table("awsgen");
    let long_domain = "a-very-long-subdomain.company.com"; // 41 + 33 > 64
    let out = f.generate(MAILBOX, long_domain, 2, dir.path());
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("AWS refuses"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("aliases.csv").exists(), "nothing written");

    let out = f.generate(MAILBOX, "Company.COM", 3, dir.path());
    assert_code(&out, 0);
    let csv = std::fs::read_to_string(dir.path().join("aliases.csv")).expect("csv");
    for line in csv.lines().skip(1) {
        let address = line.split(',').next().unwrap_or_default();
        assert!(address.ends_with("@company.com"), "{line}");
        assert_eq!(rootmail::store::address::check_aws_email(address), Ok(()));
    }
}
