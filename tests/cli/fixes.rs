//! The manual fixes (`alias release`, `retire`, `link`): confirmation, claim
//! tokens, and refusals when the row changed after it was shown.

use super::*;

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
