//! The pool checked against AWS and Exchange Online, read at the source:
//! `rootmail audit --aws --exchange` (the built binary) and `data
//! "rootmail_audit"` in a `check` block (the real terraform), against
//! Azurite, a real Organizations API (moto_server, with more accounts than
//! one `ListAccounts` page holds and an account closed through boto3) and
//! the loopback Microsoft Graph behind the loopback Entra ID. Every planted
//! problem is found, the check block reports the same findings, `--fix`
//! resolves the fixable ones, claims then skip the aliases marked
//! unroutable and counts them as unusable; AWS credentials from web identity
//! (a pipeline's OIDC token) work as well as keys without the token or the
//! session credentials in a trace log, and none at all is a clear error.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use rootmail::store::audit::{
    ExchangeInput, FindingKind, Fix, Mailbox, MailboxAddresses, OrgAccount,
};
use rootmail::store::{
    AliasPool, AliasRow, AliasStatus, ClaimRequest, LegacyRow, StoreConfig, StoreError,
};
use serde_json::Value as Json;
use testkit::azure_ad::IdentityServer;
use testkit::azurite;
use testkit::cli::CliTable;
use testkit::graph::GraphServer;
use testkit::moto::Moto;
use testkit::table_tool::RawTable;
use testkit::terraform::{required_providers_block, TerraformDir};

const MAILBOX: &str = "comp001@company.com";
/// A mailbox the pool names that Exchange does not have.
const GONE: &str = "comp404@company.com";
const UNPOOLED: &str = "aws_unpooled@company.com";

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

#[track_caller]
fn code(o: &Output, expected: i32) {
    assert_eq!(
        o.status.code(),
        Some(expected),
        "stdout:\n{}\nstderr:\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// (kind, email, AWS account) of every finding of a `--json` run.
fn findings(o: &Output) -> (BTreeSet<(String, String, String)>, Json) {
    let doc: Json = serde_json::from_slice(&o.stdout).expect("json output");
    let set = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (s("kind"), s("email"), s("aws_account_id"))
        })
        .collect();
    (set, doc)
}

fn free_row(f: &CliTable, mailbox: &str) -> LegacyRow {
    let row = LegacyRow::free(mailbox, "company.com");
    f.rt.block_on(f.pool.insert_legacy_row(&row))
        .expect("insert");
    row
}

fn claim() -> ClaimRequest {
    ClaimRequest {
        owner: "team@company.com".into(),
        purpose: "audit".into(),
        mailbox: None,
        claim_key: None,
        source: None,
    }
}

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
    code(&out, 2);
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
    code(&out, 2);
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
    code(&out, 2);
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
    code(&proxied, 2);
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
    code(&stats, 0);
    let stats: Json = serde_json::from_slice(&stats.stdout).expect("stats json");
    assert_eq!(stats["unusable_reasons"], unusable_reasons(2), "{stats}");
    assert_eq!(stats["total"]["unusable"], Json::from(2), "{stats}");
    let stats = f.run(&["pool", "stats"]);
    code(&stats, 0);
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
    code(&out, 4); // the row linked to the suspended account, a warning

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
    code(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("no usable AWS credentials") && err.contains("AWS_ROLE_ARN"),
        "{err}"
    );
}

fn store_claim() -> ClaimRequest {
    ClaimRequest {
        owner: "team@company.com".into(),
        purpose: "exchange".into(),
        mailbox: None,
        claim_key: None,
        source: None,
    }
}

fn mailbox(addresses: &[&str]) -> Mailbox {
    Mailbox {
        name: MAILBOX.to_owned(),
        addresses: Some(MailboxAddresses {
            primary: Some(MAILBOX.to_owned()),
            secondary: addresses.iter().map(|a| a.to_string()).collect(),
            total: addresses.len() + 2,
        }),
    }
}

