//! `rootmail audit` against accounts created and closed in a real Organizations
//! API: every problem found, `--fix`, partial lists refused, case duplicates
//! retired.

use super::*;

/// The accounts moto creates, by name, and the JSON `list-accounts` prints.
struct Org {
    ids: BTreeMap<String, String>,
    list_accounts_json: String,
}

fn organization(moto: &moto::Moto, emails: &BTreeMap<&str, String>, close: &[&str]) -> Org {
    let spec = serde_json::to_string(emails).expect("json");
    let ids = moto.boto3(&format!(
        "client.create_organization(FeatureSet='ALL')\n\
         spec = json.loads({spec:?})\n\
         ids = {{}}\n\
         for name, email in spec.items():\n\
         \x20   r = client.create_account(Email=email, AccountName=name)\n\
         \x20   ids[name] = r['CreateAccountStatus']['AccountId']\n\
         print(json.dumps(ids))\n"
    ));
    let ids: BTreeMap<String, String> = serde_json::from_str(ids.trim()).expect("ids");
    for name in close {
        moto.boto3(&format!(
            "client.close_account(AccountId='{}')\n",
            ids[*name]
        ));
    }
    // What `aws organizations list-accounts` prints: every page's accounts in one list.
    let list_accounts_json = moto.boto3(
        "accounts = [a for page in client.get_paginator('list_accounts').paginate() for a in page['Accounts']]\n\
         print(json.dumps({'Accounts': accounts}, default=str, indent=2))\n",
    );
    Org {
        ids,
        list_accounts_json,
    }
}

