//! The whole audit, from the CLI and from a `check` block: every planted
//! problem found alike, `--fix` resolves the fixable ones, and the AWS
//! credential forms (web identity, keys, none).

use super::*;

fn critical(kind: &str) -> bool {
    matches!(
        kind,
        "free_address_in_use" | "unlinked_address_in_use" | "unroutable_in_use" | "missing_mailbox"
    )
}

/// The pool's provider block, a check block that fails on critical
/// findings naming each as `kind:email`, and the same audit as an output.
fn check_block(f: &CliTable) -> String {
    format!(
        r#"{}
provider "rootmail" {{
  endpoint     = "{}"
  use_emulator = true
  table        = "{}"
}}

check "root_mail_pool" {{
  data "rootmail_audit" "nightly" {{
    aws      = true
    exchange = true
  }}
  assert {{
    condition     = data.rootmail_audit.nightly.critical == 0
    error_message = join(" ", [for f in data.rootmail_audit.nightly.findings : "${{f.kind}}:${{f.email}}" if f.severity == "critical"])
  }}
}}

data "rootmail_audit" "all" {{
  aws      = true
  exchange = true
}}

output "findings" {{
  value = [for f in data.rootmail_audit.all.findings : [f.kind, f.email, f.aws_account_id]]
}}

data "rootmail_pool" "all" {{}}

output "unusable" {{
  value = data.rootmail_pool.all.unusable_reasons
}}
"#,
        required_providers_block(),
        azurite::shared().endpoint(),
        f.table
    )
}

/// `unusable_reasons` with `unroutable` aliases and no other reason.
fn unusable_reasons(unroutable: u64) -> Json {
    serde_json::json!({
        "address_aws_refuses": 0,
        "unroutable": unroutable,
        "used_by_aws_account": 0,
    })
}

/// The `rootmail_pool` data source's `unusable_reasons`, as last applied.
fn unusable_output(dir: &TerraformDir) -> Json {
    let out = dir.run_ok(&["output", "-json", "unusable"]);
    serde_json::from_str(out.stdout.trim()).expect("unusable output")
}