/// In the store, with the mailboxes given as Exchange would describe them:
/// free aliases no mailbox has are marked unroutable with conditional
/// writes, claims never hand them out (not even after an older tool reset
/// `in_use`), the counts call them unusable, and one whose mailbox gets the
/// address goes back into the pool.
#[tokio::test]
async fn claims_never_hand_out_an_alias_marked_unroutable() {
    let table = azurite::unique_table_name("exchange");
    let config = StoreConfig::emulator(azurite::shared().endpoint(), table.clone());
    let pool = AliasPool::connect(&config).expect("connect");
    pool.ensure_table().await.expect("table");
    let rows = pool.seed(MAILBOX, "company.com", 3).await.expect("seed");
    let (routed, lost_a, lost_b) = (&rows[0], &rows[1], &rows[2]);

    // Exchange has only the first address (in another letter case).
    let exchange = [mailbox(&[&routed.aws_mail.to_ascii_uppercase()])];
    let report = pool
        .audit(None, Some(ExchangeInput::Known(&exchange)))
        .await
        .expect("audit");
    let unroutable: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::UnroutableFree)
        .collect();
    assert_eq!(unroutable.len(), 2, "{:?}", report.findings);
    assert!(report.findings.iter().all(|f| f.email != routed.aws_mail));

    // A fix is conditional on the row as audited.
    let stale = unroutable[0];
    let id = &stale.row.as_ref().expect("row").id;
    let raw = RawTable::new(&azurite::shared().endpoint(), &table);
    let (_, etag) = raw.get(id).await.expect("row");
    assert!(
        raw.merge_if_match(id, &serde_json::json!({"purpose": "touched"}), &etag)
            .await
    );
    let err = pool.apply_fix(stale).await.expect_err("stale");
    assert!(matches!(err, StoreError::Changed { .. }), "{err}");
    assert_eq!(
        pool.get(id).await.expect("get").expect("row").status,
        AliasStatus::Free
    );

    // Audited again, both are marked.
    let report = pool
        .audit(None, Some(ExchangeInput::Known(&exchange)))
        .await
        .expect("audit");
    for f in report.findings.iter().filter(|f| f.fix.is_some()) {
        assert!(matches!(f.fix, Some(Fix::MarkUnroutable { .. })), "{f:?}");
        pool.apply_fix(f).await.expect("mark");
    }
    for lost in [lost_a, lost_b] {
        let row = pool.get(&lost.id).await.expect("get").expect("row");
        assert_eq!(row.status, AliasStatus::Unroutable);
        assert!(row.in_use, "older tools skip it too");
        assert!(
            row.unroutable_reason.contains(MAILBOX),
            "{}",
            row.unroutable_reason
        );
    }
    let again = pool
        .audit(None, Some(ExchangeInput::Known(&exchange)))
        .await
        .expect("audit");
    assert!(again.findings.is_empty(), "{:?}", again.findings);

    // An older tool resets in_use on one of them; the status still rules.
    let (_, etag) = raw.get(&lost_a.id).await.expect("row");
    assert!(
        raw.merge_if_match(&lost_a.id, &serde_json::json!({"in_use": false}), &etag)
            .await
    );
    let stats = pool.stats(None).await.expect("stats");
    assert_eq!((stats.all.claimable(), stats.all.unusable), (1, 2));
    let first = pool.claim(&store_claim()).await.expect("claim");
    assert_eq!(first.alias.id, routed.id);
    let err = pool
        .claim(&store_claim())
        .await
        .expect_err("nothing routable left");
    assert!(matches!(err, StoreError::PoolExhausted { .. }), "{err}");

    // The mailbox gets one of the addresses: it goes back into the pool.
    let exchange = [mailbox(&[&routed.aws_mail, &lost_b.aws_mail])];
    let report = pool
        .audit(None, Some(ExchangeInput::Known(&exchange)))
        .await
        .expect("audit");
    let back = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::RoutableAgain)
        .expect("routable again");
    assert_eq!(back.email, lost_b.aws_mail);
    pool.apply_fix(back).await.expect("return");
    let row = pool.get(&lost_b.id).await.expect("get").expect("row");
    assert_eq!((row.status, row.in_use), (AliasStatus::Free, false));
    assert_eq!(
        pool.claim(&store_claim()).await.expect("claim").alias.id,
        lost_b.id
    );

    // An address the table lacks is imported only when the AWS accounts
    // were compared (here: the one account uses another address).
    let management = [OrgAccount {
        id: "111111111111".into(),
        email: "root@company.com".into(),
        name: "management".into(),
        state: "ACTIVE".into(),
    }];
    let exchange = [mailbox(&[
        &routed.aws_mail,
        &lost_b.aws_mail,
        "aws_new@company.com",
    ])];
    let report = pool
        .audit(Some(&management), Some(ExchangeInput::Known(&exchange)))
        .await
        .expect("audit");
    let unpooled = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::UnpooledAddress)
        .expect("unpooled");
    pool.apply_fix(unpooled).await.expect("import");
    let imported = pool
        .find_by_email("AWS_NEW@company.com")
        .await
        .expect("find")
        .expect("imported");
    assert_eq!(imported.status, AliasStatus::Free);
    assert_eq!(imported.root_mailbox, MAILBOX);
}