#[test]
fn audit_finds_every_problem_and_fixes_what_it_can() {
    let f = CliTable::with_table("awsaudit");
    // The pool: one row per finding, plus rows that are fine.
    let free = f.legacy(|_| {});
    let (unlinked, _) = f.claim("unlinked");
    let (closed, closed_token) = f.claim("closed");
    let (other, _) = f.claim("other");
    let (retired, retired_token) = f.claim("retired");
    f.rt.block_on(
        f.pool
            .release(&retired.id, &retired_token, ReleasePolicy::Retire),
    )
    .expect("retire");
    let (good, good_token) = f.claim("good");
    let spare = f.legacy(|_| {});

    let moto = moto::Moto::start();
    let emails = BTreeMap::from([
        // Upper case: AWS and the audit compare addresses without regard to case.
        ("free", free.aws_mail.to_ascii_uppercase()),
        ("unlinked", unlinked.email.clone()),
        ("closed", closed.email.clone()),
        ("other", other.email.clone()),
        ("retired", retired.email.clone()),
        ("good", good.email.clone()),
        ("outsider", "someone@elsewhere.example".to_owned()),
    ]);
    let org = organization(&moto, &emails, &["closed"]);
    let id = |name: &str| org.ids[name].clone();
    let link = |row: &AliasRow, token: &Claim, account: &str| {
        f.rt.block_on(f.pool.link_account(
            &LinkTarget::Claim {
                alias_id: row.id.clone(),
                claim: token.clone(),
            },
            account,
        ))
        .expect("link");
    };
    link(&closed, &closed_token, &id("closed"));
    link(&good, &good_token, &id("good"));
    // Linked to an account that is not in the organization's list.
    f.rt.block_on(
        f.pool
            .link_account(&LinkTarget::Email(other.email.clone()), "999999999999"),
    )
    .expect("link other");

    let dir = tempfile::tempdir().expect("tmp");
    let accounts = dir.path().join("accounts.json");
    std::fs::write(&accounts, &org.list_accounts_json).expect("write");
    let accounts_arg = accounts.to_str().expect("utf-8");

    let expected: BTreeSet<(String, String, String)> = [
        ("free_address_in_use", free.id.clone(), id("free")),
        (
            "unlinked_address_in_use",
            unlinked.id.clone(),
            id("unlinked"),
        ),
        ("retired_without_account", retired.id.clone(), id("retired")),
        ("linked_to_other_account", other.id.clone(), id("other")),
        (
            "linked_account_missing",
            other.id.clone(),
            "999999999999".to_owned(),
        ),
        ("linked_account_closed", closed.id.clone(), id("closed")),
    ]
    .into_iter()
    .map(|(k, a, b)| (k.to_owned(), a, b))
    .collect();
    let findings = |o: &Output| cli::findings(o, ["kind", "alias_id", "aws_account_id"]);

    // list-accounts JSON from a file, as JSON: every finding, exit code 2.
    let out = f.run(&["audit", "--accounts", accounts_arg, "--json"]);
    assert_code(&out, 2);
    let (got, doc) = findings(&out);
    assert_eq!(got, expected);
    assert_eq!(doc["critical"], Json::from(2));
    assert_eq!(doc["warnings"], Json::from(4));
    assert_eq!(
        doc["accounts"],
        Json::from(8),
        "moto's management account too"
    );

    // The shape jsonencode gives data.aws_organizations_organization.accounts, on stdin.
    let listed: Json = serde_json::from_str(&org.list_accounts_json).expect("json");
    let tf_shape: Vec<Json> = listed["Accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| {
            serde_json::json!({
                "arn": a["Arn"], "email": a["Email"], "id": a["Id"],
                "name": a["Name"], "status": a["Status"],
            })
        })
        .collect();
    let tf_json = serde_json::to_string(&tf_shape).expect("json");
    let out = f.run_with_stdin(&["audit", "--accounts", "-", "--json"], &tf_json);
    assert_code(&out, 2);
    assert_eq!(findings(&out).0, expected);

    // The table view names every finding.
    let out = f.run(&["audit", "--accounts", accounts_arg]);
    assert_code(&out, 2);
    let table = text(&out.stdout);
    assert!(
        table.contains("SEVERITY") && table.contains("FINDING"),
        "{table}"
    );
    for (kind, _, _) in &expected {
        assert!(table.contains(kind.as_str()), "{kind} in\n{table}");
    }
    assert!(table.contains("2 critical, 4 warnings"), "{table}");

    // --fix without a terminal and without --yes changes nothing.
    let before: Vec<AliasRow> = f.rows();
    let out = f.run(&["audit", "--accounts", accounts_arg, "--fix"]);
    assert_code(&out, 1);
    assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
    assert_eq!(f.rows(), before);

    // A fix is conditional on the row as audited: a row changed meanwhile is refused.
    let parsed = parse_accounts(&org.list_accounts_json).expect("accounts");
    let report =
        f.rt.block_on(f.pool.audit(Some(&parsed), None))
            .expect("audit");
    let finding = report
        .findings
        .iter()
        .find(|x| x.kind == FindingKind::UnlinkedAddressInUse)
        .expect("finding");
    let claim =
        f.rt.block_on(f.pool.get(&unlinked.id))
            .expect("get")
            .expect("row")
            .claim()
            .expect("claimed");
    f.rt.block_on(f.pool.update(
        &unlinked.id,
        &claim,
        &AliasUpdate {
            owner: Some("new-owner@company.com".into()),
            purpose: None,
            claim_key: None,
        },
    ))
    .expect("update");
    let err =
        f.rt.block_on(f.pool.apply_fix(finding))
            .expect_err("stale fix");
    assert!(matches!(err, StoreError::Changed { .. }), "{err}");
    assert_eq!(f.row(&unlinked.id).aws_account_id, "", "nothing written");

    // --fix --yes: link and retire; what is left are warnings (exit code 4).
    let out = f.run(&["audit", "--accounts", accounts_arg, "--fix", "--yes"]);
    assert_code(&out, 4);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("planned fixes"), "{stdout}");
    assert!(stdout.contains("fixed:"), "{stdout}");
    let fixed_free = f.row(&free.id);
    assert_eq!(fixed_free.status, AliasStatus::Retired);
    assert!(fixed_free.in_use);
    assert_eq!(fixed_free.aws_account_id, id("free"));
    assert_eq!(fixed_free.used_by, id("free"));
    assert!(fixed_free.retired_reason.contains(&id("free")));
    let fixed_unlinked = f.row(&unlinked.id);
    assert_eq!(
        fixed_unlinked.status,
        AliasStatus::Claimed,
        "a claim stays a claim"
    );
    assert!(fixed_unlinked.claim_token.is_some());
    assert_eq!(fixed_unlinked.aws_account_id, id("unlinked"));
    let fixed_retired = f.row(&retired.id);
    assert_eq!(fixed_retired.status, AliasStatus::Retired);
    assert_eq!(fixed_retired.used_by, id("retired"));
    assert_eq!(
        f.row(&spare.id).status,
        AliasStatus::Free,
        "unused rows untouched"
    );
    assert_eq!(f.row(&good.id).aws_account_id, id("good"));

    let out = f.run(&["audit", "--accounts", accounts_arg, "--json"]);
    assert_code(&out, 4);
    let (left, doc) = findings(&out);
    assert_eq!(doc["critical"], Json::from(0));
    let kinds: BTreeSet<String> = left.into_iter().map(|(k, _, _)| k).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "linked_account_closed".to_owned(),
            "linked_account_missing".to_owned(),
            "linked_to_other_account".to_owned(),
        ])
    );

    // Bad accounts JSON is an error naming the flag.
    let out = f.run_with_stdin(
        &["audit", "--accounts", "-"],
        "{\"Accounts\": [{\"Id\": \"1\"}]}",
    );
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("--accounts"),
        "{}",
        text(&out.stderr)
    );
}