#[test]
fn audit_against_aws_and_exchange_finds_every_planted_problem_and_fixes_what_it_can() {
    let f = CliTable::with_table("auditx");
    let ok = free_row(&f, MAILBOX);
    let free_lost = free_row(&f, MAILBOX);
    let claimed_lost = free_row(&f, MAILBOX);
    let first =
        f.rt.block_on(f.pool.get(&claimed_lost.id))
            .expect("get")
            .expect("row");
    f.rt.block_on(f.pool.try_claim_alias(&first, &claim()))
        .expect("claim")
        .expect("not raced");
    let page2 = free_row(&f, MAILBOX);
    let suspended = free_row(&f, MAILBOX);
    let orphan = free_row(&f, GONE);

    // Exchange has the mailbox with three of the pool's addresses (one in
    // another letter case) and one the pool lacks; GONE does not exist.
    let graph = GraphServer::start(IdentityServer::shared());
    graph.add_mailbox(
        MAILBOX,
        MAILBOX,
        &[
            ok.aws_mail.to_ascii_uppercase(),
            page2.aws_mail.clone(),
            suspended.aws_mail.clone(),
            UNPOOLED.to_owned(),
        ],
    );
    // One read is throttled first: the audit waits and carries on.
    graph.throttle_next(1, 1);

    // The organization: the management account, a suspended account, 18
    // others (page 1 holds 20), then the account on page 2.
    let moto = Moto::start();
    let mut accounts = vec![("suspended", suspended.aws_mail.to_ascii_uppercase())];
    let fillers: Vec<String> = (0..18).map(|i| format!("filler{i}")).collect();
    for name in &fillers {
        accounts.push((name, format!("{name}@elsewhere.example")));
    }
    accounts.push(("page2", page2.aws_mail.clone()));
    let ids = moto.organization(&accounts, &["suspended"]);

    let graph_env = graph.env();
    let audit = |args: &[&str]| -> Output {
        let mut c: Command = f.cli();
        moto.isolate(&mut c).envs(graph_env.clone());
        c.arg("audit").args(args).output().expect("run rootmail")
    };
    let expected: BTreeSet<(String, String, String)> = [
        ("unroutable_in_use", claimed_lost.aws_mail.clone(), ""),
        ("unroutable_free", free_lost.aws_mail.clone(), ""),
        ("unroutable_free", orphan.aws_mail.clone(), ""),
        ("missing_mailbox", GONE.to_owned(), ""),
        ("unpooled_address", UNPOOLED.to_owned(), ""),
        ("free_address_in_use", page2.aws_mail.clone(), &ids["page2"]),
        (
            "free_address_in_use",
            suspended.aws_mail.clone(),
            &ids["suspended"],
        ),
    ]
    .into_iter()
    .map(|(k, e, a)| (k.to_owned(), e, a.to_owned()))
    .collect();

    let out = {
        let mut c: Command = f.cli();
        moto.isolate(&mut c).envs(graph_env.clone());
        c.env("ROOTMAIL_LOG", "trace");
        c.args(["audit", "--aws", "--exchange", "--json"])
            .output()
            .expect("run rootmail")
    };
    assert_code(&out, 2);
    // Nothing secret in the output or in a trace log: not the AWS key, not
    // the client secret, no token the identity server issued.
    let printed = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        printed.contains("new Azure AD token"),
        "the trace log was written"
    );
    let aws_secret = moto
        .env()
        .into_iter()
        .find(|(k, _)| *k == "AWS_SECRET_ACCESS_KEY")
        .map(|(_, v)| v)
        .expect("secret");
    for secret in IdentityServer::shared()
        .secrets()
        .into_iter()
        .chain([aws_secret])
    {
        assert!(!printed.contains(&secret), "a secret was printed");
    }
    let (got, doc) = findings(&out);
    assert_eq!(got, expected);
    assert_eq!(doc["accounts"], Json::from(21), "both pages were read");
    assert_eq!(doc["mailboxes"], Json::from(2));
    assert_eq!(doc["critical"], Json::from(4));
    let requests = graph.requests();
    assert!(requests.iter().any(|r| r.status == 429), "{requests:?}");
    assert!(requests
        .iter()
        .all(|r| r.audience == Some(graph.endpoint())));

    // A check block reports the same findings (terraform 1.5+), and the
    // data source gives them exactly.
    let terraform = TerraformDir::modern().map(|mut dir| {
        for (name, value) in moto.env().into_iter().chain(graph_env.clone()) {
            dir.env(name, value);
        }
        dir.write("main.tf", &check_block(&f));
        dir
    });
    if let Some(dir) = &terraform {
        let out = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        let text = format!("{}{}", out.stdout, out.stderr);
        assert!(text.contains("Check block assertion failed"), "{text}");
        for (kind, email, _) in expected.iter().filter(|(k, _, _)| critical(k)) {
            assert!(
                text.contains(&format!("{kind}:{email}")),
                "{kind} {email} in\n{text}"
            );
        }
        let listed = dir.run_ok(&["output", "-json", "findings"]);
        let listed: BTreeSet<(String, String, String)> =
            serde_json::from_str(listed.stdout.trim()).expect("findings output");
        assert_eq!(listed, expected, "the data source finds what the CLI finds");
        // Nothing is marked yet: no reason counts an alias.
        assert_eq!(unusable_output(dir), unusable_reasons(0), "before --fix");
    }

    // The table names every finding.
    let out = audit(&["--aws", "--exchange"]);
    assert_code(&out, 2);
    let table = text(&out.stdout);
    assert!(
        table.contains(
            "compared 6 pool rows with 21 AWS accounts and 2 mailboxes: 4 critical, 3 warnings"
        ),
        "{table}"
    );
    for (kind, _, _) in &expected {
        assert!(table.contains(kind.as_str()), "{kind} in\n{table}");
    }

    // --fix: marks, links and retires, imports; the critical ones stay (and
    // the row now linked to the suspended account says so).
    let out = audit(&["--aws", "--exchange", "--fix", "--yes", "--json"]);
    assert_code(&out, 2);
    let (left, doc) = findings(&out);
    let left: BTreeSet<String> = left
        .into_iter()
        .map(|(k, e, _)| format!("{k} {e}"))
        .collect();
    assert_eq!(
        left,
        BTreeSet::from([
            format!("unroutable_in_use {}", claimed_lost.aws_mail),
            format!("missing_mailbox {GONE}"),
            format!("linked_account_closed {}", suspended.aws_mail),
        ])
    );
    let fixes = doc["fixes"].as_array().expect("fixes");
    assert_eq!(fixes.len(), 5, "{fixes:?}");

    // Behind a corporate proxy every request goes through it: Graph and
    // Entra ID tunnelled (HTTPS_PROXY), Organizations and the table (plain
    // http here) forwarded (HTTP_PROXY); the findings are the same.
    let proxy = testkit::azure_ad::ConnectProxy::start();
    let proxied = {
        let mut c: Command = f.cli();
        moto.isolate(&mut c).envs(graph_env.clone());
        c.env("HTTPS_PROXY", proxy.url())
            .env("HTTP_PROXY", proxy.url())
            .env_remove("NO_PROXY")
            .env_remove("no_proxy");
        c.args(["audit", "--aws", "--exchange", "--json"])
            .output()
            .expect("run rootmail")
    };
    assert_code(&proxied, 2);
    let again: BTreeSet<String> = findings(&proxied)
        .0
        .into_iter()
        .map(|(k, e, _)| format!("{k} {e}"))
        .collect();
    assert_eq!(again, left, "the same findings through the proxy");
    let targets: BTreeSet<String> = proxy.targets().into_iter().collect();
    let port = |url: &str| {
        let url = url::Url::parse(url).expect("url");
        format!("127.0.0.1:{}", url.port().expect("port"))
    };
    for (what, url) in [
        ("Microsoft Graph", graph.endpoint()),
        ("Entra ID", IdentityServer::shared().authority()),
        ("AWS Organizations", moto.endpoint()),
        ("the table", azurite::shared().endpoint()),
    ] {
        assert!(
            targets.contains(&port(&url)),
            "{what} not proxied: {targets:?}"
        );
    }
    assert!(fixes.iter().all(|x| x["outcome"] == "fixed"), "{fixes:?}");
    let row = |id: &str| -> AliasRow { f.rt.block_on(f.pool.get(id)).expect("get").expect("row") };
    for lost in [&free_lost, &orphan] {
        let r = row(&lost.id);
        assert_eq!((r.status, r.in_use), (AliasStatus::Unroutable, true));
    }
    for (used, name) in [(&page2, "page2"), (&suspended, "suspended")] {
        let r = row(&used.id);
        assert_eq!(r.status, AliasStatus::Retired);
        assert_eq!(r.used_by, ids[name]);
    }
    assert_eq!(
        row(&claimed_lost.id).status,
        AliasStatus::Claimed,
        "untouched"
    );
    let imported =
        f.rt.block_on(f.pool.find_by_email(UNPOOLED))
            .expect("find")
            .expect("imported");
    assert_eq!(
        (imported.status, imported.root_mailbox.as_str()),
        (AliasStatus::Free, MAILBOX)
    );

    // Claims hand out what is routable and unused, and nothing else.
    let mut handed = BTreeSet::new();
    loop {
        match f.rt.block_on(f.pool.claim(&claim())) {
            Ok(c) => handed.insert(c.alias.email),
            Err(StoreError::PoolExhausted { .. }) => break,
            Err(e) => panic!("claim: {e}"),
        };
    }
    assert_eq!(
        handed,
        BTreeSet::from([ok.aws_mail.clone(), UNPOOLED.to_owned()])
    );

    // The two aliases marked unroutable are counted as unusable, by reason,
    // in the stats (JSON and table) and in the rootmail_pool data source.
    let stats = f.run(&["pool", "stats", "--json"]);
    assert_code(&stats, 0);
    let stats: Json = serde_json::from_slice(&stats.stdout).expect("stats json");
    assert_eq!(stats["unusable_reasons"], unusable_reasons(2), "{stats}");
    assert_eq!(stats["total"]["unusable"], Json::from(2), "{stats}");
    let stats = f.run(&["pool", "stats"]);
    assert_code(&stats, 0);
    let table = text(&stats.stdout);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("unusable: 2 unroutable (")),
        "{table}"
    );

    // The check block now reports only what is left.
    if let Some(dir) = &terraform {
        let out = dir.run_ok(&["apply", "-auto-approve", "-no-color"]);
        assert_eq!(unusable_output(dir), unusable_reasons(2), "after --fix");
        let text = format!("{}{}", out.stdout, out.stderr);
        assert!(
            text.contains(&format!("unroutable_in_use:{}", claimed_lost.aws_mail)),
            "{text}"
        );
        assert!(
            !text.contains(&format!("unroutable_free:{}", free_lost.aws_mail)),
            "{text}"
        );
    }

    // AWS credentials from web identity, as a pipeline's OIDC sets them.
    // With a trace log, neither the pipeline's token nor the session
    // credentials STS handed out for it appear anywhere.
    let dir = tempfile::tempdir().expect("tmp");
    let token = dir.path().join("web-identity-token");
    let web_identity = testkit::azure_ad::jwt(&serde_json::json!({"sub": "repo:company/infra"}));
    std::fs::write(&token, &web_identity).expect("token");
    let mut c = f.cli();
    moto.isolate(&mut c)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env(
            "AWS_ROLE_ARN",
            "arn:aws:iam::123456789012:role/rootmail-audit",
        )
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token)
        .env("AWS_ROLE_SESSION_NAME", "nightly")
        .env("ROOTMAIL_LOG", "trace");
    let out = c.args(["audit", "--aws", "--json"]).output().expect("run");
    assert_code(&out, 4); // the row linked to the suspended account, a warning

    assert_eq!(findings(&out).1["accounts"], Json::from(21));
    let logged = text(&out.stderr);
    assert!(
        logged.contains("read a ListAccounts page"),
        "the trace log was written:\n{logged}"
    );
    let sessions = moto.sts_sessions();
    assert_eq!(sessions.len(), 1, "one session for the run: {sessions:?}");
    let printed = format!("{}{logged}", text(&out.stdout));
    let [key_id, secret, session_token] = &sessions[0];
    for (what, value) in [
        ("the web identity token", &web_identity),
        ("the session's access key id", key_id),
        ("the session's secret access key", secret),
        ("the session token", session_token),
    ] {
        assert!(!printed.contains(value.as_str()), "{what} was printed");
    }

    // No credentials anywhere: a clear error that says where they come from.
    let mut c = f.cli();
    moto.isolate(&mut c)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let out = c.args(["audit", "--aws"]).output().expect("run");
    assert_code(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("no usable AWS credentials") && err.contains("AWS_ROLE_ARN"),
        "{err}"
    );
}