/// Two audits that both found an address the table lacks (two nightly
/// runs, a person and a pipeline) import it once: the one that comes second
/// finds the row, and two racing past that look-up pick the same row key,
/// so the table keeps one of them. The other fixes are refused as changed.
#[tokio::test]
async fn an_address_two_audits_import_at_once_becomes_one_row() {
    let table = azurite::unique_table_name("importonce");
    let config = StoreConfig::emulator(azurite::shared().endpoint(), table);
    let pool = AliasPool::connect(&config).expect("connect");
    pool.ensure_table().await.expect("table");
    let rows = pool.seed(MAILBOX, "company.com", 1).await.expect("seed");
    let management = [OrgAccount {
        id: "111111111111".into(),
        email: "root@company.com".into(),
        name: "management".into(),
        state: "ACTIVE".into(),
    }];
    let exchange = [mailbox(&[&rows[0].aws_mail, "aws_new@company.com"])];
    let unpooled = || async {
        pool.audit(Some(&management), Some(ExchangeInput::Known(&exchange)))
            .await
            .expect("audit")
            .findings
            .into_iter()
            .find(|f| f.kind == FindingKind::UnpooledAddress)
            .expect("unpooled")
    };
    // Four audits see the address missing before any of them fixes it.
    let seen = [
        unpooled().await,
        unpooled().await,
        unpooled().await,
        unpooled().await,
    ];
    assert!(
        matches!(seen[0].fix, Some(Fix::Import { .. })),
        "{:?}",
        seen[0]
    );

    // Two fix at the same moment, then the other two.
    let (a, b) = tokio::join!(pool.apply_fix(&seen[0]), pool.apply_fix(&seen[1]));
    let later = [
        pool.apply_fix(&seen[2]).await,
        pool.apply_fix(&seen[3]).await,
    ];
    let outcomes = [a, b].into_iter().chain(later).collect::<Vec<_>>();
    let fixed = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(fixed, 1, "{outcomes:?}");
    for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert!(matches!(refused, StoreError::Changed { .. }), "{refused}");
    }
    let all = pool
        .list(&rootmail::store::AliasFilter::default())
        .await
        .expect("list");
    let imported: Vec<&AliasRow> = all
        .iter()
        .filter(|r| r.email.eq_ignore_ascii_case("aws_new@company.com"))
        .collect();
    assert_eq!(imported.len(), 1, "one row: {imported:?}");
    assert_eq!(imported[0].status, AliasStatus::Free);

    // An address an account used, likewise, imported retired once.
    let used = [OrgAccount {
        id: "222222222222".into(),
        email: "AWS_Used@company.com".into(),
        name: "used".into(),
        state: "SUSPENDED".into(),
    }];
    let exchange = [mailbox(&[
        &rows[0].aws_mail,
        "aws_new@company.com",
        "aws_used@company.com",
    ])];
    let retired = || async {
        pool.audit(Some(&used), Some(ExchangeInput::Known(&exchange)))
            .await
            .expect("audit")
            .findings
            .into_iter()
            .find(|f| f.kind == FindingKind::UnpooledAddress)
            .expect("unpooled")
    };
    let (x, y) = (retired().await, retired().await);
    assert!(matches!(x.fix, Some(Fix::ImportRetired { .. })), "{x:?}");
    let (first, second) = tokio::join!(pool.apply_fix(&x), pool.apply_fix(&y));
    assert_eq!(
        [first.is_ok(), second.is_ok()]
            .iter()
            .filter(|ok| **ok)
            .count(),
        1,
        "{first:?} {second:?}"
    );
    let row = pool
        .find_by_email("aws_used@company.com")
        .await
        .expect("one row")
        .expect("imported");
    assert_eq!(
        (row.status, row.used_by.as_str()),
        (AliasStatus::Retired, "222222222222")
    );
}