/// `rootmail audit` audits a whole organization or nothing: a list with
/// `NextToken` set (one page of several) or without accounts is refused.
/// Rows whose addresses differ only in letter case are one address for AWS:
/// a free one next to a linked one is a critical `duplicate_address` that
/// `--fix` retires, conditionally. A free row that still carries a claim
/// token (the old function app released it keeping our columns) is flagged
/// by the audit and by `pool list`. The summary says what was compared.
#[test]
fn audit_refuses_a_partial_list_and_retires_case_duplicates() {
    let f = CliTable::with_table("awsdup");
    let dup_free = f.legacy(|r| r.aws_mail = format!("AWS_Dup_{}@Company.com", r.id));
    let dup_used = f.legacy(|r| {
        r.aws_mail = dup_free.aws_mail.to_ascii_lowercase();
        r.in_use = true;
        r.user_mail = "team@company.com".into();
        r.aws_account_id = "111111111111".into();
    });
    let (stale, _) = f.claim("stale");
    // The old function app releases it the way it does: the whole row
    // written back with in_use = false, our columns (the token) kept.
    let raw = testkit::table_tool::RawTable::new(&testkit::azurite::shared().endpoint(), &f.table);
    f.rt.block_on(async {
        let (_, etag) = raw.get(&stale.id).await.expect("row");
        let freed = serde_json::json!({"in_use": false, "user_mail": ""});
        assert!(raw.merge_if_match(&stale.id, &freed, &etag).await);
    });
    let spare = f.legacy(|_| {});
    let account = |id: &str, email: &str| serde_json::json!({"Id": id, "Email": email, "Name": id, "Status": "ACTIVE"});
    let accounts = vec![
        account("111111111111", &dup_used.aws_mail),
        account("222222222222", "someone@elsewhere.example"),
    ];
    let whole = serde_json::json!({ "Accounts": accounts }).to_string();
    let before = f.rows();

    // A partial or empty list is refused, whatever the case of `NextToken`.
    for (input, why) in [
        (
            serde_json::json!({"Accounts": accounts, "NextToken": "AAE="}).to_string(),
            "`NextToken` is set",
        ),
        (
            serde_json::json!({"accounts": accounts, "nextToken": "x"}).to_string(),
            "one page of several",
        ),
        (
            r#"{"Accounts": []}"#.to_owned(),
            "the accounts list is empty",
        ),
        ("[]".to_owned(), "management account"),
    ] {
        for fix in [false, true] {
            let mut args = vec!["audit", "--accounts", "-"];
            if fix {
                args.extend(["--fix", "--yes"]);
            }
            let out = f.run_with_stdin(&args, &input);
            assert_code(&out, 1);
            let said = text(&out.stderr)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            assert!(said.contains(why), "{input}: {said}");
        }
    }
    assert_eq!(f.rows(), before, "a refused audit writes nothing");

    // The whole list: the free duplicate is critical, the stale token a warning.
    let out = f.run_with_stdin(&["audit", "--accounts", "-", "--json"], &whole);
    assert_code(&out, 2);
    let doc: Json = serde_json::from_slice(&out.stdout).expect("json");
    let found: BTreeSet<(String, String, String)> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|x| {
            (
                x["kind"].as_str().unwrap_or_default().to_owned(),
                x["severity"].as_str().unwrap_or_default().to_owned(),
                x["email"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        found,
        BTreeSet::from([
            (
                "duplicate_address".to_owned(),
                "critical".to_owned(),
                dup_free.aws_mail.clone()
            ),
            (
                "free_with_claim_token".to_owned(),
                "warning".to_owned(),
                stale.email.clone()
            ),
        ])
    );
    assert_eq!(
        (doc["aliases"].clone(), doc["accounts"].clone()),
        (Json::from(4), Json::from(2))
    );
    let table = text(
        &f.run_with_stdin(&["audit", "--accounts", "-"], &whole)
            .stdout,
    );
    assert!(
        table.contains("compared 4 pool rows with 2 AWS accounts: 1 critical, 1 warnings"),
        "{table}"
    );

    // `pool list` flags the free row that still carries a token.
    let listed = f.run(&["pool", "list", "--json"]);
    assert_code(&listed, 0);
    let rows: Json = serde_json::from_slice(&listed.stdout).expect("json");
    let flagged: Vec<&str> = rows
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["stale_claim_token"] == true)
        .filter_map(|r| r["email"].as_str())
        .collect();
    assert_eq!(flagged, [stale.email.as_str()]);
    let table = text(&f.run(&["pool", "list"]).stdout);
    let line = table
        .lines()
        .find(|l| l.starts_with(stale.email.as_str()))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains("still carries a claim token"), "{table}");

    // --fix retires the free duplicate (conditionally) and nothing else.
    let out = f.run_with_stdin(&["audit", "--accounts", "-", "--fix", "--yes"], &whole);
    assert_code(&out, 4);
    let retired = f.row(&dup_free.id);
    assert_eq!(retired.status, AliasStatus::Retired);
    assert!(retired.in_use, "older tools never hand it out");
    assert!(
        retired.retired_reason.contains(&dup_used.aws_mail),
        "{}",
        retired.retired_reason
    );
    let kept = f.row(&dup_used.id);
    assert_eq!(
        (kept.status, kept.aws_account_id.as_str()),
        (AliasStatus::Claimed, "111111111111")
    );
    assert_eq!(f.row(&spare.id).status, AliasStatus::Free);
    let again = f.run_with_stdin(&["audit", "--accounts", "-", "--json"], &whole);
    assert_code(&again, 4);
    let doc: Json = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(doc["critical"], Json::from(0));
}
